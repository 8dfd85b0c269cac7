"""The order a round's intents reach the chain in: as few batches as keep the order that matters.

The relayer accepts intents one after another and answers each with the block that
records it, so the chain must judge every intent against the state its predecessors
left: an ``Access`` accepted after its consent's ``Revoke`` must be denied ``revoked``.
Grouping a round by type (one batch transaction per type) loses that order: a later
query's batch can run before an earlier revocation's. One transaction per intent keeps
it but gives up batching, which is most of the relayer's throughput.

The rule. Two intents *conflict* when one's outcome can depend on the other:

- both name the same resident (a message's ``resident``, or the resident of the consent
  terms an ``Access``/``Revoke`` carries), or the same consent (``consentId``): enrolment
  before records and grants, a request before the grant that answers it, a grant's
  record version, a revocation before queries, a consent's use count; or the same
  request (a non-zero ``requestId``): a grant, decline or withdrawal answers it once;
- one is signed by an authority its message does not name (``signer_field`` empty in
  :data:`ledger.intents.INTENTS`: the admin's ``RegisterDepartment`` and ``GrantRole``,
  and any admin intent added there later). Those decide who may do what — a
  department's registration, a role, a key — so they are *barriers*: they conflict
  with everything before and after them. The one exception is the registrar's
  ``EnrollResident`` (:data:`RESIDENT_SCOPED`): it changes only the resident it names,
  who can act from then on, so it conflicts through that resident like the rest, and
  a run of enrolments among other intents stays one batch.

Intents that do not conflict commute: each touches only its own resident's and
consents' state and its signer's nonce bit (the relayer never has two intents with one
signer's nonce in flight), so running them in either order gives the same outcomes —
up to the numbering of new consents, which follows execution order and which no caller
relies on. A department's status changes only by the admin (a barrier here, or a direct
transaction outside any round).

The schedule, greedy and in acceptance order: each intent joins the last batch of its
type if that batch comes at or after every batch holding an earlier intent it conflicts
with, else it starts a new batch at the end. Within a batch the contract runs intents in
batch order, so joining after a conflicting one keeps their order; the batches go out in
list order in one block, ordered by the relayer account's nonces. Hence for every
conflicting pair the earlier-accepted one runs first, and since an intent joins the
existing batch whenever order allows, a round whose intents commute is still one batch
per type: e.g. a thousand grants by a thousand residents are one transaction, and 200
queries of one consent with its revocation accepted in the middle are three
(queries, revocation, queries).
"""

from __future__ import annotations

from collections.abc import Hashable

from ledger.codec import as_bytes
from ledger.intents import INTENTS
from ledger.types import SignedIntent

#: What an intent names, for the conflict rule; ``None`` for a barrier.
Keys = frozenset[Hashable] | None

#: Intents whose signer no message field names but whose effect is confined to the
#: resident they name: not barriers. Every other such intent is one, new ones included.
RESIDENT_SCOPED = frozenset({"EnrollResident"})


def conflict_keys(intent: SignedIntent) -> Keys:
    """The residents, consents and requests ``intent`` names, or ``None`` if it is a barrier."""
    if not INTENTS[intent.name].signer_field and intent.name not in RESIDENT_SCOPED:
        return None
    message = intent.message
    keys: set[Hashable] = set()
    if "resident" in message:
        keys.add(("resident", str(message["resident"]).lower()))
    if "consentId" in message:
        keys.add(("consent", int(message["consentId"])))
    request = message.get("requestId")
    if request is not None and as_bytes(request) != bytes(32):
        keys.add(("request", as_bytes(request)))
    terms = intent.terms if isinstance(intent.terms, tuple) else (intent.terms,)
    keys.update(("resident", str(t.resident).lower()) for t in terms if t is not None)
    return frozenset(keys)


class Schedule:
    """Batches ``(intent type, [indexes])`` in the order they go out, built one intent at
    a time (see the module docstring for the rule and why it holds)."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self._last_of_type: dict[str, int] = {}
        #: For each key, the last batch holding an intent that names it.
        self._last_naming: dict[Hashable, int] = {}
        self._last_barrier = -1

    def target(self, name: str, keys: Keys) -> int:
        """The batch an intent would join; ``len(self.batches)`` for a new one."""
        if keys is None:
            after = len(self.batches) - 1
        else:
            after = max((self._last_naming.get(k, -1) for k in keys), default=-1)
            after = max(after, self._last_barrier)
        last = self._last_of_type.get(name, -1)
        return last if last >= 0 and last >= after else len(self.batches)

    def add(self, index: int, name: str, keys: Keys) -> int:
        """Place intent ``index``; returns its batch."""
        batch = self.target(name, keys)
        if batch == len(self.batches):
            self.batches.append((name, []))
            self._last_of_type[name] = batch
        self.batches[batch][1].append(index)
        if keys is None:
            self._last_barrier = batch
        else:
            for key in keys:
                self._last_naming[key] = batch
        return batch
