"""The demo's chapters on acting for others and emergencies: a parent as guardian grants
for a newborn, an ambulance breaks the glass on a resident's directive while the resident
watches the live feed, an auditor reviews it, and an unreviewed one is reported overdue
once its deadline passes in chain time."""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from api.chain_view import ChainView
from api.client import ConsentApi
from api.client_governance import id_commitment
from api.commands.demo_support import Actor, Story
from ledger.chain import Chain
from ledger.vocabulary import EMERGENCY_REVIEW_PERIOD

CHILD = {"name": "Li Xiaoming", "birth_date": "2026-11-20"}
EMERGENCY_FIELDS = ["birth_date", "name", "phone"]
DIRECTIVE_FIELDS = ["name", "phone"]
#: How soon the resident's live feed must show a break-the-glass read (issue 15).
NOTICE_SECONDS = 2.0


def care_chapters(
    story: Story,
    by: Callable[..., str],
    cast: dict[str, Actor],
    chain: ChainView,
    node_chain: Chain,
) -> None:
    """``cast``: the story's admin, registrar, resident, civil, auditor, and the child,
    the ambulance and a second session of the resident's (its phone, following the feed)."""
    _guardian(story, by, cast)
    _emergency(story, by, cast, chain, node_chain)


def _guardian(story: Story, by: Callable[..., str], cast: dict[str, Actor]) -> None:
    registrar, parent, civil, child = (
        cast["registrar"],
        cast["resident"],
        cast["civil"],
        cast["child"],
    )
    story.chapter("Li Wei, as guardian, keeps his newborn's record and grants for it")
    with story.working("the registrar enrols the child and appoints Li Wei its guardian"):
        registrar.api.enroll_resident(
            child.address,
            id_commitment("330106202611200011", secrets.token_bytes(32)),
            child.identity.encryption_public_key,
        )
        appointed = registrar.api.appoint_delegate(
            parent.address, "grant,revoke,commit,read", days=365, resident=child.address
        )
    story.by_hand(
        by("registrar", "delegate", "appoint", parent.address, "--powers",
           "grant,revoke,commit,read", "--days", "365", "--for", child.address, "--yes"),
    )  # fmt: skip
    story.check(
        appointed.get("guardian") is True and appointed.get("appointed_by") == registrar.address,
        "Li Wei is the child's guardian, appointed by the registrar (only a registrar can end it)",
        repr(appointed),
    )
    view = parent.api.as_delegate_for(child.address)
    with story.working("Li Wei writes the child's record (encrypted for the child) and grants"):
        view.upload_record(CHILD)
        consent = view.grant(civil.address, ["birth_date", "name"], "SOCIAL_ASSISTANCE", 30)
    story.say(f"consent {consent['consent_id']}: Civil Affairs reads the child's name and birth")
    log = view.access_log(child.address)
    signed = [e for e in log if e["type"] == "ConsentGranted"]
    story.check(
        [e.get("signed_by") for e in signed] == [parent.address],
        "the child's access log shows the grant and Li Wei as its signer",
        repr(log),
    )


