"""Application factory: `create_app(settings)` builds the service; uvicorn calls it with none."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.cache import ChangeListener, ResponseCache, ResponseCacheMiddleware
from app.config import Settings, get_settings
from app.db import create_database, plain_dsn
from app.errors import install_error_handlers
from app.openapi import build_openapi
from app.routers import communes, docs, health, indicators, initiatives, ogc, plan, territory

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DESCRIPTION = """\
Open data on a territorial project (*projet de territoire*): its plan (axes, ambitions,
operational objectives, actions) with its progress, budgets and milestones, the indicators that
measure it, and the member communes with their boundaries.

Every error is an RFC 9457 problem (`application/problem+json`) that names what to fix.
Lists are paged with an opaque `cursor`; the next page is in `next_cursor` and in the `Link` header.
"""


def migration_head() -> str:
    """The revision the code expects the database at (read once, at start-up)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migration found")
    return head


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
    listener = ChangeListener(plain_dsn(str(settings.database_url)), cache)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.response_cache:
            await listener.start()
        yield
        await listener.stop()
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

    install_error_handlers(app)
    for module in (health, territory, plan, indicators, communes, initiatives, ogc, docs):
        app.include_router(module.router)
    app.include_router(ogc.assets)
    docs.mount_assets(app)
    if settings.response_cache:
        app.add_middleware(ResponseCacheMiddleware, cache=cache, prefixes=("/v1/",))
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app
