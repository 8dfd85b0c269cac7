"""Shapes of webhook subscriptions (:mod:`api.routers.webhooks`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.notifications import NotificationKind

WEBHOOK_URL = r"^https?://[^\s/?#]+[^\s]*$"


class WebhookIn(BaseModel):
    #: Where notifications are POSTed (``http`` or ``https``).
    url: Annotated[str, Field(max_length=2048, pattern=WEBHOOK_URL)]
    #: The kinds to send; empty: every kind of the subscriber's feed.
    events: Annotated[list[NotificationKind], Field(max_length=32)] = []


class DeliveryOut(BaseModel):
    notification_id: str
    #: ``delivered`` (a 2xx), ``retrying`` (backing off) or ``failed`` (given up).
    status: str
    attempts: int
    first_attempt_at: float
    last_attempt_at: float
    #: The receiver's last HTTP status (``None``: no answer).
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: float | None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[NotificationKind]
    created_at: float
    delivered: int
    failed: int
    #: The most recent attempt (``None``: nothing sent yet).
    last_delivery: DeliveryOut | None


class WebhookCreated(WebhookOut):
    #: The Standard Webhooks signing secret (``whsec_…``): shown once, here.
    secret: str


class WebhookList(BaseModel):
    data: list[WebhookOut]
