"""Application factory: `create_app(settings)` builds the service; uvicorn calls it with none."""

import asyncio
import gc
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import asyncpg
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.routing import APIRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import metrics
from app.access_log import anonymize_access_log, configure_access_log
from app.cache import ChangeListener, ResponseCache, ResponseCacheMiddleware
from app.config import Settings, get_settings
from app.db import create_database, plain_dsn
from app.errors import install_error_handlers
from app.http_cache.compression import CompressionMiddleware
from app.http_cache.conditional import HttpCachingMiddleware
from app.http_cache.policy import CachingPolicy
from app.http_cache.versions import DataVersions
from app.limits import BodyLimitMiddleware
from app.observability import ObservabilityMiddleware, RouteTemplateMiddleware
from app.openapi import build_openapi
from app.ratelimit import RateLimiter
from app.replica_routing import ReplicaMiddleware
from app.repositories.publication import VersionRow, dataset_versions_on
from app.routers import (
    admin,
    changes,
    club,
    communes,
    docs,
    editing,
    explorer,
    health,
    indicators,
    initiatives,
    moderation,
    ogc,
    ogc_tiles,
    plan,
    proposals,
    publication,
    search,
    supports,
    territory,
    webhooks,
)
from app.routers import metrics as metrics_router
from app.services.exports import FiguresCache
from app.services.proposals import ProposalsState
from app.services.publication import datasets_read, own_validated

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DESCRIPTION = """\
Open data on a territorial project (*projet de territoire*): its plan (axes, ambitions,
operational objectives, actions) with its progress, budgets and milestones, the indicators that
measure it, and the member communes with their boundaries.

Every error is an RFC 9457 problem (`application/problem+json`) that names what to fix.
Lists are paged with an opaque `cursor`; the next page is in `next_cursor` and in the `Link` header.
"""


# What the change feed shows depends on which transactions have ended, not only on committed
# data: validated by its body's hash and never kept in the response cache. So are the private
# answers: moderation, the admin and editor lists (keys, audit, deletions), and the club (its
# data has no dataset version), a proposal's private status; their routes give their own validators.
BODY_VALIDATED = (
    "/v1/changes",
    "/v1/moderation/",
    "/v1/keys",
    "/v1/audit",
    "/v1/deletions",
    "/v1/club/",
    "/v1/proposals",
)

# Outside /v1/, the public pages kept in the response cache: they show published data only
# (every change to it is notified), the same to every anonymous client.
CACHED_PAGES = frozenset(("/", "/ogc", "/ogc/collections"))


