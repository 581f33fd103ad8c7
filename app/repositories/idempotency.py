"""SQL of idempotent writes: claim a key in the write's own transaction, store the answer.

On the asyncpg connection of the write's transaction (`app.db.raw_connection(session)` gives
it for a route that writes through a session).
"""

from dataclasses import dataclass

from app.db import WriteConnection

# A key whose record has expired is claimed again, as if it were new.
_CLAIM = """
    INSERT INTO idempotency_record (route, key_digest, request_digest, expires_at)
    VALUES ($1, $2, $3, now() + make_interval(hours => $4))
    ON CONFLICT (route, key_digest) DO UPDATE
        SET request_digest = excluded.request_digest, status_code = NULL, response = NULL,
            created_at = now(), expires_at = excluded.expires_at
        WHERE idempotency_record.expires_at < now()
    RETURNING true
"""
_READ = (
    "SELECT request_digest, status_code, response FROM idempotency_record "
    "WHERE route = $1 AND key_digest = $2"
)
_STORE = (
    "UPDATE idempotency_record SET status_code = $3, response = $4 "
    "WHERE route = $1 AND key_digest = $2"
)
_PURGE = (
    "DELETE FROM idempotency_record WHERE ctid IN (SELECT ctid FROM idempotency_record "
    "WHERE expires_at < now() ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)"
)


@dataclass(frozen=True)
class Stored:
    request_digest: bytes
    status_code: int | None
    response: bytes | None


async def claim(
    connection: WriteConnection,
    route: str,
    key_digest: bytes,
    request_digest: bytes,
    hours: int,
) -> bool:
    """True when this transaction now owns the key. Otherwise another one holds or held it:
    a concurrent claimer waits here on the unique index until that transaction ends."""
    return bool(await connection.fetchval(_CLAIM, route, key_digest, request_digest, hours))


async def read(connection: WriteConnection, route: str, key_digest: bytes) -> Stored | None:
    row = await connection.fetchrow(_READ, route, key_digest)
    return None if row is None else Stored(bytes(row[0]), row[1], row[2] and bytes(row[2]))


async def store(
    connection: WriteConnection,
    route: str,
    key_digest: bytes,
    status_code: int,
    response: bytes,
) -> None:
    await connection.execute(_STORE, route, key_digest, status_code, response)


async def purge_expired(connection: WriteConnection) -> None:
    await connection.execute(_PURGE)
