"""What the ``scripts/bench_*.py`` benchmarks share (run by hand, never as tests).

Each module does one job:

- :mod:`benchlib.results`: where and when a figure was measured, ``bench/results.json``,
  latency statistics;
- :mod:`benchlib.processes`: ``consent serve`` and anvil as subprocesses, their memory
  and CPU from ``/proc``;
- :mod:`benchlib.profiler`: py-spy of a served process and what its samples show;
- :mod:`benchlib.load`: the load generator firing pre-signed requests (aiohttp);
- :mod:`benchlib.served`: a served ledger's setup through the project's API client
  (``api.client.ConsentApi``): departments, roles, sign-in, a population of residents;
- :mod:`benchlib.presign`: signed bodies and intents made in worker processes, so no
  signature is made inside a measured loop;
- :mod:`benchlib.direct`: the chain itself while the server is stopped: loading
  intents in big batches, counting events, reading consents' terms.

Every signature, digest and batch encoding is the project's own (:mod:`wallets.signing`,
:mod:`ledger.eip712`, :func:`ledger.client.batch_calldata`); nothing here re-implements
them.
"""
