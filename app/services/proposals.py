"""Proposals from the public: checked, stored as `submitted` (invisible to the public until a
moderator publishes them), and followed by the proposer through a private status link."""

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import asyncpg
import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import WriteConnection
from app.errors import DomainError, NotFoundError
from app.idempotency import RETENTION_HOURS, Answer, Claim, replay
from app.models.initiative import InitiativeStatus
from app.repositories import proposals as repository
from app.schemas.problem import InvalidField
from app.schemas.proposal import ProposalIn, ProposalReceipt, ProposalStatus
from app.services.geometry import (
    InvalidGeometryError,
    TerritoryArea,
    ewkt,
    territory_area,
    validate_geometry,
)

# Who writes, for the audit log: an anonymous member of the public.
PUBLIC_ACTOR = "public"
STATUS_PATH = "/v1/proposals/status/"


class InvalidFieldError(DomainError):
    """A body field that passed the schema but not the rules (422, naming the field)."""

    status = 422
    slug = "invalid-body"
    title = "Invalid request body"

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"body '{name}': {reason}",
            errors=[InvalidField(location="body", name=name, reason=reason)],
        )


class AreaCache:
    """The territory's surface for the inside-the-territory check, reloaded now and then (the
    communes change only when a dataset is loaded)."""

    def __init__(self, ttl_seconds: float = 600.0) -> None:
        self.ttl = ttl_seconds
        self._area: TerritoryArea | None = None
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    async def get(self, connection: WriteConnection) -> TerritoryArea:
        if self._area is None or time.monotonic() - self._loaded > self.ttl:
            async with self._lock:
                if self._area is None or time.monotonic() - self._loaded > self.ttl:
                    boundaries = await repository.commune_boundaries(connection)
                    self._area = territory_area(shapely.from_wkb(b) for b in boundaries)
                    self._loaded = time.monotonic()
        return self._area


class ProposalsState:
    """What the proposals keep in memory: the territory's surface, and ids reserved in blocks
    from the initiatives' sequence (so that a proposal with an Idempotency-Key knows its id,
    and thus its whole answer, before the one statement that stores both)."""

    BLOCK = 64

    def __init__(self) -> None:
        self.areas = AreaCache()
        self._ids: list[int] = []
        self._lock = asyncio.Lock()

    async def next_id(self, connection: WriteConnection) -> int:
        if not self._ids:
            async with self._lock:
                if not self._ids:
                    self._ids = (await repository.reserve_ids(connection, self.BLOCK))[::-1]
        return self._ids.pop()


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
    connection: WriteConnection, areas: AreaCache, proposal: ProposalIn, token: str
) -> repository.NewProposal:
    try:
        geometry = ewkt(validate_geometry(proposal.geometry, await areas.get(connection)))
    except InvalidGeometryError as error:
        raise InvalidFieldError("geometry", error.detail) from error
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
            raise InvalidFieldError("category", "no axis of the plan has this code") from error
        raise


async def submit(
    connection: WriteConnection, areas: AreaCache, proposal: ProposalIn, base_url: str
) -> ProposalReceipt:
    token = secrets.token_urlsafe(32)  # 256 bits: a SHA-256 is enough, nothing to brute-force
    status_url = base_url.rstrip("/") + STATUS_PATH + token
    new = await _checked(connection, areas, proposal, token)
    with _known_category():
        initiative_id, submitted_at = await repository.insert_proposal(
            connection, new, PUBLIC_ACTOR
        )
    return ProposalReceipt(
        id=initiative_id,
        status=InitiativeStatus.submitted,
        submitted_at=submitted_at,
        status_token=token,
        status_url=status_url,
    )


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


async def submit_once(
    connection: WriteConnection,
    state: ProposalsState,
    proposal: ProposalIn,
    base_url: str,
    claim: Claim,
    render: Callable[[ProposalReceipt], Answer],
) -> Answer:
    """A proposal sent with an Idempotency-Key, in one statement: its id reserved beforehand,
    its answer is complete before the write, which stores it with the claim of the key. When
    the key is taken, the answer stored by the request that took it."""
    token = secrets.token_urlsafe(32)
    new = await _checked(connection, state.areas, proposal, token)
    receipt = ProposalReceipt(
        id=await state.next_id(connection),
        status=InitiativeStatus.submitted,
        submitted_at=datetime.now(UTC),
        status_token=token,
        status_url=base_url.rstrip("/") + STATUS_PATH + token,
    )
    answer = render(receipt)
    stored = repository.StoredAnswer(
        claim.route,
        claim.key_digest,
        claim.request_digest,
        RETENTION_HOURS,
        answer.status_code,
        claim.seal(answer),
    )
    with _known_category():
        written = await repository.insert_proposal_once(
            connection, new, PUBLIC_ACTOR, receipt.id, receipt.submitted_at, stored
        )
    return answer if written else await replay(connection, claim)
