"""API keys and the transaction's actor (read by the audit and change triggers)."""

from collections.abc import Sequence

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.participation import ApiKey


async def insert_key(
    session: AsyncSession,
    *,
    name: str,
    prefix: str,
    digest: bytes,
    scopes: Sequence[str],
    created_by: str | None,
) -> ApiKey:
    key = ApiKey(
        name=name, prefix=prefix, secret_digest=digest, scopes=list(scopes), created_by=created_by
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)
    return key


async def find_by_digest(session: AsyncSession, digest: bytes) -> ApiKey | None:
    return (
        await session.execute(select(ApiKey).where(ApiKey.secret_digest == digest))
    ).scalar_one_or_none()


async def list_keys(session: AsyncSession, *, include_revoked: bool) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return (await session.execute(query)).scalars().all()


async def get_key(session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def revoke_key(session: AsyncSession, key_id: int) -> ApiKey | None:
    """Revoke a key (a second revocation keeps the first date); None when there is no such key."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    key = await session.get(ApiKey, key_id, populate_existing=True)
    return key


async def set_actor(session: AsyncSession, actor: str) -> None:
    """Name who writes in this transaction: the audit log and the change log record it."""
    await session.execute(
        text("SELECT set_config('territoire.actor', :actor, true)"), {"actor": actor}
    )
