"""Deploy the contracts once per chain and remember where they are.

``deployment.json`` in the data directory names the chain (id and genesis hash), the
contract addresses and their code hashes. :func:`load_or_deploy` reuses a recorded
deployment when the same chain still holds the same code there, deploys afresh on a
new chain (an anvil restarted empty), and refuses to guess when the recorded chain
lost or changed the code.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.types import Nonce
from web3.utils.address import get_create_address

from ledger.artifacts import load_artifact
from ledger.chain import Chain, TransactionSigner
from ledger.codec import to_hex
from ledger.errors import DeploymentError
from ledger.vocabulary import SEED_FIELDS, SEED_PURPOSES, name_to_bytes32

DEPLOYMENT_FILE = "deployment.json"
_DEPLOY_GAS = 8_000_000


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    genesis_hash: str
    directory: str
    ledger: str
    block_number: int
    code_hashes: dict[str, str]
    delegates: str
    emergency: str

    @property
    def contracts(self) -> dict[str, str]:
        """Each contract's address by name, in deployment order."""
        return {
            "ConsentDirectory": self.directory,
            "ConsentLedger": self.ledger,
            "ConsentDelegates": self.delegates,
            "ConsentEmergency": self.emergency,
        }


def genesis_hash(chain: Chain) -> str:
    return to_hex(chain.w3.eth.get_block(0)["hash"])


def deploy(chain: Chain, signer: TransactionSigner, *, admin: str) -> Deployment:
    """Deploy the four contracts in one block: ConsentDirectory (seeded schema, ``admin``,
    ``signer`` as first relayer), then ConsentLedger, ConsentDelegates and ConsentEmergency,
    each told the others' addresses as their creation addresses will be."""
    w3 = chain.w3
    nonce = w3.eth.get_transaction_count(signer.address, "pending")
    directory, ledger, delegates, emergency = (
        to_checksum_address(get_create_address(signer.address, Nonce(nonce + i))) for i in range(4)
    )
    arguments: dict[str, tuple[object, ...]] = {
        "ConsentDirectory": (
            to_checksum_address(admin),
            signer.address,
            [name_to_bytes32(f) for f in SEED_FIELDS],
            [name_to_bytes32(p) for p in SEED_PURPOSES],
        ),
        "ConsentLedger": (directory, delegates),
        "ConsentDelegates": (directory, ledger),
        "ConsentEmergency": (directory, ledger, delegates),
    }
    txs = []
    for offset, (name, args) in enumerate(arguments.items()):
        artifact = load_artifact(name)
        constructor = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(
            *args
        )
        data = constructor.data_in_transaction
        # Constructors only store their arguments, so each estimates on its own; the
        # four must fit one block together.
        gas = int(w3.eth.estimate_gas({"from": signer.address, "data": data}) * 1.2)
        txs.append({"data": data, "gas": min(gas, _DEPLOY_GAS), "nonce": nonce + offset})
    try:
        receipts = chain.send_raw_transactions(signer.sign_many(chain, txs))
    finally:
        signer.resync()
    expected = (directory, ledger, delegates, emergency)
    for name, receipt, address in zip(arguments, receipts, expected, strict=True):
        if receipt["status"] != 1:
            raise DeploymentError(
                f"deploying {name} reverted (tx {receipt['transactionHash'].hex()})"
            )
        deployed = receipt["contractAddress"]
        if deployed is None or to_checksum_address(deployed) != address:
            raise DeploymentError(f"{name} deployed at {deployed}, expected {address}")
    return Deployment(
        chain_id=chain.chain_id,
        genesis_hash=genesis_hash(chain),
        directory=directory,
        ledger=ledger,
        delegates=delegates,
        emergency=emergency,
        block_number=int(receipts[0]["blockNumber"]),
        code_hashes={name: _code_hash(w3, a) for name, a in zip(arguments, expected, strict=True)},
    )


def load_or_deploy(
    chain: Chain, signer: TransactionSigner, *, data_dir: Path, admin: str
) -> tuple[Deployment, bool]:
    """The recorded deployment if it is live on this chain, else a new one; ``(d, deployed)``."""
    path = Path(data_dir) / DEPLOYMENT_FILE
    recorded = read_deployment(path)
    if recorded is not None and recorded.genesis_hash == genesis_hash(chain):
        verify(chain, recorded)
        return recorded, False
    deployment = deploy(chain, signer, admin=admin)
    write_deployment(path, deployment)
    return deployment, True


def verify(chain: Chain, deployment: Deployment) -> None:
    """Raise unless the chain holds the recorded code at the recorded addresses."""
    if chain.chain_id != deployment.chain_id:
        raise DeploymentError(
            f"chain id {chain.chain_id} differs from the recorded {deployment.chain_id}"
        )
    for name, address in deployment.contracts.items():
        actual = _code_hash(chain.w3, address)
        if actual != deployment.code_hashes[name]:
            raise DeploymentError(
                f"{name} at {address} has code hash {actual}, recorded "
                f"{deployment.code_hashes[name]}: the chain or the deployment file changed"
            )


def read_deployment(path: Path) -> Deployment | None:
    if not path.exists():
        return None
    try:
        return Deployment(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise DeploymentError(f"{path} is not a deployment record: {exc}") from exc


def write_deployment(path: Path, deployment: Deployment) -> None:
    """Write atomically: a crash leaves the old record or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    os.replace(tmp, path)


def _code_hash(w3: Web3, address: str) -> str:
    return to_hex(keccak(bytes(w3.eth.get_code(to_checksum_address(address)))))
