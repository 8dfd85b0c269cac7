"""Shapes of services (one life event several departments serve) and of the bundles
that grant one in a single act (:mod:`api.routers.bundles`, ``/admin/services``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import ReceiptOut, SignedBody
from api.schemas.consents import ConsentOut, WrappedKeys
from ledger.admission import MAX_SERVICE_ITEMS
from ledger.store import UINT64_MAX


class ServiceItemOut(BaseModel):
    """The most a bundle item for its department may ask."""

    department: str
    department_name: str | None
    #: Field and purpose by schema name (0x-hex for a ``bytes32`` that is not one).
    fields: list[str]
    purpose: str
    #: The longest window a consent of it may have, in seconds.
    duration: int
    #: The most uses a consent of it may allow; 0: no cap.
    max_uses: int


class ServiceOut(BaseModel):
    service: str
    name: str
    items: list[ServiceItemOut]
    defined_at: int
    receipt: ReceiptOut


class ServiceList(BaseModel):
    services: list[ServiceOut]


class DefineServiceBody(SignedBody):
    intent = "DefineService"


class GrantBundleBody(SignedBody):
    intent = "GrantBundle"
    #: For each department of the bundle, the keys of the fields its items grant, each
    #: wrapped for that department's published key.
    wrapped_keys: Annotated[
        dict[str, WrappedKeys],
        Field(
            max_length=MAX_SERVICE_ITEMS,
            description="department address → {field: key wrapped for that department}",
        ),
    ]
    version: Annotated[
        int | None,
        Field(
            ge=1,
            le=UINT64_MAX,
            description="the record version the wrapped keys open (default: the newest)",
        ),
    ] = None


class BundleGranted(BaseModel):
    bundle_id: int
    #: One consent per item, in the items' order.
    consent_ids: list[int]
    tx_hash: str
    block_number: int
    receipt: ReceiptOut


class RevokeBundleBody(SignedBody):
    intent = "RevokeBundle"


class BundleRevoked(BaseModel):
    bundle_id: int
    #: The bundle's consents this revocation ended (those still in force).
    revoked: list[int]
    status: str
    receipt: ReceiptOut


class BundleOut(BaseModel):
    bundle_id: int
    resident: str
    service: str
    #: The service's name as defined now (a redefinition may rename it).
    service_name: str | None
    #: ``active`` while any consent of it is in force, else ``revoked`` (one act ended
    #: it) or ``ended`` (its consents expired, were used up or revoked one by one).
    status: str
    granted_at: int
    revoked_at: int | None
    receipt: ReceiptOut
    consents: list[ConsentOut]
