"""Webhook subscriptions and the delivery queue."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.publication import ChangeLog
from app.models.webhooks import DeliveryState, WebhookDelivery, WebhookSubscription


async def change_log_end(session: AsyncSession) -> tuple[int, int]:
    """The position of the last change visible now: a new subscription starts after it."""
    row = (
        await session.execute(
            select(ChangeLog.transaction_id, ChangeLog.id)
            .order_by(ChangeLog.transaction_id.desc(), ChangeLog.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def insert_subscription(session: AsyncSession, **values: Any) -> WebhookSubscription:
    subscription = WebhookSubscription(**values)
    session.add(subscription)
    await session.flush()
    await session.refresh(subscription)
    return subscription


async def list_subscriptions(
    session: AsyncSession, key_id: int | None
) -> Sequence[WebhookSubscription]:
    query = select(WebhookSubscription).order_by(WebhookSubscription.id)
    if key_id is not None:
        query = query.where(WebhookSubscription.key_id == key_id)
    return (await session.execute(query)).scalars().all()


async def get_subscription(
    session: AsyncSession, subscription_id: int, *, lock: bool = False
) -> WebhookSubscription | None:
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def delete_subscription(session: AsyncSession, subscription_id: int) -> None:
    await session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    )


async def enable_subscription(session: AsyncSession, subscription_id: int) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(
            active=True,
            disabled_at=None,
            disabled_reason=None,
            failing_since=None,
            updated_at=func.now(),
        )
    )


async def list_deliveries(
    session: AsyncSession, subscription_id: int, *, before: int | None, limit: int
) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def redeliver(session: AsyncSession, subscription_id: int, delivery_id: int) -> bool:
    """Queue a delivery again, at once (it keeps its place: before later events of its record)."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id
        )
        .values(
            state=DeliveryState.pending.value,
            next_attempt_at=func.now(),
            leased_until=None,
            delivered_at=None,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- the worker's side -------------------------------------------------------------------------


async def subscriptions_to_fan_out(session: AsyncSession) -> list[int]:
    result = await session.execute(
        select(WebhookSubscription.id).where(WebhookSubscription.active).order_by("id")
    )
    return [int(row) for row in result.scalars()]


async def lock_for_fan_out(
    session: AsyncSession, subscription_id: int
) -> WebhookSubscription | None:
    """The subscription, locked; None when another worker holds it or it is inactive."""
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id, WebhookSubscription.active)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def queue_deliveries(
    session: AsyncSession,
    subscription_id: int,
    rows: Sequence[dict[str, Any]],
    cursor: tuple[int, int],
) -> None:
    if rows:
        await session.execute(
            insert(WebhookDelivery),
            [{"subscription_id": subscription_id, **row} for row in rows],
        )
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(cursor_transaction=cursor[0], cursor_sequence=cursor[1])
    )


@dataclass(frozen=True)
class Claimed:
    id: int
    subscription_id: int
    event_id: int
    event_type: str
    payload_text: str
    attempts: int
    created_at: datetime
    url: str
    secret: str


_CLAIM = text(
    """
    WITH heads AS (
        SELECT DISTINCT ON (d.subscription_id, d.resource) d.id, d.next_attempt_at,
               d.leased_until
        FROM webhook_delivery d
        JOIN webhook_subscription s ON s.id = d.subscription_id AND s.active
        WHERE d.state = 'pending'
        ORDER BY d.subscription_id, d.resource, d.id
    ), due AS (
        SELECT id FROM heads
        WHERE next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())
        ORDER BY id
        LIMIT :limit
    )
    UPDATE webhook_delivery d
    SET leased_until = now() + make_interval(secs => :lease), attempts = d.attempts + 1,
        last_attempt_at = now()
    FROM due, webhook_subscription s
    WHERE d.id = due.id AND s.id = d.subscription_id AND d.state = 'pending'
      AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())
    RETURNING d.id, d.subscription_id, d.event_id, d.event_type, d.payload::text, d.attempts,
              d.created_at, s.url, s.secret
    """
)


async def claim(session: AsyncSession, *, limit: int, lease_seconds: float) -> list[Claimed]:
    """Lease the oldest due delivery of each record's queue (up to `limit`): a record's later
    events wait until this one is delivered or given up. A lease that expires (a worker killed
    mid-way) makes the delivery due again."""
    result = await session.execute(_CLAIM, {"limit": limit, "lease": lease_seconds})
    return sorted((Claimed(*row) for row in result), key=lambda claimed: claimed.id)


async def record_success(session: AsyncSession, outcomes: Sequence[tuple[int, int]]) -> None:
    """(delivery id, HTTP status) of deliveries the receiver accepted."""
    if not outcomes:
        return
    await session.execute(
        text(
            """
            UPDATE webhook_delivery d SET state = 'delivered', delivered_at = now(),
                leased_until = NULL, last_status = o.status, last_error = NULL
            FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS integer[])) AS o(id, status)
            WHERE d.id = o.id
            """
        ),
        {"ids": [o[0] for o in outcomes], "statuses": [o[1] for o in outcomes]},
    )
    await session.execute(
        text(
            "UPDATE webhook_subscription SET failing_since = NULL WHERE failing_since IS NOT NULL "
            "AND id IN (SELECT subscription_id FROM webhook_delivery WHERE id = ANY(:ids))"
        ),
        {"ids": [o[0] for o in outcomes]},
    )


async def record_failure(
    session: AsyncSession,
    outcomes: Sequence[tuple[int, int | None, str, timedelta, bool]],
) -> None:
    """(delivery id, HTTP status or None, error, delay before the next attempt, give up)."""
    if not outcomes:
        return
    await session.execute(
        text(
            """
            UPDATE webhook_delivery d
            SET state = CASE WHEN o.give_up THEN 'failed' ELSE 'pending' END,
                next_attempt_at = now() + make_interval(secs => o.delay), leased_until = NULL,
                last_status = o.status, last_error = o.error
            FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS integer[]),
                        CAST(:errors AS text[]), CAST(:delays AS double precision[]),
                        CAST(:give_ups AS boolean[])) AS o(id, status, error, delay, give_up)
            WHERE d.id = o.id
            """
        ),
        {
            "ids": [o[0] for o in outcomes],
            "statuses": [o[1] for o in outcomes],
            "errors": [o[2][:1000] for o in outcomes],
            "delays": [o[3].total_seconds() for o in outcomes],
            "give_ups": [o[4] for o in outcomes],
        },
    )
    await session.execute(
        text(
            "UPDATE webhook_subscription SET failing_since = now() WHERE failing_since IS NULL "
            "AND id IN (SELECT subscription_id FROM webhook_delivery WHERE id = ANY(:ids))"
        ),
        {"ids": [o[0] for o in outcomes]},
    )


async def disable_failing(
    session: AsyncSession, failing_for: timedelta
) -> list[WebhookSubscription]:
    """Disable the subscriptions whose deliveries have all failed for too long."""
    result = await session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.active,
            WebhookSubscription.failing_since < func.now() - failing_for,
        )
        .values(
            active=False,
            disabled_at=func.now(),
            disabled_reason=text(
                "'every delivery failed since ' || to_char(failing_since AT TIME ZONE 'UTC', "
                '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\')'
            ),
            updated_at=func.now(),
        )
        .returning(WebhookSubscription)
    )
    return list(result.scalars().all())


async def pending_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(WebhookDelivery.state == DeliveryState.pending.value)
        )
        or 0
    )
