"""Webhook subscriptions and deliveries, as the API shows them."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyUrl, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

EventType = Annotated[str, StringConstraints(min_length=1, max_length=80)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[AnyUrl, Field(description="Where events are POSTed (http or https).")]
    event_types: Annotated[
        list[EventType],
        Field(
            min_length=1,
            max_length=200,
            description="`<dataset>.<created|updated|deleted>`, `<dataset>.*`, or `*` for all.",
        ),
    ]
    contact_email: Annotated[
        EmailStr | None,
        Field(description="Told when the subscription is disabled after failing for days."),
    ] = None
    description: Annotated[str | None, StringConstraints(max_length=500)] = None


class WebhookOut(BaseModel):
    id: int
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    key_id: int


class WebhookCreated(WebhookOut):
    secret: Annotated[
        str,
        Field(
            description="Signs every body (HMAC-SHA256, header `Territoire-Signature: "
            "sha256=<hex>`). Shown only now: store it."
        ),
    ]


class DeliveryOut(BaseModel):
    id: int
    event_id: int
    event_type: str
    resource: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
