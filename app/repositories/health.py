"""The database's schema revision, for the readiness probe."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def schema_revision(session: AsyncSession) -> str | None:
    result = await session.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()
