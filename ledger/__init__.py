"""Chain backends, deployment, typed contract clients and intents."""

import importlib.util
import os

# eth-hash takes the first backend it finds installed, pycryptodome, unless told; pysha3
# (safe-pysha3) hashes about 7x faster, and py-evm, eth-account and web3 hash many times
# per request. Set before anything hashes: eth-hash chooses on its first use.
if importlib.util.find_spec("sha3") is not None:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
