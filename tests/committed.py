"""A database of a test module's own, for tests whose writes must really commit (workers that
read the change log, several transactions): recreated, migrated and loaded with the CALL
dataset, like the main test database, and left to the module."""

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.services.dataset import load_dataset, read_dataset
from tests.conftest import CALL_DATASET, TEST_DATABASE_URL, migrate, recreate_database


def committed_url(suffix: str) -> str:
    return f"{TEST_DATABASE_URL}_{suffix}"


async def committed_database(url: str) -> AsyncEngine:
    await recreate_database(url)
    await migrate(url)
    engine = create_async_engine(url)
    async with engine.begin() as connection, AsyncSession(bind=connection) as session:
        await load_dataset(session, read_dataset(CALL_DATASET))
    return engine
