"""SQL of idempotent writes: claim a key in the write's own transaction, store the answer."""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A key whose record has expired is claimed again, as if it were new.
_CLAIM = text(
    """
    INSERT INTO idempotency_record (route, key_digest, request_digest, expires_at)
    VALUES (:route, :key_digest, :request_digest, now() + make_interval(hours => :hours))
    ON CONFLICT (route, key_digest) DO UPDATE
        SET request_digest = excluded.request_digest, status_code = NULL, response = NULL,
            created_at = now(), expires_at = excluded.expires_at
        WHERE idempotency_record.expires_at < now()
    RETURNING true
    """
)
_READ = text(
    "SELECT request_digest, status_code, response FROM idempotency_record "
    "WHERE route = :route AND key_digest = :key_digest"
)
_STORE = text(
    "UPDATE idempotency_record SET status_code = :status_code, response = :response "
    "WHERE route = :route AND key_digest = :key_digest"
)
_PURGE = text(
    "DELETE FROM idempotency_record WHERE ctid IN (SELECT ctid FROM idempotency_record "
    "WHERE expires_at < now() ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)"
)


@dataclass(frozen=True)
class Stored:
    request_digest: bytes
    status_code: int | None
    response: bytes | None


async def claim(
    session: AsyncSession, route: str, key_digest: bytes, request_digest: bytes, hours: int
) -> bool:
    """True when this transaction now owns the key. Otherwise another one holds or held it:
    a concurrent claimer waits here on the unique index until that transaction ends."""
    result = await session.execute(
        _CLAIM,
        {
            "route": route,
            "key_digest": key_digest,
            "request_digest": request_digest,
            "hours": hours,
        },
    )
    return result.scalar() is not None


async def read(session: AsyncSession, route: str, key_digest: bytes) -> Stored | None:
    row = (await session.execute(_READ, {"route": route, "key_digest": key_digest})).first()
    return None if row is None else Stored(bytes(row[0]), row[1], row[2] and bytes(row[2]))


async def store(
    session: AsyncSession, route: str, key_digest: bytes, status_code: int, response: bytes
) -> None:
    await session.execute(
        _STORE,
        {
            "route": route,
            "key_digest": key_digest,
            "status_code": status_code,
            "response": response,
        },
    )


async def purge_expired(session: AsyncSession) -> None:
    await session.execute(_PURGE)
