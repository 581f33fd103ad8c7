"""The schema comes only from Alembic; models and migrations agree; migrations go both ways."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from alembic import command
from app.models import Base
from tests.conftest import TEST_DATABASE_URL, alembic_config, recreate_database


def differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_object": lambda obj, name, type_, reflected, compare_to: (
                not (type_ == "table" and name == "spatial_ref_sys")
            )
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_the_migrated_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_downgrade_then_upgrade_round_trips() -> None:
    url = TEST_DATABASE_URL + "_migrations"
    await recreate_database(url)
    config: Config = alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            tables = await connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            assert tables
            assert tables >= 7
    finally:
        await engine.dispose()
