"""SQL of proposals from the public and of supports."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import WriteConnection

# One statement (one round trip; alone, it needs no BEGIN nor COMMIT): the writer named for
# the audit log (the CTE is joined, so it runs before the row triggers, which fire at the end
# of the statement), the commune by spatial join as the dataset loader finds it.
_INSERT = """
    WITH actor AS (SELECT set_config('territoire.actor', $9, true)),
         shape AS (SELECT ST_GeomFromEWKT($8::text) AS geometry)
    INSERT INTO initiative (title, description, category, status, location_precision,
                            author_name, contact, address, status_token_digest, geometry,
                            commune_insee)
    SELECT $1, $2, $3, 'submitted', 'exact', $4, $5, $6, $7, shape.geometry,
           (SELECT c.insee FROM commune AS c
            WHERE ST_Intersects(c.boundary, ST_PointOnSurface(shape.geometry))
            ORDER BY c.insee LIMIT 1)
    FROM shape, actor
    RETURNING id, created_at
"""
# With an Idempotency-Key, still one statement: the key claimed (the row of a concurrent
# claimer is waited for on the unique index), the answer stored sealed, and the initiative
# inserted under its reserved id only if the claim succeeded. No row back: the key was taken.
_INSERT_ONCE = """
    WITH actor AS (SELECT set_config('territoire.actor', $9, true)),
         shape AS (SELECT ST_GeomFromEWKT($8::text) AS geometry),
         claim AS (
            INSERT INTO idempotency_record AS r (route, key_digest, request_digest, expires_at,
                                                 status_code, response)
            VALUES ($12, $13, $14, now() + make_interval(hours => $15), $16, $17)
            ON CONFLICT (route, key_digest) DO UPDATE
                SET request_digest = excluded.request_digest, status_code = excluded.status_code,
                    response = excluded.response, created_at = now(),
                    expires_at = excluded.expires_at
                WHERE r.expires_at < now()
            RETURNING true
         )
    INSERT INTO initiative (id, title, description, category, status, location_precision,
                            author_name, contact, address, status_token_digest, geometry,
                            commune_insee, created_at, updated_at)
    SELECT $10, $1, $2, $3, 'submitted', 'exact', $4, $5, $6, $7, shape.geometry,
           (SELECT c.insee FROM commune AS c
            WHERE ST_Intersects(c.boundary, ST_PointOnSurface(shape.geometry))
            ORDER BY c.insee LIMIT 1),
           $11, $11
    FROM shape, actor, claim
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


async def insert_proposal(
    connection: WriteConnection, proposal: NewProposal, actor: str
) -> tuple[int, datetime]:
    row = await connection.fetchrow(
        _INSERT,
        proposal.title,
        proposal.description,
        proposal.category,
        proposal.author_name,
        proposal.contact,
        proposal.address,
        proposal.token_digest,
        proposal.geometry,
        actor,
    )
    assert row is not None
    return int(row[0]), row[1]


@dataclass(frozen=True)
class StoredAnswer:
    route: str
    key_digest: bytes
    request_digest: bytes
    hours: int
    status_code: int
    sealed: bytes


async def insert_proposal_once(
    connection: WriteConnection,
    proposal: NewProposal,
    actor: str,
    initiative_id: int,
    submitted_at: datetime,
    answer: StoredAnswer,
) -> bool:
    """False when another request holds the key: nothing was written."""
    inserted = await connection.fetchval(
        _INSERT_ONCE,
        proposal.title,
        proposal.description,
        proposal.category,
        proposal.author_name,
        proposal.contact,
        proposal.address,
        proposal.token_digest,
        proposal.geometry,
        actor,
        initiative_id,
        submitted_at,
        answer.route,
        answer.key_digest,
        answer.request_digest,
        answer.hours,
        answer.status_code,
        answer.sealed,
    )
    return inserted is not None


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
