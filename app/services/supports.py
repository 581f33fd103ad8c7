"""Supports of published initiatives: each supporter counted once, known only by an HMAC."""

import hashlib
import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.repositories import proposals as repository
from app.repositories.keys import set_actor
from app.schemas.proposal import SupportOut
from app.services.proposals import PUBLIC_ACTOR


def supporter_digest(secret: bytes, initiative_id: int, supporter: str) -> bytes:
    """Per initiative, so that the supports of one person cannot be linked across initiatives;
    case and surrounding spaces ignored, so that an email counts once however it is typed."""
    identity = supporter.strip().casefold().encode()
    return hmac.new(
        secret, b"support\0" + str(initiative_id).encode() + b"\0" + identity, hashlib.sha256
    ).digest()


async def support(
    session: AsyncSession, secret: bytes, initiative_id: int, supporter: str
) -> SupportOut:
    await set_actor(session, PUBLIC_ACTOR)
    found, added, count = await repository.add_support(
        session, initiative_id, supporter_digest(secret, initiative_id, supporter)
    )
    if not found:
        raise NotFoundError(f"no published initiative with id {initiative_id}")
    return SupportOut(initiative_id=initiative_id, support_count=count, counted=added)
