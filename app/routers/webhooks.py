"""Webhooks for key holders: subscriptions, the delivery log, redelivery."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth import KeyDep
from app.db import SessionDep
from app.routers import convertors  # noqa: F401 - registers {…:id}
from app.routers.params import StrictQuery
from app.schemas.club import Accepted
from app.schemas.problem import problem_responses
from app.schemas.webhooks import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from app.services import webhook_subscriptions as service
from app.services.webhooks import event_types

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=[StrictQuery])

SubscriptionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The subscription's id.")]
AUTH_ERRORS = problem_responses(401, 403, 404)


def _out(subscription: object) -> WebhookOut:
    return WebhookOut.model_validate(subscription, from_attributes=True)


@router.get(
    "/event-types",
    response_model=list[str],
    summary="The event types a subscription may ask for",
    description="`<dataset>.<created|updated|deleted>` for every published dataset; a "
    "subscription may also ask for `<dataset>.*` or `*`.",
)
async def list_event_types() -> list[str]:
    return event_types()


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Subscribe a URL to events",
    description="Any valid key may subscribe. Each event is POSTed to the URL as JSON (id, "
    "type, occurred_at, dataset, key, url, record as it was when queued, null once deleted), "
    "signed with the secret returned here once (`Territoire-Signature: sha256=<HMAC-SHA256 "
    "of the body, hex>`). A failed delivery is retried with exponential backoff for at least "
    "24 hours; events of one record arrive in order; a subscription whose deliveries all fail "
    "for days is disabled and its contact told. The URL must be http(s) and resolve to public "
    "addresses.",
    responses=problem_responses(401, 422),
)
async def create_webhook(
    request: Request, response: Response, caller: KeyDep, session: SessionDep, body: WebhookIn
) -> WebhookCreated:
    subscription = await service.create(session, caller, body, request.app.state.settings)
    response.headers["Location"] = f"/v1/webhooks/{subscription.id}"
    return WebhookCreated.model_validate(subscription, from_attributes=True)


@router.get(
    "",
    response_model=list[WebhookOut],
    summary="The key's subscriptions (every one for an admin)",
    responses=problem_responses(401),
)
async def list_webhooks(caller: KeyDep, session: SessionDep) -> list[WebhookOut]:
    return [_out(found) for found in await service.visible(session, caller)]


@router.get(
    "/{subscription_id:id}",
    response_model=WebhookOut,
    summary="One subscription",
    responses=AUTH_ERRORS,
)
async def get_webhook(
    subscription_id: SubscriptionId, caller: KeyDep, session: SessionDep
) -> WebhookOut:
    return _out(await service.get(session, caller, subscription_id))


@router.delete(
    "/{subscription_id:id}",
    status_code=204,
    summary="Unsubscribe (its pending deliveries are dropped)",
    responses=AUTH_ERRORS,
)
async def delete_webhook(
    subscription_id: SubscriptionId, caller: KeyDep, session: SessionDep
) -> Response:
    await service.remove(session, caller, subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id:id}/enable",
    response_model=WebhookOut,
    summary="Enable a disabled subscription again",
    description="Its deliveries waiting since it was disabled are then sent, in order.",
    responses=AUTH_ERRORS,
)
async def enable_webhook(
    subscription_id: SubscriptionId, caller: KeyDep, session: SessionDep
) -> WebhookOut:
    return _out(await service.enable(session, caller, subscription_id))


@router.get(
    "/{subscription_id:id}/deliveries",
    response_model=DeliveryPage,
    summary="The delivery log, newest first",
    responses=AUTH_ERRORS,
)
async def list_deliveries(
    subscription_id: SubscriptionId,
    caller: KeyDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Deliveries with a smaller id.", examples=[100]),
    ] = None,
) -> DeliveryPage:
    found = await service.deliveries(session, caller, subscription_id, before, limit + 1)
    items = [DeliveryOut.model_validate(d, from_attributes=True) for d in found[:limit]]
    return DeliveryPage(items=items, next_cursor=str(items[-1].id) if len(found) > limit else None)


@router.post(
    "/{subscription_id:id}/deliveries/{delivery_id:id}/redeliver",
    status_code=202,
    response_model=Accepted,
    summary="Send a delivery again",
    description="Queued at once, with the same body and signature; it keeps its place before "
    "the later events of its record.",
    responses=AUTH_ERRORS,
)
async def redeliver(
    subscription_id: SubscriptionId,
    delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    caller: KeyDep,
    session: SessionDep,
) -> Accepted:
    await service.redeliver(session, caller, subscription_id, delivery_id)
    return Accepted(detail=f"Delivery {delivery_id} is queued again.")
