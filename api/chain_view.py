"""Direct reads of the contracts, from a node the wallet chooses rather than the API.

The department checks attestations against the *chain's* record of them and its trust
list, and a wallet the record root and department keys against the chain's, never
against what the API says: :class:`ChainView` reads all of them through any web3
provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.codec import checksum_address


class ChainView:
    """Reads the contracts directly: the issuer trust list and record commitments.

    ``w3`` is any ``web3.Web3`` (an HTTP provider for an external node, or the embedded
    chain's own); ``contracts`` maps ``ConsentDirectory``/``ConsentLedger`` to addresses;
    ``caller`` is a funded address to call from (eth-tester needs one, nodes do not).
    """

    def __init__(self, w3: Any, contracts: Mapping[str, str], *, caller: str | None = None) -> None:
        from ledger.artifacts import load_artifact

        self._directory = w3.eth.contract(
            address=checksum_address(contracts["ConsentDirectory"]),
            abi=load_artifact("ConsentDirectory").abi,
        )
        self._ledger = w3.eth.contract(
            address=checksum_address(contracts["ConsentLedger"]),
            abi=load_artifact("ConsentLedger").abi,
        )
        # eth-tester wants a funded sender even for views (``caller``); nodes need none.
        self._call: dict[str, Any] = {} if caller is None else {"from": checksum_address(caller)}

    @classmethod
    def connect(cls, url: str, contracts: Mapping[str, str], *, timeout: float = 30) -> ChainView:
        from web3 import Web3

        return cls(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout})), contracts)

    def is_trusted(self, issuer: str, field_id: bytes, at: int) -> bool:
        """``ConsentDirectory.isTrustedIssuer(issuer, field, at)``."""
        fn = self._directory.functions.isTrustedIssuer(checksum_address(issuer), field_id, at)
        return bool(fn.call(self._call))

    def attestation_recorded_at(self, digest: bytes) -> int:
        """``ConsentDirectory.attestationRecordedAt(digest)``: when the chain recorded the
        attestation (and judged its issuer's trust); 0 if it never did."""
        return int(self._directory.functions.attestationRecordedAt(digest).call(self._call))

    def record(self, resident: str) -> tuple[int, bytes]:
        """``(version, root)`` of the resident's latest commitment on chain."""
        _commitment, root, version = self._ledger.functions.resident(
            checksum_address(resident)
        ).call(self._call)
        return int(version), bytes(root)

    def department_key(self, department: str) -> bytes:
        """The encryption key ``ConsentDirectory.department(department)`` publishes."""
        entry = self._directory.functions.department(checksum_address(department)).call(self._call)
        return bytes(entry[2])
