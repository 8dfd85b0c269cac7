"""The client commands of ``consent``: each one a client of the HTTP API.

``api.cli`` adds them with ``register(app)``::

    consent wallet create|show|import|export      keystores (no API calls)
    consent wallet unlock|lock                    an agent holds the key for a while
    consent schema | departments                  the names in use and what they mean
    consent record put|get|restore                resident: the encrypted record
    consent request create|list                   department asks / resident sees
    consent grant | revoke | consents | access-log
    consent notifications [--follow]             what concerns you; --follow: live (SSE)
    consent webhook add|list|remove               department, auditor: the feed POSTed, signed
    consent bundle grant|show|revoke              resident: a whole service in one signature
    consent delegate appoint|list|remove          resident (registrar: guardians): who may act
                                                  in a resident's name, with which powers
    consent query [--batch FILE]                  department: read, decrypt, verify (a
                                                  file of queries in one request)
    consent emergency directive|show|access|review|queue
                                                  resident: a directive; emergency department:
                                                  an access; auditor: its review, the queue
    consent admin department|role|issuer          admin: register, suspend|resume|rotate-key,
                                                  grant|revoke a role, distrust an issuer
    consent admin policy|service                  admin: purpose policies; services (define|list)
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

from api.commands import (
    audit,
    bundles,
    delegates,
    demo,
    directory,
    emergency,
    governance,
    lists,
    notifications,
    query,
    record,
    sharing,
    wallet,
)


def register(app: typer.Typer) -> None:
    """Add every client command to the ``consent`` Typer app."""
    app.add_typer(wallet.app, name="wallet")
    app.add_typer(record.app, name="record")
    app.add_typer(sharing.request_app, name="request")
    app.command("grant")(sharing.grant)
    app.command("revoke")(sharing.revoke)
    app.add_typer(bundles.app, name="bundle")
    app.add_typer(delegates.app, name="delegate")
    app.command("consents")(lists.consents)
    app.command("access-log")(lists.access_log)
    app.command("notifications")(notifications.notifications)
    app.add_typer(notifications.webhook_app, name="webhook")
    app.command("query")(query.query)
    app.add_typer(emergency.app, name="emergency")
    app.command("schema")(directory.schema)
    app.command("departments")(directory.departments)
    app.add_typer(governance.admin_app, name="admin")
    app.command("enroll")(governance.enroll)
    app.command("attest")(governance.attest)
    app.add_typer(audit.app, name="audit")
    app.command("demo")(demo.demo)
