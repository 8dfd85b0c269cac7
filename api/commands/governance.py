"""The governance side: ``consent admin department|role|issuer``, ``consent enroll``,
``consent attest``.

Each is a signed intent posted by the actor who holds the authority: the admin
registers, suspends and resumes departments and rotates their keys, grants and revokes
roles and ends issuers' trust; a registrar enrols residents; an issuer attests a field
value it knows (value and salt)::

    consent admin department ADDRESS --name … --code … --encryption-key …   (register)
    consent admin department suspend|resume ADDRESS
    consent admin department rotate-key ADDRESS --encryption-key …
    consent admin role ROLE ACCOUNT [--field …]                           (grant)
    consent admin role revoke ROLE ACCOUNT
    consent admin issuer distrust ISSUER --field …
    consent admin service define SERVICE --name … --item …   (api.commands.services)
    consent admin service list
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from api.client import ConsentApi
from api.client_governance import id_commitment
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
from api.commands.services import service_app
from ledger.codec import from_hex, to_hex


def _defaulting_to(command: str) -> type[TyperGroup]:
    """A command group whose first argument, when it names none of its commands, goes to
    ``command``: ``admin department ADDRESS …`` registers, as it did before the group had
    ``suspend`` and the rest (no address or role is spelt like a command)."""

    class Group(TyperGroup):
        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            if args and args[0] not in self.commands and not args[0].startswith("-"):
                args = [command, *args]
            return super().parse_args(ctx, args)

    return Group


admin_app = typer.Typer(
    help="Governance (admin wallet): departments, roles, issuers, policies and services."
)
department_app = typer.Typer(
    cls=_defaulting_to("register"),
    help="Register, suspend or resume a department, or rotate its key.",
)
role_app = typer.Typer(cls=_defaulting_to("grant"), help="Grant or revoke a role.")
issuer_app = typer.Typer(help="End an issuer's trust.")
policy_app = typer.Typer(help="Purpose policies: the fields a purpose may cover, for how long.")
admin_app.add_typer(department_app, name="department")
admin_app.add_typer(role_app, name="role")
admin_app.add_typer(issuer_app, name="issuer")
admin_app.add_typer(policy_app, name="policy")
admin_app.add_typer(service_app, name="service")

HexKey = Annotated[
    str, typer.Option("--encryption-key", help="Its X25519 public key, 0x-hex (wallet show).")
]
Address = Annotated[str, typer.Argument(help="The department's account.")]


def _send(
    api: str,
    wallet: Any,
    password_file: Any,
    doing: str,
    call: Callable[[ConsentApi], dict[str, Any]],
    said: Callable[[dict[str, Any]], str],
) -> None:
    """One admin intent: sign in, send it while saying ``doing``, then say what the chain
    recorded and its receipt."""
    with api_session(api, wallet, password_file) as client, err.status(doing):
        answer = call(client)
    out.print(said(answer))
    out.print(f"  {describe_receipt(answer['receipt'])}")


@department_app.command("register")
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
    _send(
        api,
        wallet,
        password_file,
        "registering on chain…",
        lambda client: client.register_department(address, name, code, encryption_key),
        lambda answer: f"department {answer['department']} registered",
    )


@department_app.command("suspend")
@handled
def suspend_department(
    address: Address,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Suspend a department: from the next block its queries are refused on chain."""
    _send(
        api,
        wallet,
        password_file,
        "suspending on chain…",
        lambda client: client.set_department_active(address, False),
        lambda answer: f"department {answer['department']} suspended",
    )


@department_app.command("resume")
@handled
def resume_department(
    address: Address,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Reinstate a suspended department."""
    _send(
        api,
        wallet,
        password_file,
        "reinstating on chain…",
        lambda client: client.set_department_active(address, True),
        lambda answer: f"department {answer['department']} active again",
    )


@department_app.command("rotate-key")
@handled
def rotate_department_key(
    address: Address,
    encryption_key: HexKey,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Publish a department's new encryption key: grants from now on wrap for it."""
    _send(
        api,
        wallet,
        password_file,
        "rotating on chain…",
        lambda client: client.rotate_department_key(address, encryption_key),
        lambda answer: (
            f"department {answer['department']} now publishes {answer['encryption_key']}"
        ),
    )


@role_app.command("grant")
@handled
def grant_role(
    role: Annotated[str, typer.Argument(help="registrar, issuer, auditor or emergency.")],
    account: Annotated[str, typer.Argument(help="The account to receive it.")],
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-f",
            help="Issuers: the fields they attest; an emergency department: those it may read.",
        ),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Make ACCOUNT a registrar, an issuer (for --field ...), an auditor, or (a
    department) the emergency department for --field ..."""
    names = split_names(fields)
    if (role in ("issuer", "emergency")) != bool(names):
        raise CommandFailed(
            "an issuer needs --field (one or more), and so does an emergency department;"
            " other roles take none"
        )
    _send(
        api,
        wallet,
        password_file,
        "granting on chain…",
        lambda client: client.grant_role(role, account, names),
        lambda answer: f"{answer['account']} is now {answer['role']}",
    )


@role_app.command("revoke")
@handled
def revoke_role(
    role: Annotated[str, typer.Argument(help="registrar, issuer, auditor or department.")],
    account: Annotated[str, typer.Argument(help="The account to lose it.")],
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Take ROLE away from ACCOUNT (an issuer's trust ends; a department stays off)."""
    _send(
        api,
        wallet,
        password_file,
        "revoking on chain…",
        lambda client: client.revoke_role(role, account),
        lambda answer: f"{answer['account']} is no longer {answer['role']}",
    )


@policy_app.command("set")
@handled
def set_policy(
    purpose: Annotated[str, typer.Argument(help="The purpose code (consent schema).")],
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="A field the purpose may cover (repeat); none: any."),
    ] = None,
    max_days: Annotated[
        float, typer.Option("--max-days", min=0, help="The longest consent or request; 0: any.")
    ] = 0,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Hold PURPOSE to --field ... and --max-days from now on; consents granted stay as they are."""
    names = split_names(fields)

    def said(answer: dict[str, Any]) -> str:
        covered = ", ".join(answer["fields"]) or "any field"
        days = answer["max_duration"] / 86_400
        longest = f"at most {days:g} days" if answer["max_duration"] else "no time limit"
        return f"policy for {answer['purpose']}: {covered}; {longest}"

    _send(
        api,
        wallet,
        password_file,
        "setting the policy on chain…",
        lambda client: client.set_purpose_policy(
            client.schema_name("purposes", purpose),
            client.field_names(names) if names else [],
            round(max_days * 86_400),
        ),
        said,
    )


@issuer_app.command("distrust")
@handled
def distrust_issuer(
    issuer: Annotated[str, typer.Argument(help="The issuer's account.")],
    fields: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="The fields to stop trusting it for.")
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """End ISSUER's trust for --field ...: the chain records no new attestation of them."""
    names = split_names(fields)
    if not names:
        raise CommandFailed("name the fields to distrust the issuer for with --field")
    _send(
        api,
        wallet,
        password_file,
        "distrusting on chain…",
        lambda client: client.distrust_issuer(issuer, names),
        lambda answer: f"{answer['issuer']} no longer trusted for {', '.join(answer['fields'])}",
    )


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
    out.print(f"  commitment salt (keep it with the registration file): {to_hex(salt)}")
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
