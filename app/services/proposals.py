"""Proposals from the public: checked, stored as `submitted` (invisible to the public until a
moderator publishes them), and followed by the proposer through a private status link."""

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import asyncpg
import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Reader, WriteConnection, write_connection
from app.errors import InvalidBodyError, NotFoundError
from app.idempotency import RETENTION_HOURS, Answer, Claim, purge_now_and_then, replay
from app.models.initiative import InitiativeStatus
from app.repositories import proposals as repository
from app.schemas.geometry import (
    InvalidGeometryError,
    TerritoryArea,
    ewkt,
    territory_area,
    validate_geometry,
)
from app.schemas.proposal import ProposalIn, ProposalReceipt, ProposalStatus
from app.services.batching import Batcher

# Who writes, for the audit log: an anonymous member of the public.
PUBLIC_ACTOR = "public"
STATUS_PATH = "/v1/proposals/status/"


class AreaCache:
    """The territory's surface for the inside-the-territory check, reloaded now and then (the
    communes change only when a dataset is loaded)."""

    def __init__(self, ttl_seconds: float = 600.0) -> None:
        self.ttl = ttl_seconds
        self._area: TerritoryArea | None = None
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    async def get(self, writer: Reader) -> TerritoryArea:
        area = self._area
        if area is not None and time.monotonic() - self._loaded <= self.ttl:
            return area
        if self._area is None or time.monotonic() - self._loaded > self.ttl:
            async with self._lock:
                if self._area is None or time.monotonic() - self._loaded > self.ttl:
                    async with write_connection(writer) as connection:
                        boundaries = await repository.commune_boundaries(connection)
                    self._area = territory_area(shapely.from_wkb(b) for b in boundaries)
                    self._loaded = time.monotonic()
        return self._area


class ProposalsState:
    """What the proposals keep in memory: the territory's surface; ids reserved in blocks from
    the initiatives' sequence, so that a proposal knows its id, and thus its whole answer,
    before it is stored (with the sealed answer, when it has an Idempotency-Key); and the
    batcher that stores concurrent proposals together, one statement and one commit for all."""

    BLOCK = 64

    def __init__(self) -> None:
        self.areas = AreaCache()
        self._ids: list[int] = []
        self._lock = asyncio.Lock()
        self.batcher: Batcher[repository.PendingProposal, bool] = Batcher(_store)

    async def next_id(self, writer: Reader) -> int:
        if not self._ids:
            async with self._lock:
                if not self._ids:
                    async with write_connection(writer) as connection:
                        ids = await repository.reserve_ids(connection, self.BLOCK)
                    self._ids = ids[::-1]
        return self._ids.pop()


async def _insert(
    connection: WriteConnection, pending: Sequence[repository.PendingProposal]
) -> set[int]:
    # In tests the connection is in the test's transaction: a savepoint, so that a refused
    # statement leaves it usable (in production each statement commits on its own).
    if connection.is_in_transaction():
        async with connection.transaction():
            return await repository.insert_proposals(
                connection, pending, PUBLIC_ACTOR, RETENTION_HOURS
            )
    return await repository.insert_proposals(connection, pending, PUBLIC_ACTOR, RETENTION_HOURS)


async def _store(
    connection: WriteConnection, pending: Sequence[repository.PendingProposal]
) -> list[bool | BaseException]:
    """Whether each proposal was stored (not when another request holds its key)."""
    # A key twice in one statement cannot be claimed: the later ones wait for the next batch
    # round, here as "not stored", and then replay the first one's answer.
    keys: set[bytes] = set()
    first = []
    for item in pending:
        if item.answer is None or item.answer.key_digest not in keys:
            first.append(item)
            if item.answer is not None:
                keys.add(item.answer.key_digest)
    if any(item.answer is not None for item in first):
        await purge_now_and_then(connection)
    try:
        stored = await _insert(connection, first)
    except asyncpg.PostgresError:
        if len(first) == 1:
            raise
        # One bad proposal must not fail the others: each alone, with its own outcome.
        outcomes: list[bool | BaseException] = []
        for item in pending:
            if item not in first:
                outcomes.append(False)
                continue
            try:
                outcomes.append(bool(await _insert(connection, [item])))
            except asyncpg.PostgresError as error:
                outcomes.append(error)
        return outcomes
    return [item.id in stored for item in pending]


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def is_robot(proposal: ProposalIn) -> bool:
    """The honeypot field, hidden in forms, was filled in: only a robot does that."""
    return bool(proposal.website)


