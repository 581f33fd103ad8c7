"""Prometheus metrics for the operators: `/metrics`, out of the public API description.

Optional bearer token (METRICS_TOKEN); the queue gauges are read from the database within
METRICS_DATABASE_TIMEOUT_SECONDS: a database that does not answer gives
`territoire_metrics_database_up 0`, never a scrape that hangs.
"""

import asyncio
import hmac
import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import metrics
from app.config import Settings
from app.db import Database
from app.errors import AuthenticationError
from app.outage import database_unavailable
from app.repositories.operations import queue_stats

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def _check_token(request: Request, settings: Settings) -> None:
    if settings.metrics_token is None:
        return
    sent = request.headers.get("authorization", "")
    scheme, _, token = sent.partition(" ")
    if not sent:
        raise AuthenticationError(
            "/metrics needs `Authorization: Bearer <METRICS_TOKEN>`.", error=None
        )
    expected = settings.metrics_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise AuthenticationError("The metrics token sent is not the one configured.")


async def _queues(database: Database, seconds: float) -> dict[str, float] | None:
    try:
        async with asyncio.timeout(seconds):
            return await queue_stats(await database.reader_pool(), seconds)
    except Exception as error:
        if not database_unavailable(error):
            logger.exception("queue gauges not read")
        return None


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    _check_token(request, settings)
    database: Database = request.app.state.database
    metrics.update_pool_gauges(database)
    stats = await _queues(database, settings.metrics_database_timeout_seconds)
    body = metrics.render(metrics.queue_families(stats))
    return Response(body, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
