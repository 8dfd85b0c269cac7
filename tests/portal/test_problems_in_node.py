"""The portal says the API's refusals as the CLI does: ``src/app/problems.js`` (run in Node,
the module the browser loads) renders the message table ``api/locale/<lang>.json`` to the
very sentence ``api/messages.py`` renders, for problems the API's own handler makes from
real contract and relayer errors with arguments of every kind, a denial reason and bare
statuses; and in Chinese, to a sentence with no placeholder or English kind word left."""

from __future__ import annotations

import json
import re
from typing import Any

from api.errors import contract_status, problem
from api.messages import Names, catalogue, explain, render
from ledger import contract_errors as ce
from ledger import errors
from ledger.vocabulary import name_to_bytes32, role_id
from tests.portal.test_crypto_interop import node

HOUSING = "0x25EE" + "0" * 32 + "1a2B"
NAMES = {HOUSING: "Housing Bureau"}
PLACEHOLDER = re.compile(r"\{\w+(?::\w+)?\}")
KINDS = {"time", "department", "account", "field", "fields", "purpose", "role", "consent",
         "seconds", "text"}  # fmt: skip


def as_served(error: errors.ContractError | errors.IntentRefused) -> dict[str, Any]:
    """The problem document the API answers for ``error`` (api/errors.py's handlers)."""
    if isinstance(error, errors.ContractError):
        status, title, kind = contract_status(error), "Refused by the contract", "contract-error"
    else:
        status, title, kind = 422, "Refused by the relayer", "intent-refused"
    response = problem(
        status, title, kind, str(error), error=type(error).__name__, arguments=error.arguments
    )
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body


def problems() -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Real problems, each with the department names the caller knows."""
    income, housing_purpose = name_to_bytes32("income"), name_to_bytes32("housing_benefit")
    made: list[tuple[dict[str, Any], dict[str, str]]] = [
        (as_served(ce.ConsentLedgerInvalidWindow(1796149933, 1796150019)), {}),  # time
        (as_served(ce.ConsentLedgerInactiveDepartment(HOUSING)), NAMES),  # department, named
        (as_served(ce.ConsentLedgerInactiveDepartment(HOUSING)), {}),  # and not
        (as_served(ce.AccessControlUnauthorizedAccount(HOUSING, role_id("registrar"))), {}),
        (as_served(ce.AccessControlUnauthorizedAccount(HOUSING, b"\0" * 32)), NAMES),  # admin
        (as_served(ce.ConsentDirectoryPolicyFieldNotAllowed(housing_purpose, income)), {}),
        (as_served(ce.ConsentDirectoryUnknownField(b"\xff" * 32)), {}),  # not a name: hex
        (as_served(ce.ConsentLedgerAlreadyRevoked(41)), {}),  # consent
        (as_served(ce.ConsentLedgerPolicyDurationTooLong(housing_purpose, 90 * 86400, 86400)), {}),
        (as_served(ce.ConsentDirectoryUnsortedFields(3)), {}),  # text
        (as_served(errors.TooManyFields(40, 32)), {}),  # the relayer's own
        ({"status": 403, "reason": "revoked", "detail": "revoked"}, {}),  # a denial
        ({"status": 429, "retry_after": 7, "detail": "slow down"}, {}),
        ({"status": 503, "detail": "node down"}, {}),
        (
            {"status": 418, "error": "ConsentLedgerAlreadyRevoked", "detail": "raw"},
            {},
        ),  # falls back
    ]
    return made


def test_the_portal_renders_the_sentence_the_cli_renders() -> None:
    cases = problems()
    for language in ("en", "zh-CN"):
        said = node(
            "problems.mjs",
            "explain",
            cases=[{"problem": p, "names": n, "language": language} for p, n in cases],
        )["ok"]
        python = [explain(p, names=Names(departments=n), language=language) for p, n in cases]
        assert said == python, language
    # The Chinese run is the last: its sentences are Chinese, with nothing left to fill.
    assert said[0].startswith("该同意书的有效期为 2026-12-01 18:32 UTC 至 2026-12-01 18:33 UTC")
    assert said[1].startswith("Housing Bureau (0x25EE…1a2B) 已被暂停")
    assert said[11] == catalogue("zh-CN")["reasons"]["revoked"]
    assert said[-1] == "raw"
    for sentence in said[:-1]:
        assert not PLACEHOLDER.search(sentence), sentence
        assert not re.search(r"\b(second|seconds|the department)\b", sentence), sentence


def test_the_portal_renders_every_kind_of_placeholder_as_the_cli_does() -> None:
    """Each kind on its own, ``fields`` too (no template uses it yet)."""
    fields = [name_to_bytes32(n).hex() for n in ("address", "income")]
    values: dict[str, Any] = {
        "t": 0,
        "d": HOUSING.lower(),
        "a": "0x" + "11" * 20,
        "f": "0x" + name_to_bytes32("income").hex(),
        "fs": ["0x" + f for f in fields],
        "p": "0x" + name_to_bytes32("housing_benefit").hex(),
        "r": "0x" + role_id("auditor").hex(),
        "c": 12,
        "s": 1,
        "x": "as is",
    }
    templates = [
        "{t:time}",
        "{d:department}",
        "{a:department}",
        "{a:account}",
        "{f:field}",
        "{fs:fields}",
        "{p:purpose}",
        "{r:role}",
        "{c:consent}",
        "{s:seconds}",
        "{x:text}",
        "{x}",
        "{missing:text}",
    ]
    assert {k for t in templates for k in re.findall(r":(\w+)", t)} == KINDS
    said = node(
        "problems.mjs",
        "render",
        cases=[
            {"template": t, "values": values, "names": NAMES, "language": "en"} for t in templates
        ],
    )["ok"]
    python = [render(t, values, Names(departments=NAMES)) for t in templates]
    assert said == python
    assert said[5] == "`address`, `income`" and said[-1] is None
