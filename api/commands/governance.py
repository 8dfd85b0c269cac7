"""The setting-up side: ``consent admin department|role``, ``consent enroll``, ``consent attest``.

Each is a signed intent posted by the actor who holds the authority: the admin
registers departments and grants roles, a registrar enrols residents, an issuer
attests a field value it knows (value and salt).
"""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from api.client import id_commitment
from api.commands.common import (
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    CommandFailed,
    PasswordFileOption,
    WalletOption,
    api_session,
    describe_receipt,
    err,
    handled,
    out,
    split_names,
)
from wallets.encoding import from_hex

admin_app = typer.Typer(help="Governance (admin wallet): departments and roles.")

HexKey = Annotated[
    str, typer.Option("--encryption-key", help="Its X25519 public key, 0x-hex (wallet show).")
]


@admin_app.command("department")
@handled
def register_department(
    address: Annotated[str, typer.Argument(help="The department's account.")],
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Housing Bureau'.")],
    code: Annotated[str, typer.Option(help="Short code, e.g. HB.")],
    encryption_key: HexKey,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Register a department with its published encryption key."""
    with api_session(api, wallet, password_file) as client, err.status("registering on chain…"):
        answer = client.register_department(address, name, code, encryption_key)
    out.print(f"department {answer['department']} registered")
    out.print(f"  {describe_receipt(answer['receipt'])}")


@admin_app.command("role")
@handled
def grant_role(
    role: Annotated[str, typer.Argument(help="registrar, issuer or auditor.")],
    account: Annotated[str, typer.Argument(help="The account to receive it.")],
    fields: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="Issuers: the fields they attest.")
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Make ACCOUNT a registrar, an issuer (for --field ...) or an auditor."""
    names = split_names(fields)
    if (role == "issuer") != bool(names):
        raise CommandFailed("an issuer needs --field (one or more); other roles take none")
    with api_session(api, wallet, password_file) as client, err.status("granting on chain…"):
        answer = client.grant_role(role, account, names)
    out.print(f"{answer['account']} is now {answer['role']}")
    out.print(f"  {describe_receipt(answer['receipt'])}")


@handled
def enroll(
    resident: Annotated[str, typer.Argument(help="The resident's account.")],
    encryption_key: HexKey,
    id_number: Annotated[
        str, typer.Option(help="The ID number; only a salted commitment goes on chain.")
    ],
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(registrar) Enrol a resident."""
    salt = secrets.token_bytes(32)
    with api_session(api, wallet, password_file) as client, err.status("enrolling on chain…"):
        answer = client.enroll_resident(resident, id_commitment(id_number, salt), encryption_key)
    out.print(f"resident {answer['resident']} enrolled")
    out.print(f"  commitment salt (keep it with the registration file): 0x{salt.hex()}")
    out.print(f"  {describe_receipt(answer['receipt'])}")


@handled
def attest(
    resident: Annotated[str, typer.Argument(help="The resident's account.")],
    field: Annotated[str, typer.Argument(help="The schema field.")],
    value: Annotated[str, typer.Option(help="The value you vouch for.")],
    salt: Annotated[str, typer.Option(help="The field's salt in the resident's record.")],
    version: Annotated[int, typer.Option(min=1, help="The record version holding it.")],
    days: Annotated[int, typer.Option(min=1, help="Valid for this many days.")] = 365,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(issuer) Sign a salted commitment to a field's value and store it with the record."""
    salt_bytes = from_hex(salt, length=32, what="--salt")
    with (
        api_session(api, wallet, password_file) as client,
        err.status("signing and storing the attestation…"),
    ):
        answer = client.attest(resident, field, value, salt_bytes, version, valid_for=days * 86_400)
    out.print(
        f"attested {answer.get('field', field)} of {answer.get('resident', resident)}"
        f" (version {answer.get('version', version)}): commitment {answer.get('commitment')}"
    )
