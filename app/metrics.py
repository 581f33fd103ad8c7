"""Prometheus metrics: what each process counts, and what `/metrics` renders.

Requests are counted by route template (never the raw path: bounded labels, no token of a
private link), method and status, with a duration histogram; the response cache's hits and
misses; the pools' use. The webhook and digest queues are read from the database when
`/metrics` is scraped (they are shared by every process), within a short time limit.

Several uvicorn workers: with `PROMETHEUS_MULTIPROC_DIR` set before the processes start (an
empty folder: `territoire metrics-reset` empties it), each process writes its values to files
there and whichever worker answers a scrape adds them all up (prometheus-client's multiprocess
mode). Without it, each process renders its own values only.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from app.db import Database
from app.metrics_files import multiprocess_dir

logger = logging.getLogger(__name__)

UNROUTED = "<unrouted>"  # the route label of a request no route matched (404)
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "territoire_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
DURATION = Histogram(
    "territoire_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method.",
    ("route", "method"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE = Counter(
    "territoire_response_cache",
    "Public GETs looked up in the response cache: hit (answered from memory) or miss.",
    ("result",),
)
UNAVAILABLE = Counter(
    "territoire_database_unavailable_responses",
    "Requests answered 503 because the database did not answer.",
)
# Summed over the live processes; a process that exits takes its values away.
POOL_CHECKED_OUT = Gauge(
    "territoire_db_pool_checked_out",
    "Database connections in use, by pool (sqlalchemy: sessions; asyncpg: hot read paths).",
    ("pool",),
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "territoire_db_pool_size",
    "Database connections open, by pool.",
    ("pool",),
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "territoire_db_pool_max",
    "Most database connections a pool may open, by pool.",
    ("pool",),
    multiprocess_mode="livesum",
)


# prometheus-client's `labels()` checks and joins the label values and takes a lock on every
# call: the children are kept here by what they are looked up with (bounded: a method is the
# client's word, so a dict of them is emptied when it grows past _CHILDREN; the metric's own
# children are then those prometheus-client holds anyway).
_CHILDREN = 4096
_requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_cache_results: dict[bytes, Any] = {}


def observe_request(
    route: str, method: str, status: int, seconds: float, cache: bytes | None = None
) -> None:
    """Count one answered request, its duration, and its response cache result (X-Cache)."""
    key = (route, method, status)
    children = _requests.get(key)
    if children is None:
        if len(_requests) >= _CHILDREN:
            _requests.clear()
        children = (REQUESTS.labels(route, method, str(status)), DURATION.labels(route, method))
        _requests[key] = children
    children[0].inc()
    children[1].observe(seconds)
    if cache is not None:
        result = _cache_results.get(cache)
        if result is None:
            if len(_cache_results) >= _CHILDREN:
                _cache_results.clear()
            result = _cache_results[cache] = CACHE.labels(cache.decode("latin-1"))
        result.inc()


def process_exited() -> None:
    """A worker shuts down: its live gauges (pool use) stop counting."""
    if multiprocess_dir() is not None:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def update_pool_gauges(database: Database) -> None:
    pool: Any = database.engine.pool
    with contextlib.suppress(AttributeError):  # a NullPool (tests) has no counts
        POOL_CHECKED_OUT.labels("sqlalchemy").set(pool.checkedout())
        POOL_SIZE.labels("sqlalchemy").set(pool.checkedin() + pool.checkedout())
        POOL_MAX.labels("sqlalchemy").set(pool.size() + max(pool._max_overflow, 0))
    reader = database._pool
    if reader is not None:
        size = reader.get_size()
        POOL_CHECKED_OUT.labels("asyncpg").set(size - reader.get_idle_size())
        POOL_SIZE.labels("asyncpg").set(size)
        POOL_MAX.labels("asyncpg").set(reader.get_max_size())
    else:
        POOL_CHECKED_OUT.labels("asyncpg").set(0)
        POOL_SIZE.labels("asyncpg").set(0)
        POOL_MAX.labels("asyncpg").set(database.pool_size)


async def keep_pool_gauges(database: Database, every: float = 1.0) -> None:
    """Refresh this process's pool gauges every `every` seconds (a lifespan task): a scrape
    answered by another worker still sees this one's pools."""
    while True:
        try:
            update_pool_gauges(database)
        except Exception:  # a gauge must never take the service down
            logger.exception("pool gauges not updated")
        await asyncio.sleep(every)


class _Fixed(Collector):
    """Metric families computed before the scrape (the queue gauges read from the database)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class _ProcessDefault(Collector):
    """The default registry (this process's metrics, with its process and platform ones)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def queue_families(stats: dict[str, float] | None) -> list[Metric]:
    """The gauges of the webhook and digest queues; `stats` None: the database did not answer."""
    up = GaugeMetricFamily(
        "territoire_metrics_database_up",
        "1 when the queue gauges could be read from the database for this scrape, else 0.",
        value=0 if stats is None else 1,
    )
    if stats is None:
        return [up]
    described = {
        "webhook_queue_depth": "Webhook deliveries pending (due or waiting for a retry).",
        "webhook_queue_oldest_age_seconds": "Age of the oldest pending webhook delivery.",
        "webhook_fan_out_lag_seconds": (
            "Age of the oldest change-log entry not yet queued for an active subscription."
        ),
        "digest_queue_depth": "Members whose digest is due and has something to send.",
        "digest_queue_oldest_age_seconds": (
            "Age of the oldest change waiting in a due digest (0 when none)."
        ),
    }
    gauges: list[Metric] = [up]
    return gauges + [
        GaugeMetricFamily(f"territoire_{name}", text, value=stats.get(name, 0.0))
        for name, text in described.items()
    ]


def render(families: list[Metric]) -> bytes:
    """The exposition text: every process's metrics (multiprocess mode) or this one's."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir() is not None:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessDefault())
    registry.register(_Fixed(families))
    return generate_latest(registry)
