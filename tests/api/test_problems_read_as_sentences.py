"""Problems read as sentences: one table of messages (api/locale/en.json) keyed by error
name, denial reason and status, rendered with the names involved; ``--verbose`` still
shows the raw answer. The table must cover every contract error, so a new one cannot be
forgotten."""

from __future__ import annotations

import inspect
import re

import typer
from typer.testing import CliRunner

from api.messages import Names, catalogue, explain, render
from ledger import contract_errors, errors
from ledger.vocabulary import DENIAL_REASONS
from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
KINDS = {"time", "department", "account", "field", "fields", "purpose", "role", "consent",
         "seconds", "text", None}  # fmt: skip
PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")
#: Values the API adds to every problem document a template may use.
DOCUMENT_VALUES = {"detail", "retry_after", "reason"}


def contract_error_classes() -> list[type[errors.ContractError]]:
    return [cls for cls, _types in contract_errors.BY_SELECTOR.values()]


def service_error_classes() -> list[type[errors.LedgerError]]:
    """The relayer's and the service's own refusals the API names in ``error``."""
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.IntentRefused | errors.Unavailable)
        and cls not in (errors.IntentRefused, errors.Unavailable, errors.ChainUnavailable)
        and not issubclass(cls, errors.ChainUnavailable)
    ]


def test_every_contract_error_has_a_message_using_only_its_own_arguments() -> None:
    table = catalogue()["errors"]
    classes = contract_error_classes()
    assert len(classes) == len(contract_errors.__all__)  # the generated module, all of it
    missing = sorted(c.__name__ for c in classes if c.__name__ not in table)
    assert missing == [], f"add a sentence to api/locale/en.json for {missing}"
    for cls in classes:
        for name, kind in PLACEHOLDER.findall(table[cls.__name__]):
            assert name in cls.names or name in DOCUMENT_VALUES, (cls.__name__, name)
            assert (kind or None) in KINDS, (cls.__name__, kind)


def test_the_services_own_refusals_denial_reasons_and_statuses_have_messages() -> None:
    table = catalogue()
    for cls in service_error_classes():
        assert cls.__name__ in table["errors"], cls.__name__
    assert set(DENIAL_REASONS) <= set(table["reasons"])
    for status in ("400", "401", "403", "404", "409", "413", "422", "429", "503"):
        assert status in table["statuses"], status
    for template in [*table["reasons"].values(), *table["statuses"].values()]:
        for _name, kind in PLACEHOLDER.findall(template):
            assert (kind or None) in KINDS


def test_a_contract_error_becomes_a_sentence_with_dates_and_names() -> None:
    housing = "0x25EE" + "0" * 32 + "1a2B"
    window = explain(
        {
            "status": 422,
            "error": "ConsentLedgerInvalidWindow",
            "arguments": {"validFrom": 1796149933, "validUntil": 1796150019},
        }
    )
    assert window == (
        "The consent would run from 2026-12-01 18:32 UTC to 2026-12-01 18:33 UTC:"
        " a window must end after it starts and after now."
    )
    suspended = explain(
        {"error": "ConsentLedgerInactiveDepartment", "arguments": {"department": housing}},
        names=Names(departments={housing: "Housing Bureau"}),
    )
    assert suspended.startswith("Housing Bureau (0x25EE…1a2B) is suspended")
    role = explain(
        {
            "error": "AccessControlUnauthorizedAccount",
            "arguments": {"account": housing, "neededRole": "0x" + "00" * 32},
        }
    )
    assert role == "0x25EE…1a2B does not hold the admin role this needs."
    shoe_size = "0x" + b"shoe_size".ljust(32, b"\0").hex()
    field = explain({"error": "ConsentDirectoryUnknownField", "arguments": {"field": shoe_size}})
    assert field.startswith("`shoe_size` is not a field of the schema")


def test_statuses_and_reasons_become_sentences_and_a_missing_value_falls_back() -> None:
    assert explain({"status": 429, "retry_after": 7, "detail": "slow down"}) == (
        "Too many requests from this address; try again in 7 seconds."
    )
    assert explain({"status": 403, "reason": "expired", "detail": "x"}) == (
        "Access refused: this consent's window is over."
    )
    assert explain({"status": 413, "detail": "over 64 KiB"}).startswith("The request is too large")
    assert explain({"status": 503, "detail": "node down"}).startswith(
        "The service cannot reach the chain"
    )
    # An argument the template needs is missing: the next candidate, then the detail.
    assert explain({"status": 418, "error": "ConsentLedgerAlreadyRevoked", "detail": "d"}) == "d"
    assert render("{a:time} and {b}", {"a": 0}, Names()) is None


def test_the_cli_says_a_refusal_in_words_and_verbose_adds_the_raw_answer(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    consent_id = w.grant(w.resident, w.dept, ["income"])
    resident = served.wallet(w.resident, "resident")
    first = runner.invoke(cli, ["revoke", str(consent_id), "--no-rotate", *resident])
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, ["revoke", str(consent_id), "--no-rotate", *resident])
    assert again.exit_code == 1
    assert f"error: Consent {consent_id} is already revoked." in again.stderr
    assert "ConsentLedgerAlreadyRevoked" not in again.stderr
    raw = runner.invoke(cli, ["revoke", str(consent_id), "--no-rotate", "--verbose", *resident])
    assert raw.exit_code == 1
    assert f"error: Consent {consent_id} is already revoked." in raw.stderr
    assert "ConsentLedgerAlreadyRevoked" in raw.stderr


def test_a_refused_query_names_the_reason_in_words_with_its_receipt(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    consent_id = w.grant(w.resident, w.dept, ["income"])
    other = served.wallet(w.dept2, "dept2")
    result = runner.invoke(
        cli, ["query", w.resident.address, str(consent_id), "-f", "income", *other]
    )
    assert result.exit_code == 1
    assert "error: Access refused: this consent was not given to your department." in result.stderr
    assert "recorded on chain: tx 0x" in result.stderr
