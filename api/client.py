"""A wallet's client of the HTTP API: sign in, sign intents, call every endpoint.

:class:`ConsentApi` speaks DESIGN's "HTTP API" over httpx, one method per endpoint
returning the parsed JSON, and the wallet-level helpers (:meth:`~ConsentApi.upload_record`,
:meth:`~ConsentApi.restore_record`, :meth:`~ConsentApi.grant`, :meth:`~ConsentApi.revoke`,
:meth:`~ConsentApi.query`) do the cryptography of :mod:`wallets` around them, so
plaintext and field keys never leave the process. It is assembled from one module per
job, each class adding to the one before::

    ApiTransport      api.client_transport   JSON over HTTP, problem documents, pages
    ApiSession        api.client_sign_in     the identity, its sign-in and bearer token
    SigningSession    api.client_signing     published reads, schema ids, pinned domain,
                                             signing intents, the relayer's acceptances
    RecordFlows       api.client_records     a resident's record; an issuer's attestation
    ConsentFlows      api.client_consents    grant, revoke, rotate; the consents held
    DelegateFlows     api.client_delegates   delegates appointed, listed, removed (and the
                                             record rotated); acting for a resident
    BundleFlows       api.client_bundles     services; a bundle granted, read, revoked
    QueryFlows        api.client_queries     a department's requests and queries
    EmergencyFlows    api.client_emergency   directives, emergency accesses, reviews
    GovernanceFlows   api.client_governance  admin, registrar, auditor
    NotificationFlows api.client_notifications  the caller's feed; its live stream followed

Errors are in :mod:`api.client_errors`; direct reads of the chain in
:mod:`api.chain_view`.

Trust: the department checks attestations against the *chain's* record of them and
its trust list and, when it can, the record root against the *chain's* commitment, never
against what the API says. :class:`~api.chain_view.ChainView` reads all three through
any web3 provider; :meth:`ConsentApi.query` takes its ``is_trusted`` and
``attestation_recorded_at`` (or ``None``: attestations are then reported "unverified").

Nor does a wallet take the server's word for what it encrypts for or reads back
(:mod:`wallets.trust`, with the anchors pinned in ``pins``): it wraps keys only for a
department key the pinned admin signed (or that the chain holds, with ``chain``), opens
its record only when the envelopes hash to the root of its own signed ``CommitRecord``,
and reads a consent's terms only as its resident's ``Grant`` signs them
(:meth:`~ConsentApi.checked_consent`); it signs only for the pinned chain and contracts.
Every signed write's answer carries the relayer's acceptance (:mod:`ledger.acceptance`),
checked against the intent sent and kept through ``keep_acceptance``.
"""

from __future__ import annotations

from api.client_bundles import BundleFlows
from api.client_delegates import DelegateFlows
from api.client_emergency import EmergencyFlows
from api.client_governance import GovernanceFlows
from api.client_notifications import NotificationFlows


class ConsentApi(DelegateFlows, BundleFlows, EmergencyFlows, GovernanceFlows, NotificationFlows):
    """The HTTP API as a wallet sees it. Use as a context manager or call :meth:`close`.

    ``ConsentApi(base_url, identity, *, timeout, transport, pins, chain, notice,
    keep_acceptance)``: see :class:`~api.client_signing.SigningSession`.
    """