def decoy(base_url: str) -> ProposalReceipt:
    """What a robot gets: an answer shaped exactly like an acceptance, so that it learns
    nothing, while nothing at all is stored (no initiative, no idempotency record, no audit)."""
    token = secrets.token_urlsafe(32)
    return ProposalReceipt(
        id=secrets.randbelow(9_000_000) + 1_000_000,
        status=InitiativeStatus.submitted,
        submitted_at=datetime.now(UTC),
        status_token=token,
        status_url=base_url.rstrip("/") + STATUS_PATH + token,
    )


async def _checked(
    writer: Reader, areas: AreaCache, proposal: ProposalIn, token: str
) -> repository.NewProposal:
    try:
        geometry = ewkt(validate_geometry(proposal.geometry, await areas.get(writer)))
    except InvalidGeometryError as error:
        raise InvalidBodyError({"geometry": error.detail}) from error
    return repository.NewProposal(
        title=proposal.title,
        description=proposal.description,
        category=proposal.category,
        author_name=proposal.author_name,
        contact=str(proposal.contact_email),
        address=proposal.address,
        token_digest=token_digest(token),
        geometry=geometry,
    )


@contextmanager
def _known_category() -> Iterator[None]:
    try:
        yield
    except asyncpg.ForeignKeyViolationError as error:
        if error.constraint_name == "fk_initiative_category_axis":
            raise InvalidBodyError({"category": "no axis of the plan has this code"}) from error
        raise


async def status(session: AsyncSession, token: str, base_url: str) -> ProposalStatus:
    row = await repository.proposal_by_token(session, token_digest(token))
    if row is None:
        raise NotFoundError("no proposal has this status link")
    published = row.status == InitiativeStatus.published.value
    return ProposalStatus(
        id=row.id,
        title=row.title,
        status=InitiativeStatus(row.status),
        moderation_reason=row.moderation_reason,
        moderation_message=row.moderation_message,
        submitted_at=row.submitted_at,
        moderated_at=row.moderated_at,
        published_at=row.published_at,
        url=f"{base_url.rstrip('/')}/v1/initiatives/{row.id}" if published else None,
    )


async def submit(
    writer: Reader,
    state: ProposalsState,
    proposal: ProposalIn,
    base_url: str,
    claim: Claim | None,
    render: Callable[[ProposalReceipt], Answer],
) -> Answer:
    """Store a proposal and give its answer, complete before the write (its id reserved
    beforehand): with an Idempotency-Key, the answer is sealed and stored in the same statement
    as the proposal and the claim of the key; when another request holds the key, its answer."""
    token = secrets.token_urlsafe(32)  # 256 bits: a SHA-256 is enough, nothing to brute-force
    new = await _checked(writer, state.areas, proposal, token)
    receipt = ProposalReceipt(
        id=await state.next_id(writer),
        status=InitiativeStatus.submitted,
        submitted_at=datetime.now(UTC),
        status_token=token,
        status_url=base_url.rstrip("/") + STATUS_PATH + token,
    )
    answer = render(receipt)
    sealed = None
    if claim is not None:
        sealed = repository.StoredAnswer(
            claim.key_digest, claim.request_digest, answer.status_code, claim.seal(answer)
        )
    pending = repository.PendingProposal(new, receipt.id, receipt.submitted_at, sealed)
    with _known_category():
        if await state.batcher.submit(writer, pending):
            return answer
    assert claim is not None
    async with write_connection(writer) as connection:
        return await replay(connection, claim)
