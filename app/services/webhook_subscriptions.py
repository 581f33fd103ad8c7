"""What key holders may do with webhook subscriptions: their own, or any for an admin."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import InvalidBodyError, NotFoundError
from app.models.participation import Scope
from app.models.webhooks import WebhookDelivery, WebhookSubscription
from app.repositories import webhooks as repository
from app.schemas.webhooks import WebhookIn
from app.services.keys import Caller
from app.services.webhooks import TargetRefusedError, check_event_types, check_target, new_secret


async def create(
    session: AsyncSession, caller: Caller, body: WebhookIn, settings: Settings
) -> WebhookSubscription:
    problems: dict[str, str] = {}
    url = str(body.url)
    try:
        await check_target(url, settings.webhook_allow_private_targets)
    except TargetRefusedError as error:
        problems["url"] = str(error)
    problems.update(check_event_types(body.event_types))
    if problems:
        raise InvalidBodyError(problems)
    # Events from now on: the subscription starts at the end of the change log.
    cursor = await repository.change_log_end(session)
    return await repository.insert_subscription(
        session,
        key_id=caller.key_id,
        url=url,
        event_types=sorted(set(body.event_types)),
        secret=new_secret(),
        contact_email=body.contact_email,
        description=body.description,
        cursor_transaction=cursor[0],
        cursor_sequence=cursor[1],
    )


def _sees_all(caller: Caller) -> bool:
    return Scope.admin.value in caller.scopes


async def visible(session: AsyncSession, caller: Caller) -> Sequence[WebhookSubscription]:
    return await repository.list_subscriptions(
        session, None if _sees_all(caller) else caller.key_id
    )


async def get(
    session: AsyncSession, caller: Caller, subscription_id: int, *, lock: bool = False
) -> WebhookSubscription:
    found = await repository.get_subscription(session, subscription_id, lock=lock)
    # Another key's subscription is reported as missing: its existence is not the caller's.
    if found is None or (found.key_id != caller.key_id and not _sees_all(caller)):
        raise NotFoundError(f"No webhook subscription {subscription_id} for this key.")
    return found


async def remove(session: AsyncSession, caller: Caller, subscription_id: int) -> None:
    await get(session, caller, subscription_id, lock=True)
    await repository.delete_subscription(session, subscription_id)


async def enable(
    session: AsyncSession, caller: Caller, subscription_id: int
) -> WebhookSubscription:
    await get(session, caller, subscription_id, lock=True)
    await repository.enable_subscription(session, subscription_id)
    session.expire_all()
    return await get(session, caller, subscription_id)


async def deliveries(
    session: AsyncSession, caller: Caller, subscription_id: int, before: int | None, limit: int
) -> Sequence[WebhookDelivery]:
    await get(session, caller, subscription_id)
    return await repository.list_deliveries(session, subscription_id, before=before, limit=limit)


async def redeliver(
    session: AsyncSession, caller: Caller, subscription_id: int, delivery_id: int
) -> None:
    await get(session, caller, subscription_id)
    if not await repository.redeliver(session, subscription_id, delivery_id):
        raise NotFoundError(f"No delivery {delivery_id} in webhook subscription {subscription_id}.")