def _emergency(
    story: Story,
    by: Callable[..., str],
    cast: dict[str, Actor],
    chain: ChainView,
    node_chain: Chain,
) -> None:
    admin, resident, auditor, ambulance = (
        cast["admin"],
        cast["resident"],
        cast["auditor"],
        cast["ambulance"],
    )
    story.chapter("An ambulance breaks the glass on Li Wei's emergency directive")
    with story.working("the admin registers the ambulance service with the emergency role"):
        admin.api.register_department(
            ambulance.address, ambulance.label, "AMB", ambulance.identity.encryption_public_key
        )
        admin.api.grant_role("emergency", ambulance.address, EMERGENCY_FIELDS)
    with story.working("Li Wei leaves a directive: name and phone, keys wrapped for it"):
        resident.api.leave_directive(ambulance.address, DIRECTIVE_FIELDS, days=365)
    story.by_hand(
        by("admin", "admin", "role", "emergency", ambulance.address,
           *[a for f in EMERGENCY_FIELDS for a in ("--field", f)]),
        by("resident", "emergency", "directive", "--department", "AMB", "--fields",
           ",".join(DIRECTIVE_FIELDS)),
    )  # fmt: skip

    heard = _follow(cast["resident_stream"].api, resident.api)
    with story.working("the ambulance reads under break-the-glass, stating why"):
        read = ambulance.api.read_in_emergency(
            resident.address,
            DIRECTIVE_FIELDS,
            "UNCONSCIOUS",
            "found unconscious at Wenxin Street, no ID on him",
            is_trusted=chain.is_trusted,
            recorded_at=chain.attestation_recorded_at,
            record_root=chain.record,
        )
        # From the answer: the access is on chain and indexed by then.
        notice = _await(heard, "emergency_access", time.monotonic())
    story.by_hand(
        by("ambulance", "emergency", "access", resident.address, "--fields", "name,phone",
           "--reason", "UNCONSCIOUS", "--justification", "found unconscious"),
    )  # fmt: skip
    story.check(
        {n: v.value.value for n, v in read.fields.items()}
        == {"name": "Li Wei", "phone": "+86 138 0013 8000"},
        f"emergency access {read.access_id}: the ambulance reads exactly the directive's fields",
        repr(read.fields),
    )
    story.check(
        notice is not None and notice[1] <= NOTICE_SECONDS,
        f"Li Wei's live feed shows it within {NOTICE_SECONDS:.0f} s"
        + (f" ({notice[1]:.2f} s)" if notice else ""),
        "no emergency_access notification arrived",
    )
    story.refused(
        "field_not_in_directive",
        lambda: ambulance.api.read_in_emergency(
            resident.address,
            ["address"],
            "UNCONSCIOUS",
            "looking for next of kin",
            is_trusted=chain.is_trusted,
        ),
        "asking for a field the directive does not name",
    )
    with story.working("the Inspection Office reviews the emergency access"):
        auditor.api.review_emergency(read.access_id, "justified", "patient unconscious on arrival")
    story.by_hand(by("auditor", "emergency", "review", str(read.access_id), "justified"))
    queue_now, _ = auditor.api.emergency_queue("reviewed")
    story.check(
        [int(e["access_id"]) for e in queue_now] == [read.access_id],
        "it is reviewed: justified",
        repr(queue_now),
    )

    second = ambulance.api.read_in_emergency(
        resident.address,
        ["phone"],
        "SEVERE_INJURY",
        "called to a traffic accident",
        is_trusted=chain.is_trusted,
    )
    node_chain.time_travel(EMERGENCY_REVIEW_PERIOD + 3600)
    resident.api.grant("HC", ["name"], "HEALTHCARE", 1)  # a block after the deadline
    with story.working("re-checking the whole log after the review deadline has passed"):
        report = auditor.api.audit_verify()
    overdue = [p for p in report.get("problems", []) if p["kind"] == "emergency_review_overdue"]
    story.check(
        len(overdue) == 1 and f"emergency access {second.access_id}" in overdue[0]["detail"],
        f"three days on, verify reports emergency access {second.access_id} as never reviewed"
        " (with its receipt): the follow-up cannot be skipped",
        repr(report.get("problems")),
    )


def _follow(stream: ConsentApi, api: ConsentApi) -> queue.Queue[tuple[dict[str, Any], float]]:
    """The resident's live feed from its current end, in a thread: (notification, when)."""
    feed = api.notifications()
    last = feed[-1]["id"] if feed else None
    heard: queue.Queue[tuple[dict[str, Any], float]] = queue.Queue()

    def run() -> None:
        try:
            for notification in stream.follow_notifications(last):
                heard.put((notification, time.monotonic()))
        except Exception:  # the stream ends with the server
            return

    threading.Thread(target=run, name="demo-feed", daemon=True).start()
    return heard


def _await(
    heard: queue.Queue[tuple[dict[str, Any], float]], kind: str, started: float
) -> tuple[dict[str, Any], float] | None:
    """The first ``kind`` notification heard within 10 s, and seconds since ``started``."""
    deadline = time.monotonic() + 10
    while (left := deadline - time.monotonic()) > 0:
        try:
            notification, at = heard.get(timeout=left)
        except queue.Empty:
            return None
        if notification["kind"] == kind:
            return notification, max(0.0, at - started)
    return None
