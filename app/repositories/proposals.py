"""SQL of proposals from the public and of supports."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import WriteConnection

# Any number of proposals in one statement (one round trip, one commit): the writer named for
# the audit log (the CTE is joined, so it runs before the row triggers, which fire at the end
# of the statement); the Idempotency-Keys claimed (a concurrent claimer's row is waited for on
# the unique index) with their sealed answers; each proposal inserted under its reserved id
# unless its key was taken; the commune by spatial join, as the dataset loader finds it.
_INSERT = """
    WITH actor AS (SELECT set_config('territoire.actor', $1, true)),
         input AS (
            SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                                 $7::text[], $8::text[], $9::bytea[], $10::text[],
                                 $11::timestamptz[], $12::bytea[], $13::bytea[], $14::int[],
                                 $15::bytea[])
                AS i(id, title, description, category, author_name, contact, address,
                     token_digest, geometry, created_at, key_digest, request_digest,
                     status_code, response)
         ),
         claim AS (
            INSERT INTO idempotency_record AS r (route, key_digest, request_digest, expires_at,
                                                 status_code, response)
            SELECT $16, key_digest, request_digest, now() + make_interval(hours => $17),
                   status_code, response
            FROM input WHERE key_digest IS NOT NULL
            ON CONFLICT (route, key_digest) DO UPDATE
                SET request_digest = excluded.request_digest, status_code = excluded.status_code,
                    response = excluded.response, created_at = now(),
                    expires_at = excluded.expires_at
                WHERE r.expires_at < now()
            RETURNING key_digest
         ),
         shaped AS (
            SELECT i.*, ST_GeomFromEWKT(i.geometry) AS shape FROM input AS i, actor
            WHERE i.key_digest IS NULL OR i.key_digest IN (SELECT key_digest FROM claim)
         )
    INSERT INTO initiative (id, title, description, category, status, location_precision,
                            author_name, contact, address, status_token_digest, geometry,
                            commune_insee, created_at, updated_at)
    SELECT id, title, description, category, 'submitted', 'exact', author_name, contact,
           address, token_digest, shape,
           (SELECT c.insee FROM commune AS c
            WHERE ST_Intersects(c.boundary, ST_PointOnSurface(shape))
            ORDER BY c.insee LIMIT 1),
           created_at, created_at
    FROM shaped
    RETURNING id
"""
_RESERVE_IDS = (
    "SELECT nextval(pg_get_serial_sequence('initiative', 'id')) FROM generate_series(1, $1)"
)
_STATUS = text(
    "SELECT id, title, status, moderation_reason, moderation_message, created_at, "
    "moderated_at, published_at FROM initiative WHERE status_token_digest = :token_digest"
)
_BOUNDARIES = "SELECT ST_AsBinary(boundary) FROM commune"
_SUPPORT = text(
    """
    WITH target AS (SELECT id FROM initiative WHERE id = :id AND status = 'published'),
    added AS (
        INSERT INTO support (initiative_id, supporter_digest)
        SELECT id, :supporter_digest FROM target
        ON CONFLICT (initiative_id, supporter_digest) DO NOTHING
        RETURNING initiative_id
    )
    SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM added)
    """
)
_SUPPORT_COUNT = text("SELECT support_count FROM initiative WHERE id = :id")


@dataclass(frozen=True)
class NewProposal:
    title: str
    description: str
    category: str
    author_name: str | None
    contact: str
    address: str | None
    token_digest: bytes
    geometry: str  # EWKT, WGS84


@dataclass(frozen=True)
class ProposalRow:
    id: int
    title: str
    status: str
    moderation_reason: str | None
    moderation_message: str | None
    submitted_at: datetime
    moderated_at: datetime | None
    published_at: datetime | None


@dataclass(frozen=True)
class StoredAnswer:
    """The sealed answer to store with the claim of an Idempotency-Key."""

    key_digest: bytes
    request_digest: bytes
    status_code: int
    sealed: bytes


@dataclass(frozen=True)
class PendingProposal:
    """A proposal ready to store: its id reserved, its answer sealed when it has a key."""

    proposal: NewProposal
    id: int
    submitted_at: datetime
    answer: StoredAnswer | None


async def insert_proposals(
    connection: WriteConnection, pending: Sequence[PendingProposal], actor: str, hours: int
) -> set[int]:
    """The ids inserted: a proposal whose key another request holds is not."""
    columns: list[list[Any]] = [[] for _ in range(14)]
    for item in pending:
        new, answer = item.proposal, item.answer
        values = (
            item.id,
            new.title,
            new.description,
            new.category,
            new.author_name,
            new.contact,
            new.address,
            new.token_digest,
            new.geometry,
            item.submitted_at,
            answer and answer.key_digest,
            answer and answer.request_digest,
            answer and answer.status_code,
            answer and answer.sealed,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    rows = await connection.fetch(_INSERT, actor, *columns, "proposals", hours)
    return {int(row[0]) for row in rows}


async def reserve_ids(connection: WriteConnection, count: int) -> list[int]:
    return [int(row[0]) for row in await connection.fetch(_RESERVE_IDS, count)]


async def proposal_by_token(session: AsyncSession, token_digest: bytes) -> ProposalRow | None:
    row = (await session.execute(_STATUS, {"token_digest": token_digest})).first()
    return None if row is None else ProposalRow(*row)


async def commune_boundaries(connection: WriteConnection) -> list[bytes]:
    return [bytes(row[0]) for row in await connection.fetch(_BOUNDARIES)]


async def add_support(
    session: AsyncSession, initiative_id: int, supporter_digest: bytes
) -> tuple[bool, bool, int]:
    """(the initiative is published, this support was added, the count now)."""
    found, added = (
        await session.execute(_SUPPORT, {"id": initiative_id, "supporter_digest": supporter_digest})
    ).one()
    count = 0
    if found:
        count = int((await session.execute(_SUPPORT_COUNT, {"id": initiative_id})).scalar_one())
    return bool(found), bool(added), count