def migration_head() -> str:
    """The revision the code expects the database at (read once, at start-up)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migration found")
    return head


def code_fingerprint(settings: Settings) -> str:
    """Changes with the code, the dependencies and the settings: part of every ETag, so that a
    new deployment never answers 304 for a representation it would render differently."""
    digest = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "app").rglob("*.py")):
        digest.update(path.read_bytes())
    for package in ("fastapi", "pydantic", "rdflib", "sqlalchemy", "orjson"):
        digest.update(metadata.version(package).encode())
    digest.update(settings.model_dump_json().encode())
    return digest.hexdigest()


class VersionReader:
    """Reads the dataset versions on a small pool of its own: one round trip, no transaction."""

    def __init__(self, dsn: str, connect_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> Sequence[VersionRow]:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    # A dead connection is replaced on its next use (asyncpg reconnects it).
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=1,
                        max_size=4,
                        timeout=self.connect_timeout,
                        command_timeout=self.connect_timeout * 2,
                    )
        return await dataset_versions_on(self._pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


def operation_id(route: APIRoute) -> str:
    # Stable ids for generated clients: the handler's name, unique across the service.
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = create_database(settings)
    cache = ResponseCache(
        max_bytes=settings.response_cache_max_mb * 1024 * 1024,
        max_entry_bytes=8 * 1024 * 1024,
    )
    reader = VersionReader(
        plain_dsn(str(settings.database_url)), settings.database_connect_timeout_seconds
    )
    # With replicas, each read of the versions also sets how far a replica must have replayed.
    versions = DataVersions(database.replicas.fenced(reader) if database.replicas else reader)
    # One LISTEN connection keeps in step what derives from committed data: the dataset versions
    # always (a conditional GET is then answered from memory, without a query, response cache or
    # not) and the response cache when it is on.
    kept = (cache, versions) if settings.response_cache else (versions,)
    listener = ChangeListener(
        plain_dsn(str(settings.database_url)),
        *kept,
        connect_timeout=settings.database_connect_timeout_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await listener.start()
        gauges = (
            asyncio.create_task(metrics.keep_pool_gauges(database), name="pool-gauges")
            if settings.metrics
            else None
        )
        # What exists once the app is built (routes, schemas, models: long-lived) is moved out
        # of the garbage collector's sight, so that its collections during requests walk the
        # requests' own objects only.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        yield
        if gauges is not None:
            gauges.cancel()
            metrics.process_exited()
        await listener.stop()
        await app.state.rate_limiter.close()
        await reader.close()
        await database.dispose()

    app = FastAPI(
        title="Territoire API",
        version="0.1.0",
        summary="The projet de territoire of an intercommunality, as open data.",
        description=DESCRIPTION,
        license_info={"name": "Data: Licence Ouverte 2.0", "identifier": "etalab-2.0"},
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.migration_head = migration_head()
    app.state.figures = FiguresCache()
    app.state.data_versions = versions
    app.state.rate_limiter = RateLimiter(settings)
    app.state.proposals = ProposalsState()
    app.state.change_listener = listener
    anonymize_access_log()
    if settings.access_log:
        configure_access_log()

    install_error_handlers(app)
    # Starlette and FastAPI match a request against the routes in order, so each route costs the
    # routes before it: the cheapest, then what maps ask most and no response cache answers (OGC
    # items and tiles), then the most frequent public write (a proposal).
    for module in (
        health,
        ogc,
        ogc_tiles,
        proposals,
        supports,
        territory,
        plan,
        indicators,
        communes,
        initiatives,
        moderation,
        publication,
        changes,
        search,
        webhooks,
        club,
        editing,
        admin,
        docs,
        explorer,
    ):
        app.include_router(module.router)
    if settings.metrics:
        app.include_router(metrics_router.router)
    app.include_router(ogc.assets)
    docs.mount_assets(app)
    explorer.mount_assets(app)
    # Outermost last: the response cache wraps HTTP caching, which wraps compression, so that a
    # cached entry is stored compressed and with its validators, and a hit or its 304 is sent
    # from memory before anything else runs.
    app.add_middleware(RouteTemplateMiddleware)  # innermost: sees the route matched
    app.add_middleware(CompressionMiddleware)
    # Also read by the writes' preconditions (If-Match): the ETags they compare are the GETs'.
    app.state.caching_policy = CachingPolicy(
        fingerprint=code_fingerprint(settings),
        started_at=datetime.now(UTC),
        max_age=settings.http_max_age,
        write_origins=frozenset(settings.cors_write_origins),
        datasets_read=datasets_read,
        body_validated=BODY_VALIDATED,
        own_validated=own_validated,
    )
    app.add_middleware(HttpCachingMiddleware, versions=versions, policy=app.state.caching_policy)
    if database.replicas is not None:
        debug = settings.replica_debug_header
        app.add_middleware(ReplicaMiddleware, replicas=database.replicas, debug_header=debug)
    if settings.response_cache:
        app.add_middleware(
            ResponseCacheMiddleware,
            cache=cache,
            prefixes=("/v1/",),
            exclude=BODY_VALIDATED,
            paths=CACHED_PAGES,
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.trusted_proxies:  # else X-Forwarded-For is ignored: the client is the peer
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Outermost: every response gets its request id and is logged and counted; a database
    # outage anywhere inside becomes a 503 (app.outage).
    app.add_middleware(
        ObservabilityMiddleware,
        retry_after=settings.outage_retry_after_seconds,
        measure=settings.metrics,
        log=settings.access_log,
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app
