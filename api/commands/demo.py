"""``consent demo``: the whole story end to end, narrated, on a throwaway data directory.

The demo starts its own node (embedded chain, contracts deployed on first start) and
serves the API in-process on a free 127.0.0.1 port; every actor then works through
the HTTP API with :class:`api.client.ConsentApi`, as any wallet would. The one step
that is not an HTTP call is moving chain time forward (the demo owns the node);
the department's checks of attestations and record roots read the chain directly
(trust the chain, not the API), as ``consent query --chain-url`` does.

Every step states what should happen and checks it; the demo exits 0 only if each
did, and otherwise prints what happened instead and exits 1.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.chain_view import ChainView
from api.client import ConsentApi
from api.client_bundles import narrow_item
from api.client_governance import id_commitment
from api.commands.common import describe_receipt, escape, short
from api.commands.demo_care import care_chapters
from api.commands.demo_support import Actor, Mismatch, Story, serve_in_thread
from api.commands.lists import access_log_table
from ledger.codec import to_hex
from wallets.attestation import commitment
from wallets.identity import Identity

DAY = 86_400
#: scrypt cost of the demo's throwaway identities (the node's admin keeps the default).
DEMO_SCRYPT_N = 2**12


# ---------------------------------------------------------------------------- story


RECORD = {
    "name": "Li Wei",
    "birth_date": "1990-03-07",
    "address": "12 Wenxin Street, Xihu District, Hangzhou",
    "phone": "+86 138 0013 8000",
    "marital_status": "married",
    "income": "86000 CNY/year",
}
ISSUED = {
    "id_number": "330106199003074512",
    "household_registration": "Hangzhou, Xihu District, Wenxin Street Community",
}
HOUSING_FIELDS = ["household_registration", "id_number", "income"]
#: Run at most once (最多跑一次): the life event, its departments (cast slug, code) and
#: the most each may be granted: fields, purpose, duration, uses (0: no cap).
SERVICE = "NEWBORN_REGISTRATION"
SERVICE_NAME = "新生儿出生登记 (newborn registration)"
NEWBORN_CAST = ("civil", "social")
NEWBORN_ITEMS: tuple[tuple[str, list[str], str, int, int], ...] = (
    ("CA", ["address", "household_registration", "marital_status"], "SOCIAL_ASSISTANCE", 30, 0),
    ("HC", ["birth_date", "name"], "HEALTHCARE", 10, 3),
    ("SI", ["id_number", "income"], "HEALTHCARE", 60, 0),
)


def run_demo(
    data_dir: Path | None = None,
    *,
    block_period: float = 1.0,
    chain_url: str | None = None,
    console: Console | None = None,
) -> bool:
    """Tell the story; ``True`` if every step behaved as told."""
    if console is None:
        # Narration lines wrap in the terminal; tables get room when output is captured.
        console = Console(highlight=False, soft_wrap=True)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = max(console.width, 120)
    story = Story(console)
    kept = data_dir is not None
    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="consent-")))
        elif data_dir.exists() and any(data_dir.iterdir()):
            console.print(f"[red]error:[/red] {data_dir} is not empty; the demo needs a fresh one")
            return False
        try:
            _tell(story, stack, data_dir, block_period, chain_url)
        except Mismatch as exc:
            console.print(f"\n[red]✗ step {story.chapter_no} went wrong[/red] — {escape(str(exc))}")
            return False
        except Exception as exc:
            console.print(
                f"\n[red]✗ step {story.chapter_no} failed[/red] —"
                f" {type(exc).__name__}: {escape(str(exc))}"
            )
            if os.environ.get("CONSENT_DEBUG"):
                console.print_exception()
            return False
    console.print(
        f"\n[bold green]The story held: {story.checks} checks passed.[/bold green]"
        " Every read and every refusal is on chain, and the auditor can prove it."
    )
    if kept:
        console.print(
            f"The ledger stays in {data_dir}: `consent serve --data-dir {data_dir}`; the cast's"
            f" wallets are in {data_dir}/wallets (password files beside them)."
        )
    return True


def _tell(
    story: Story, stack: ExitStack, data_dir: Path, block_period: float, chain_url: str | None
) -> None:
    from api.node import open_node
    from api.settings import Settings

    story.chapter("A district starts its consent ledger")
    where = f"the node at {chain_url}" if chain_url else "an embedded chain"
    with story.working(f"starting on {where} and deploying the contracts"):
        node = open_node(
            Settings(data_dir=data_dir, block_period=block_period, chain_url=chain_url)
        )
    stack.callback(node.close)
    url = stack.enter_context(serve_in_thread(node))
    story.say(f"API at {url}, chain {node.chain.chain_id}, data in {data_dir}")
    story.say(", ".join(f"{n} {a}" for n, a in node.deployment.contracts.items()))

    def actor(label: str, identity: Identity) -> Actor:
        return Actor(label, identity, stack.enter_context(ConsentApi(url, identity)))

    with story.working("opening the admin keystore the node created"):
        password = (data_dir / "admin.password").read_text().strip()
        admin = actor("Data-governance office (admin)", Identity.load(data_dir / "admin", password))
    cast = _make_cast(data_dir / "wallets")
    housing = actor("Housing Bureau", cast["housing"])
    health = actor("Health Commission", cast["health"])
    issuer = actor("Public Security Bureau (issuer)", cast["issuer"])
    registrar = actor("Civil Affairs Bureau (registrar)", cast["registrar"])
    auditor = actor("Inspection Office (auditor)", cast["auditor"])
    resident = actor("Li Wei (resident)", cast["resident"])
    civil = actor("Civil Affairs Bureau", cast["civil"])
    social = actor("Social Insurance Bureau", cast["social"])
    people = [admin, housing, health, issuer, registrar, auditor, resident, civil, social]
    table = Table("actor", "address", box=None)
    for person in people:
        table.add_row(person.label, person.address)
    story.console.print(table)
    chain = ChainView(node.chain.w3, node.deployment.contracts, caller=node.relayer_key.address)
    story.say(
        "each step shows the command that does it by hand; to run them, first:"
        f" [bold]export CONSENT_API={url} D={data_dir}[/bold]"
    )

    def by(slug: str, *args: str) -> str:
        """``consent ARGS`` as the actor ``slug`` (its wallet and password file)."""
        home = "$D/admin" if slug == "admin" else f"$D/wallets/{slug}"
        words = " ".join(_quote(a) for a in args)
        return f"consent {words} --wallet {home} --password-file {home}.password"

    # -- 2 -----------------------------------------------------------------------
    story.chapter("The admin registers two departments, an issuer, a registrar and an auditor")
    story.say("each is an EIP-712 intent signed by the admin; the API's relayer only submits it")
    story.term("intent", "relayer")
    story.by_hand(
        by(
            "admin",
            "admin",
            "department",
            housing.address,
            "--name",
            housing.label,
            "--code",
            "HB",
            "--encryption-key",
            to_hex(housing.identity.encryption_public_key),
        ),
        by(
            "admin",
            "admin",
            "role",
            "issuer",
            issuer.address,
            "-f",
            "household_registration,id_number",
        ),
        by("admin", "admin", "role", "registrar", registrar.address),
        "consent departments",
    )
    with story.working("registering on chain"):
        for dept, code in ((housing, "HB"), (health, "HC")):
            answer = admin.api.register_department(
                dept.address, dept.label, code, dept.identity.encryption_public_key
            )
            story.check(
                answer["department"] == dept.address,
                f"{dept.label} registered (block {answer['receipt']['block_number']})",
                repr(answer),
            )
        roles: tuple[tuple[Actor, str, list[str]], ...] = (
            (issuer, "issuer", ["household_registration", "id_number"]),
            (registrar, "registrar", []),
            (auditor, "auditor", []),
        )
        for who, role, fields in roles:
            answer = admin.api.grant_role(role, who.address, fields)
            story.check(
                answer["account"] == who.address and answer["role"] == role,
                f"{who.label.split(' (')[0]} is {role}"
                + (f" for {', '.join(fields)}" if fields else ""),
                repr(answer),
            )
    listed = {d["address"]: d for d in resident.api.departments()}
    story.check(
        {housing.address, health.address} <= set(listed),
        "both departments are in the public directory with their encryption keys",
        repr(listed),
    )

    # -- 3 -----------------------------------------------------------------------
    story.chapter("Li Wei is enrolled, gets two values issued, and uploads an encrypted record")
    with story.working("enrolling"):
        answer = registrar.api.enroll_resident(
            resident.address,
            id_commitment(ISSUED["id_number"], secrets.token_bytes(32)),
            resident.identity.encryption_public_key,
        )
    story.check(answer["resident"] == resident.address, "the registrar enrolled Li Wei")
    story.say("the chain holds no ID number, only a salted commitment to it")
    story.term("salted commitment")
    story.by_hand(
        by(
            "registrar",
            "enroll",
            resident.address,
            "--encryption-key",
            to_hex(resident.identity.encryption_public_key),
            "--id-number",
            ISSUED["id_number"],
        )
    )
    story.say(
        "the Public Security Bureau issues the ID number and household registration and"
        " hands Li Wei each value with the salt it will attest"
    )
    salts = {name: secrets.token_bytes(32) for name in ISSUED}
    values = {**RECORD, **ISSUED}
    with story.working("encrypting 8 fields in the wallet and committing the Merkle root"):
        answer = resident.api.upload_record(values, salts=salts)
    story.check(
        answer["version"] == 1, f"record version 1 committed, root {short(answer['root'], 14)}"
    )
    story.term("record root")
    story.by_hand(by("resident", "record", "put", "record.json") + "   # {field: value}")
    stored = resident.api.record()
    story.check(
        set(stored["fields"]) == set(values)
        and all(RECORD[n] not in str(stored["fields"]) for n in RECORD),
        "the API holds only ciphertext envelopes",
    )
    with story.working("restoring from the envelopes and the keystore alone"):
        restored = resident.api.restore_record()
    story.check(
        {n: v.value for n, v in restored.items()} == values,
        "the wallet restores every value from the API's envelopes (a new device would too)",
    )
    story.by_hand(
        by(
            "issuer",
            "attest",
            resident.address,
            "id_number",
            "--value",
            ISSUED["id_number"],
            "--salt",
            to_hex(salts["id_number"]),
            "--version",
            "1",
        )
    )
    with story.working("attesting"):
        for name, value in ISSUED.items():
            answer = issuer.api.attest(resident.address, name, value, salts[name], version=1)
            expected = to_hex(commitment(issuer.api.field_id(name), value, salts[name]))
            story.check(
                answer["commitment"] == expected and answer["issuer"] == issuer.address,
                f"the issuer attested {name} (salted commitment {short(expected, 14)})",
                repr(answer),
            )

    # -- 4 -----------------------------------------------------------------------
    story.chapter("The Housing Bureau asks for three fields; Li Wei grants them for 30 days")
    with story.working("filing the request"):
        request = housing.api.request_access(resident.address, HOUSING_FIELDS, "HOUSING", 30 * DAY)
    request_id = request["request_id"]
    story.by_hand(
        by("housing", "request", "create", resident.address, "-f", ",".join(HOUSING_FIELDS))
        + " -p HOUSING --days 30",
        by("resident", "request", "list"),
    )
    pending = [r for r in resident.api.access_requests() if r["status"] == "pending"]
    story.check(
        [r["request_id"] for r in pending] == [request_id]
        and sorted(pending[0]["fields"]) == HOUSING_FIELDS,
        f"Li Wei sees the pending request {short(request_id, 14)} (HOUSING, 30 days)",
        repr(pending),
    )
    with story.working("wrapping three field keys for the Housing Bureau and granting"):
        grant = resident.api.grant("HB", HOUSING_FIELDS, "HOUSING", 30, request_id=request_id)
    housing_consent = int(grant["consent_id"])
    story.term("consent")
    story.by_hand(
        by("resident", "grant", "--request", request_id[:12]) + "   # shows the terms, asks"
    )
    consent = resident.api.consent(housing_consent)
    story.check(
        consent["status"] == "active" and sorted(consent["fields"]) == HOUSING_FIELDS,
        f"consent {housing_consent} is active for {', '.join(HOUSING_FIELDS)}",
        repr(consent),
    )
    answered = [r for r in resident.api.access_requests() if r["request_id"] == request_id]
    story.check(
        bool(answered) and answered[0]["status"] == "granted",
        "the request is marked granted",
        repr(answered),
    )

    # -- 5 -----------------------------------------------------------------------
    story.chapter("The Housing Bureau reads the fields, decrypts them and checks them")
    story.say("the access is recorded on chain first; only then does the API release ciphertext")
    chain_option = ["--chain-url", chain_url] if chain_url else []
    story.by_hand(
        by("housing", "consents"),
        by("housing", "query", resident.address, str(housing_consent), *chain_option),
    )
    with story.working("querying, decrypting, verifying against the chain"):
        result = housing.api.query(
            housing_consent,
            resident.address,
            HOUSING_FIELDS,
            is_trusted=chain.is_trusted,
            recorded_at=chain.attestation_recorded_at,
            record_root=chain.record,
        )
    story.say(f"[dim]{describe_receipt(result.receipt)}[/dim]")
    expected_values = {n: values[n] for n in HOUSING_FIELDS}
    story.check(
        result.values == expected_values,
        "the decrypted values are Li Wei's",
        repr(result.values),
    )
    story.check(result.root_on_chain, "every field hashes into the root committed on chain")
    statuses = {n: a.attestation for n, a in result.fields.items()}
    story.check(
        statuses
        == {"household_registration": "verified", "id_number": "verified", "income": "absent"},
        "the ID number and household registration carry valid attestations by a trusted issuer",
        repr({n: (a.attestation, a.problem) for n, a in result.fields.items()}),
    )

    # -- 6 -----------------------------------------------------------------------
    story.chapter("The Health Commission tries the same consent")
    story.by_hand(by("health", "query", resident.address, str(housing_consent), "-f", "income"))
    with story.working("querying"):
        story.refused(
            "not_granted",
            lambda: health.api.access(housing_consent, resident.address, ["income"]),
            "the Health Commission is not the grantee",
        )

    # -- 7 -----------------------------------------------------------------------
    story.chapter("A month passes")
    story.say(
        "[yellow]the one step that is not an HTTP call:[/yellow] the demo owns the node and"
        " moves chain time forward 31 days (node.chain.time_travel)"
    )
    before = resident.api.now()
    with story.working("travelling"):
        node.chain.time_travel(31 * DAY)
    after = resident.api.now()
    story.check(after - before >= 31 * DAY, "chain time moved 31 days on", f"{after - before} s")
    with story.working("querying"):
        story.refused(
            "expired",
            lambda: housing.api.access(housing_consent, resident.address, ["income"]),
            "the Housing Bureau's 30-day consent is over",
        )
    story.check(
        resident.api.consent(housing_consent)["status"] == "expired",
        "the consent now reads expired",
    )

    # -- 8 -----------------------------------------------------------------------
    story.chapter("New grants, one revoked, keys rotated")
    with story.working("granting"):
        renewed = int(resident.api.grant("HB", ["income"], "HOUSING", 30)["consent_id"])
        medical = int(
            resident.api.grant("HC", ["name", "phone"], "HEALTHCARE", 7, max_uses=5)["consent_id"]
        )
    story.by_hand(
        by("resident", "grant", "HB", "-f", "income", "-p", "HOUSING", "--days", "30"),
        by("resident", "grant", "HC", "-f", "name,phone", "-p", "HEALTHCARE")
        + " --days 7 --max-uses 5",
    )
    story.say(f"consent {renewed}: Housing Bureau, income, 30 days")
    story.say(f"consent {medical}: Health Commission, name and phone, 7 days, at most 5 uses")
    with story.working("querying"):
        first = health.api.query(
            medical,
            resident.address,
            ["name", "phone"],
            is_trusted=chain.is_trusted,
            recorded_at=chain.attestation_recorded_at,
        )
    story.check(
        first.values == {"name": RECORD["name"], "phone": RECORD["phone"]},
        f"the Health Commission reads name and phone under consent {medical}",
        repr(first.values),
    )
    story.by_hand(by("resident", "revoke", str(medical)) + "   # then rotates the exposed keys")
    with story.working("revoking and rotating the exposed keys"):
        revoked = resident.api.revoke(medical, rotate=True)
    story.check(
        revoked.revoked.get("status") == "revoked",
        f"consent {medical} revoked (block {revoked.revoked['receipt']['block_number']})",
        repr(revoked.revoked),
    )
    story.check(
        revoked.rotated_version == 2 and set(revoked.rewrapped) == {renewed},
        "record version 2 has fresh keys (fresh salts for name and phone); the still-active"
        f" consent {renewed} got the new income key",
        f"version {revoked.rotated_version}, re-wrapped {sorted(revoked.rewrapped)}",
    )
    with story.working("querying"):
        story.refused(
            "revoked",
            lambda: health.api.access(medical, resident.address, ["name"]),
            "the Health Commission asks again",
        )
    with story.working("querying"):
        renewed_read = housing.api.query(
            renewed,
            resident.address,
            ["income"],
            is_trusted=chain.is_trusted,
            recorded_at=chain.attestation_recorded_at,
            record_root=chain.record,
        )
    story.check(
        renewed_read.values == {"income": RECORD["income"]}
        and renewed_read.fields["income"].version == 2,
        f"the Housing Bureau still reads income under consent {renewed}, from version 2",
        repr({n: (a.value.value, a.version) for n, a in renewed_read.fields.items()}),
    )

    # -- 9 -----------------------------------------------------------------------
    _newborn(story, by, admin, resident, {"CA": civil, "HC": health, "SI": social}, chain)

    # -- 10 ----------------------------------------------------------------------
    story.chapter("Li Wei reads the access log")
    story.term("access log")
    story.by_hand(by("resident", "access-log"))
    log = resident.api.access_log()
    story.console.print(access_log_table(log, title="Who touched Li Wei's data"))
    reads = [e for e in log if e["type"] == "AccessLogged"]
    refusals = sorted(e["reason"] for e in log if e["type"] == "AccessDenied")
    story.check(
        len(reads) == 6 and refusals == ["expired", "not_granted", *["revoked"] * 4],
        "six reads and six refusals (not_granted, expired, revoked once and then three times"
        " for the bundle), each with its receipt",
        f"{len(reads)} reads, refusals {refusals}",
    )

    # -- 11 ----------------------------------------------------------------------
    story.chapter("The Inspection Office verifies the whole log")
    story.by_hand(
        by("auditor", "audit", "verify"),
        by("auditor", "audit", "events", "--since", "2020-01-01", "--all"),
        by("auditor", "audit", "export", "--format", "csv", "-o", "log.csv"),
    )
    with story.working("re-deriving every event from the chain and checking every signature"):
        report = auditor.api.audit_verify()
    story.check(
        report.get("ok") is True and not report.get("problems"),
        f"audit ok: {report.get('events')} events, {report.get('signatures_verified')}"
        " signatures verified",
        repr(report),
    )

    # -- 12, 13 ------------------------------------------------------------------
    care = {
        "admin": admin,
        "registrar": registrar,
        "resident": resident,
        "civil": civil,
        "auditor": auditor,
        "child": actor("Li Xiaoming (newborn)", cast["child"]),
        "ambulance": actor("City Ambulance Service", cast["ambulance"]),
        "resident_stream": actor("Li Wei's phone", cast["resident"]),
    }
    care_chapters(story, by, care, chain, node.chain)


def _newborn(
    story: Story,
    by: Callable[..., str],
    admin: Actor,
    resident: Actor,
    departments: dict[str, Actor],
    chain: ChainView,
) -> None:
    """Run at most once: one service, one signature, three departments, one revocation."""
    story.chapter(
        "A child is born: Li Wei registers the birth with three departments in one signature"
    )
    story.say(
        f"the admin defines {SERVICE}, {SERVICE_NAME}: what civil affairs, health and social"
        " insurance each need, for which purpose, for how long (最多跑一次, run at most once)"
    )
    listed = {d["code"] for d in admin.api.departments()}
    with story.working("registering the departments the service needs"):
        for code, dept in departments.items():
            if code in listed:
                continue
            answer = admin.api.register_department(
                dept.address, dept.label, code, dept.identity.encryption_public_key
            )
            story.check(
                answer["department"] == dept.address,
                f"{dept.label} ({code}) registered (block {answer['receipt']['block_number']})",
                repr(answer),
            )
    items = [
        {"department": code, "fields": fields, "purpose": purpose, "duration": days * DAY,
         "max_uses": uses}
        for code, fields, purpose, days, uses in NEWBORN_ITEMS
    ]  # fmt: skip
    story.by_hand(
        by("admin", "admin", "department", departments["CA"].address, "--name",
           departments["CA"].label, "--code", "CA", "--encryption-key",
           to_hex(departments["CA"].identity.encryption_public_key)),
        by("admin", "admin", "service", "define", SERVICE, "--name", SERVICE_NAME,
           *[a for code, fields, purpose, days, uses in NEWBORN_ITEMS for a in (
               "--item", f"{code}:{','.join(fields)}:{purpose}:{days}d" + (f":{uses}" if uses
               else ""))]),
        "consent admin service list",
    )  # fmt: skip
    with story.working("defining the service on chain"):
        defined = admin.api.define_service(SERVICE, SERVICE_NAME, items)
    story.check(
        [(i["department_name"], i["fields"], i["purpose"]) for i in defined["items"]]
        == [(departments[c].label, f, p) for c, f, p, _, _ in NEWBORN_ITEMS],
        f"{SERVICE} is defined: "
        + "; ".join(
            f"{departments[c].label} {', '.join(f)} for {p}, {d} days"
            + (f", at most {u} uses" if u else "")
            for c, f, p, d, u in NEWBORN_ITEMS
        ),
        repr(defined),
    )
    service = resident.api.service(SERVICE)
    full = resident.api.service_items(service)
    # Li Wei narrows social insurance's window: a bundle may narrow an item, never widen it.
    chosen = [narrow_item(item, duration=30 * DAY) if i == 2 else item for i, item in
              enumerate(full)]  # fmt: skip
    story.by_hand(
        by("resident", "bundle", "grant", SERVICE, "--narrow", "SI:days=30")
        + "   # shows every item, asks once"
    )
    with story.working("wrapping each department's field keys for it and granting, one signature"):
        granted = resident.api.grant_bundle(SERVICE, chosen)
    bundle_id = int(granted["bundle_id"])
    consent_ids = [int(c) for c in granted["consent_ids"]]
    story.check(
        len(consent_ids) == 3,
        f"bundle {bundle_id}: one GrantBundle signature, consents"
        f" {', '.join(map(str, consent_ids))} in block {granted['block_number']}",
        repr(granted),
    )
    bundle = resident.api.checked_bundle(bundle_id)
    spans = [c["valid_until"] - c["valid_from"] for c in bundle["consents"]]
    story.check(
        bundle["status"] == "active"
        and [c["department"] for c in bundle["consents"]]
        == [departments[code].address for code, *_ in NEWBORN_ITEMS]
        and spans == [30 * DAY, 10 * DAY, 30 * DAY],
        "each consent is as Li Wei signed it; social insurance narrowed to 30 days of its 60",
        repr(spans),
    )
    story.by_hand(by("resident", "bundle", "show", str(bundle_id)))
    values = {**RECORD, **ISSUED}
    for (code, fields, _purpose, _days, _uses), consent_id in zip(
        NEWBORN_ITEMS, consent_ids, strict=True
    ):
        dept = departments[code]
        with story.working(f"{dept.label} querying"):
            read = dept.api.query(
                consent_id,
                resident.address,
                fields,
                is_trusted=chain.is_trusted,
                recorded_at=chain.attestation_recorded_at,
                record_root=chain.record,
            )
        story.check(
            read.values == {f: values[f] for f in fields} and read.root_on_chain,
            f"{dept.label} reads {', '.join(fields)} under consent {consent_id}: served",
            repr(read.values),
        )
    story.by_hand(by("resident", "bundle", "revoke", str(bundle_id)) + "   # then rotates keys")
    with story.working("revoking the bundle and rotating the exposed keys"):
        revoked = resident.api.revoke_bundle(bundle_id, rotate=True)
    story.check(
        sorted(revoked.revoked.get("revoked", [])) == consent_ids,
        f"one RevokeBundle ended consents {', '.join(map(str, consent_ids))}"
        f" (block {revoked.revoked['receipt']['block_number']})",
        repr(revoked.revoked),
    )
    story.check(
        revoked.rotated_version == 3 and not set(revoked.rewrapped) & set(consent_ids),
        "record version 3 has fresh keys; none of them is wrapped for the bundle's departments",
        f"version {revoked.rotated_version}, re-wrapped {sorted(revoked.rewrapped)}",
    )
    for (code, fields, _purpose, _days, _uses), consent_id in zip(
        NEWBORN_ITEMS, consent_ids, strict=True
    ):
        dept = departments[code]
        with story.working(f"{dept.label} querying"):
            story.refused(
                "revoked",
                functools.partial(dept.api.access, consent_id, resident.address, fields[:1]),
                f"{dept.label} asks again under consent {consent_id}",
            )


def _quote(word: str) -> str:
    """A shell word as typed (quoted when it has spaces or shell characters)."""
    import shlex

    return shlex.quote(word)


def _make_cast(folder: Path) -> dict[str, Identity]:
    """Throwaway identities, saved (cheap scrypt) so the CLI can be pointed at them."""
    cast: dict[str, Identity] = {}
    for slug in (
        "housing", "health", "issuer", "registrar", "auditor", "resident", *NEWBORN_CAST,
        "child", "ambulance",
    ):  # fmt: skip
        identity = Identity.create()
        password = secrets.token_urlsafe(12)
        identity.save(folder / slug, password, scrypt_n=DEMO_SCRYPT_N)
        fd = os.open(folder / f"{slug}.password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        cast[slug] = identity
    return cast


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the ledger here (must be new or empty); default: a temp dir."),
    ] = None,
    block_period: Annotated[
        float, typer.Option(hidden=True, help="Embedded chain: seconds per block.")
    ] = 1.0,
    chain_url: Annotated[
        str | None,
        typer.Option(help="Tell it on a development node (anvil) instead of an embedded chain."),
    ] = None,
) -> None:
    """The whole story end to end, narrated: exits 0 only if every step behaved as told."""
    if not run_demo(data_dir, block_period=block_period, chain_url=chain_url):
        raise typer.Exit(1)
