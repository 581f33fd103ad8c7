"""The webhook worker: queues the change log's events for each subscription, then delivers them.

Run by `territoire webhooks` (a process of its own, beside the API's). Both steps go through
the database, so the worker may be killed at any moment and restarted (or several run):
- fan-out: for each active subscription (locked, skipping those another worker holds), the
  change-log entries after its cursor, older than every running transaction (the change feed's
  rule: a position once passed never gains an entry), become deliveries, in the same
  transaction as the cursor moves: an event is queued exactly once;
- delivery: the oldest due delivery of each record's queue is leased, sent, and marked
  delivered or rescheduled with an exponential backoff; a lease that runs out (the worker died)
  makes it due again, so every event is delivered at least once, and a record's events in order.
"""

import asyncio
import functools
import html
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.cache import CHANNEL
from app.config import Settings
from app.db import Database
from app.outage import database_unavailable
from app.repositories import changes as change_repository
from app.repositories import webhooks as repository
from app.services import mail
from app.services.changes import current_records
from app.services.registry import REGISTRY
from app.services.webhooks import (
    OPERATIONS,
    SIGNATURE_HEADER,
    TargetRefusedError,
    check_target,
    retry_delay,
    signature,
    wants,
)

logger = logging.getLogger(__name__)
FAN_OUT_BATCH = 2_000
USER_AGENT = "territoire-webhooks/1"


@dataclass
class WorkerStats:
    queued: int = 0
    delivered: int = 0
    failed_attempts: int = 0


