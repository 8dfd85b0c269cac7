"""The client commands of ``consent``: each one a client of the HTTP API.

``api.cli`` adds them with ``register(app)``::

    consent wallet create|show|import|export      keystores (no API calls)
    consent record put|get|restore                resident: the encrypted record
    consent request create|list                   department asks / resident sees
    consent grant | revoke | consents | access-log
    consent query                                 department: read, decrypt, verify
    consent admin department|role                 admin
    consent enroll                                registrar
    consent attest                                issuer
    consent audit events|export|verify            auditor
    consent demo                                  the whole story, narrated

Common options: ``--api URL`` (``$CONSENT_API``, default ``http://127.0.0.1:8000``),
``--wallet DIR`` (``$CONSENT_WALLET``, default ``./consent-wallet``), and the password
from ``--password-file``, ``$CONSENT_PASSWORD`` or a prompt.
"""

from __future__ import annotations

import typer

from api.commands import audit, demo, governance, record, sharing, wallet


def register(app: typer.Typer) -> None:
    """Add every client command to the ``consent`` Typer app."""
    app.add_typer(wallet.app, name="wallet")
    app.add_typer(record.app, name="record")
    app.add_typer(sharing.request_app, name="request")
    app.command("grant")(sharing.grant)
    app.command("revoke")(sharing.revoke)
    app.command("consents")(sharing.consents)
    app.command("access-log")(sharing.access_log)
    app.command("query")(sharing.query)
    app.add_typer(governance.admin_app, name="admin")
    app.command("enroll")(governance.enroll)
    app.command("attest")(governance.attest)
    app.add_typer(audit.app, name="audit")
    app.command("demo")(demo.demo)
