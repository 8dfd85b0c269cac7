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

    @property
    def contracts(self) -> dict[str, str]:
        return {"ConsentDirectory": self.directory, "ConsentLedger": self.ledger}


def genesis_hash(chain: Chain) -> str:
    return to_hex(chain.w3.eth.get_block(0)["hash"])


def deploy(chain: Chain, signer: TransactionSigner, *, admin: str) -> Deployment:
    """Deploy ConsentDirectory (seeded schema, ``admin``, ``signer`` as first relayer) and
    ConsentLedger in one block."""
    w3 = chain.w3
    directory_artifact = load_artifact("ConsentDirectory")
    ledger_artifact = load_artifact("ConsentLedger")
    nonce = w3.eth.get_transaction_count(signer.address, "pending")
    directory_address = to_checksum_address(get_create_address(signer.address, nonce))
    directory_deploy = w3.eth.contract(
        abi=directory_artifact.abi, bytecode=directory_artifact.bytecode
    ).constructor(
        to_checksum_address(admin),
        signer.address,
        [name_to_bytes32(f) for f in SEED_FIELDS],
        [name_to_bytes32(p) for p in SEED_PURPOSES],
    )
    ledger_deploy = w3.eth.contract(
        abi=ledger_artifact.abi, bytecode=ledger_artifact.bytecode
    ).constructor(directory_address)
    txs = [
        {"data": directory_deploy.data_in_transaction, "gas": _DEPLOY_GAS, "nonce": nonce},
        {"data": ledger_deploy.data_in_transaction, "gas": _DEPLOY_GAS, "nonce": nonce + 1},
    ]
    try:
        receipts = chain.send_raw_transactions(signer.sign_many(chain, txs))
    finally:
        signer.resync()
    for name, receipt in zip(("ConsentDirectory", "ConsentLedger"), receipts, strict=True):
        if receipt["status"] != 1:
            raise DeploymentError(
                f"deploying {name} reverted (tx {receipt['transactionHash'].hex()})"
            )
    addresses = []
    for receipt in receipts:
        address = receipt["contractAddress"]
        if address is None:
            raise DeploymentError("a deployment receipt names no contract address")
        addresses.append(to_checksum_address(address))
    directory, ledger = addresses
    if directory != directory_address:
        raise DeploymentError(f"directory deployed at {directory}, expected {directory_address}")
    return Deployment(
        chain_id=chain.chain_id,
        genesis_hash=genesis_hash(chain),
        directory=directory,
        ledger=ledger,
        block_number=int(receipts[0]["blockNumber"]),
        code_hashes={
            "ConsentDirectory": _code_hash(w3, directory),
            "ConsentLedger": _code_hash(w3, ledger),
        },
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