class WebhookWorker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        batch: int = 500,
        lease_seconds: float | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.batch = batch
        self.lease_seconds = lease_seconds or settings.webhook_timeout_seconds * 3 + 5
        self.stats = WorkerStats()
        self._targets_checked: dict[str, tuple[float, str | None]] = {}
        self._wake = asyncio.Event()
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=settings.webhook_concurrency,
                max_keepalive_connections=settings.webhook_concurrency,
            ),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        self._semaphore = asyncio.Semaphore(settings.webhook_concurrency)

    async def close(self) -> None:
        await self.client.aclose()

    # --- fan-out -------------------------------------------------------------------------------

    async def fan_out(self) -> int:
        """Queue the new events of every active subscription; the number queued."""
        async with self.database.sessionmaker() as session:
            subscriptions = await repository.subscriptions_to_fan_out(session)
        queued = 0
        for subscription_id in subscriptions:
            queued += await self._fan_out_one(subscription_id)
        self.stats.queued += queued
        return queued

    async def _fan_out_one(self, subscription_id: int) -> int:
        async with self.database.sessionmaker() as session, session.begin():
            subscription = await repository.lock_for_fan_out(session, subscription_id)
            if subscription is None:
                return 0
            changes = await change_repository.read_changes(
                session,
                after=(subscription.cursor_transaction, subscription.cursor_sequence),
                datasets=None,
                since=None,
                limit=FAN_OUT_BATCH,
            )
            if not changes:
                return 0
            wanted = [
                change
                for change in changes
                if wants(
                    subscription.event_types,
                    f"{change.dataset}.{OPERATIONS[change.operation]}",
                )
            ]
            records = await self._records(session, wanted)
            base = (self.settings.public_base_url or "").rstrip("/")
            rows = []
            for change in wanted:
                spec = REGISTRY.get(change.dataset)
                record = records.get(change.dataset, {}).get(change.key)
                url = None
                if base and spec is not None and spec.record_path and record is not None:
                    url = base + spec.record_path.format(key=change.key)
                event_type = f"{change.dataset}.{OPERATIONS[change.operation]}"
                rows.append(
                    {
                        "event_id": change.sequence,
                        "event_type": event_type,
                        "resource": f"{change.dataset}/{change.key}",
                        "payload": {
                            "id": str(change.sequence),
                            "type": event_type,
                            "occurred_at": change.changed_at.isoformat(),
                            "dataset": change.dataset,
                            "key": change.key,
                            "url": url,
                            "record": record,
                        },
                    }
                )
            last = changes[-1]
            await repository.queue_deliveries(
                session, subscription_id, rows, (last.transaction_id, last.sequence)
            )
            return len(rows)

    @staticmethod
    async def _records(
        session: Any, changes: list[change_repository.ChangeRow]
    ) -> dict[str, dict[str, Any]]:
        keys: dict[str, list[str]] = defaultdict(list)
        for change in changes:
            if change.operation != "delete":
                keys[change.dataset].append(change.key)
        return await current_records(session, keys)

    # --- delivery ------------------------------------------------------------------------------

    async def deliver(self) -> int:
        """Send one batch of due deliveries; the number attempted."""
        async with self.database.sessionmaker() as session, session.begin():
            claimed = await repository.claim(
                session, limit=self.batch, lease_seconds=self.lease_seconds
            )
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._send(delivery) for delivery in claimed))
        successes: list[tuple[int, int]] = []
        failures: list[tuple[int, int | None, str, timedelta, bool]] = []
        now = datetime.now(UTC)
        give_up_after = timedelta(hours=self.settings.webhook_retry_hours)
        for delivery, (status, error) in zip(claimed, results, strict=True):
            if error is None and status is not None:
                successes.append((delivery.id, status))
                continue
            delay = retry_delay(delivery.attempts)
            give_up = now + delay - delivery.created_at > give_up_after
            failures.append((delivery.id, status, error or "", delay, give_up))
        async with self.database.sessionmaker() as session, session.begin():
            await repository.record_success(session, successes)
            await repository.record_failure(session, failures)
            disabled = await repository.disable_failing(
                session, timedelta(hours=self.settings.webhook_disable_after_hours)
            )
        self.stats.delivered += len(successes)
        self.stats.failed_attempts += len(failures)
        for subscription in disabled:
            await self._tell_owner(subscription)
        return len(claimed)

    async def _send(self, delivery: repository.Claimed) -> tuple[int | None, str | None]:
        """(HTTP status, None) when the receiver accepted (2xx); else (status or None, error)."""
        refused = await self._refused(delivery.url)
        if refused is not None:
            return None, refused
        body = delivery.payload_text.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(delivery.secret, body),
            "Territoire-Event": delivery.event_type,
            "Territoire-Event-Id": str(delivery.event_id),
            "Territoire-Delivery": str(delivery.id),
            "Territoire-Subscription": str(delivery.subscription_id),
            "Territoire-Timestamp": str(int(time.time())),
        }
        async with self._semaphore:
            try:
                response = await self.client.post(delivery.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                return None, f"{type(error).__name__}: {error}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    async def _refused(self, url: str) -> str | None:
        """Why the URL may not be called now (checked again: a name may change address)."""
        now = time.monotonic()
        cached = self._targets_checked.get(url)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            await check_target(url, self.settings.webhook_allow_private_targets)
            reason = None
        except TargetRefusedError as error:
            reason = f"refused: {error}"
        if len(self._targets_checked) > 10_000:
            self._targets_checked.clear()
        self._targets_checked[url] = (now + 60, reason)
        return reason

    async def _tell_owner(self, subscription: Any) -> None:
        logger.warning("webhook subscription %s disabled: %s", subscription.id, "failing")
        if not subscription.contact_email:
            return
        plain = (
            f"Votre abonnement webhook n° {subscription.id} vers {subscription.url} a été "
            f"désactivé : {subscription.disabled_reason}.\n"
            f"Réactivez-le une fois le récepteur réparé : POST /v1/webhooks/{subscription.id}"
            "/enable (les événements en attente seront alors envoyés).\n"
        )
        rich = (
            f"<p>Votre abonnement webhook n° {subscription.id} vers "
            f"<code>{html.escape(subscription.url)}</code> a été désactivé : "
            f"{html.escape(subscription.disabled_reason or '')}.</p><p>Réactivez-le une fois le "
            f"récepteur réparé : <code>POST /v1/webhooks/{subscription.id}/enable</code>.</p>"
        )
        await mail.send(
            self.settings,
            mail.message(
                self.settings.smtp_from,
                subscription.contact_email,
                f"Webhook {subscription.id} désactivé",
                plain,
                rich,
            ),
        )

    # --- the loop ------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One fan-out and delivery round; how much work it did."""
        return await self.fan_out() + await self.deliver()

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        failures = 0
        try:
            while not stop.is_set():
                try:
                    worked = await self.run_once()
                    failures = 0
                except Exception as error:
                    # The database restarting, a network cut: nothing is lost (the cursor moves
                    # with the queued events, a leased delivery comes back when its lease runs
                    # out); try again shortly, a little later each time, at most every 5 s.
                    if database_unavailable(error):
                        logger.warning("webhook round failed, retrying: %s", type(error).__name__)
                    else:
                        logger.exception("webhook round failed, retrying")
                    failures += 1
                    await asyncio.sleep(min(0.25 * 2**failures, 5.0))
                    worked = 0
                if worked:
                    continue
                self._wake.clear()
                waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
                await asyncio.wait(
                    waiters,
                    timeout=self.settings.webhook_poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            listener.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the loop when data changes (the same notifications as the response cache)."""

        def wake(*_: object) -> None:
            self._wake.set()

        while not stop.is_set():
            lost = asyncio.Event()
            try:
                pool = await self.database.reader_pool()
                async with pool.acquire() as connection:
                    on_lost = functools.partial(_set, lost)
                    connection.add_termination_listener(on_lost)
                    await connection.add_listener(CHANNEL, wake)
                    try:
                        waiters = [asyncio.create_task(e.wait()) for e in (stop, lost)]
                        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                        for waiter in waiters:
                            waiter.cancel()
                    finally:
                        connection.remove_termination_listener(on_lost)
                        if not connection.is_closed():
                            await connection.remove_listener(CHANNEL, wake)
                # Lost: changes may have been missed; the polling loop finds them anyway.
                self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # polling goes on meanwhile
                logger.warning("webhook listener cannot listen (%s); retrying", error)
            await asyncio.sleep(1)


def _set(event: asyncio.Event, *_: object) -> None:
    event.set()
