"""Moderation of initiatives, and editors' writes of them: the states, the checks.

The states of an initiative and the moderators' actions between them:

    submitted --publish--> published --archive--> archived
    submitted --reject---> rejected  --reopen---> submitted

Only a published initiative is public (GeoJSON, OGC items and tiles, search, exports, change
feed); archived and rejected ones leave the public data as if deleted, and their private fields
never enter it. Any other move is a 409 naming the current status: a rejected initiative is
reopened (back in the queue) before it can be published; an archived one stays archived.
Editors create initiatives already published (they are the publisher's staff) and change only
published ones, at their public URL; moderators edit any.
"""

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Reader
from app.errors import ConflictError, InvalidBodyError, InvalidParameterError, NotFoundError
from app.models.initiative import InitiativeStatus, ModerationReason
from app.repositories import editing as editing_repository
from app.repositories import moderation as repository
from app.schemas.geometry import TERRITORY_MARGIN_METRES, ewkt, validate_geometry
from app.schemas.moderation import InitiativeCreate
from app.services import initiative as initiative_service
from app.services.features import BIGINT

S = InitiativeStatus


@dataclass(frozen=True)
class Transition:
    sources: tuple[InitiativeStatus, ...]
    target: InitiativeStatus


TRANSITIONS: dict[str, Transition] = {
    "publish": Transition((S.submitted,), S.published),
    "reject": Transition((S.submitted,), S.rejected),
    "archive": Transition((S.published,), S.archived),
    "reopen": Transition((S.rejected,), S.submitted),
}

_CURSOR_VERSION = "m1"


def encode_cursor(created_at: datetime, initiative_id: int) -> str:
    raw = f"{_CURSOR_VERSION}|{created_at.isoformat()}|{initiative_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, moment, key = base64.urlsafe_b64decode(padded).decode().split("|")
        if (
            version != _CURSOR_VERSION
            or not key.isascii()
            or not key.isdigit()
            or len(key) > 19
            or int(key) >= BIGINT
        ):
            raise ValueError(version)
        after = datetime.fromisoformat(moment)
        if after.tzinfo is None:
            raise ValueError(moment)
        return after, int(key)
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidParameterError(
            "query",
            "cursor",
            "not a cursor this service issued; use next_cursor from a previous page",
        ) from error


def _missing(initiative_id: int) -> NotFoundError:
    return NotFoundError(f"No initiative {initiative_id}.")


async def queue(
    session: AsyncSession, status: InitiativeStatus, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    after = decode_cursor(cursor) if cursor is not None else None
    rows = await repository.queue(session, status.value, after, limit + 1)
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    return page, encode_cursor(last["created_at"], last["id"]) if last else None


async def private_initiative(
    session: AsyncSession, initiative_id: int, *, lock: bool = False
) -> dict[str, Any]:
    found = await repository.private_initiative(session, initiative_id, lock=lock)
    if found is None:
        raise _missing(initiative_id)
    return found


async def _checked(session: AsyncSession, changes: dict[str, Any]) -> dict[str, Any]:
    """The columns to write: the category must be an axis, the geometry on the territory."""
    values = {
        name: value.value if isinstance(value, enum.Enum) else value
        for name, value in changes.items()
    }
    category = values.get("category")
    if category is not None and not await repository.axis_exists(session, category):
        raise InvalidBodyError({"category": f"no axis has the code '{category}'"})
    if "geometry" in values:
        shape = ewkt(validate_geometry(values["geometry"], None))
        if not await repository.within_territory(session, shape, TERRITORY_MARGIN_METRES):
            raise InvalidBodyError(
                {
                    "geometry": "the geometry lies outside the territory (more than "
                    f"{TERRITORY_MARGIN_METRES:.0f} m from its communes)"
                }
            )
        values["geometry"] = shape
    return values


async def edit(session: AsyncSession, initiative_id: int, changes: dict[str, Any]) -> None:
    """Apply a merge patch to an initiative already locked by the caller."""
    await repository.update_initiative(session, initiative_id, await _checked(session, changes))


async def transition(
    session: AsyncSession,
    initiative_id: int,
    action: str,
    reason: ModerationReason | None = None,
    message: str | None = None,
) -> None:
    """A moderator's action, on the locked row: a concurrent one waits, then sees the result."""
    move = TRANSITIONS[action]
    status = await repository.lock_initiative(session, initiative_id)
    if status is None:
        raise _missing(initiative_id)
    if status not in move.sources:
        allowed = " or ".join(source.value for source in move.sources)
        raise ConflictError(
            f"Initiative {initiative_id} is {status}: '{action}' applies to a {allowed} "
            f"initiative only (submitted → published | rejected; published → archived; "
            "rejected → submitted by 'reopen')."
        )
    values: dict[str, Any] = {
        "status": move.target.value,
        "moderated_at": func.now(),
        # What the proposer reads through the status link: the latest decision only.
        "moderation_reason": reason.value if reason is not None else None,
        "moderation_message": message,
    }
    if move.target is S.published:
        values["published_at"] = func.now()
    await repository.update_initiative(session, initiative_id, values)


# --- editors -----------------------------------------------------------------------------------


async def create(session: AsyncSession, body: InitiativeCreate) -> int:
    values = await _checked(session, body.model_dump())
    values |= {"status": S.published.value, "published_at": func.now()}
    return await repository.insert_initiative(session, values)


async def lock_published(session: AsyncSession, initiative_id: int) -> None:
    """Lock a published initiative; 404 for any other, as its public URL answers."""
    status = await repository.lock_initiative(session, initiative_id)
    if status != S.published:
        hint = (
            f"; it is {status}, see /v1/moderation/initiatives/{initiative_id}"
            if status is not None
            else ""
        )
        raise NotFoundError(f"No published initiative {initiative_id}{hint}.")


async def delete(session: AsyncSession, initiative_id: int) -> None:
    """Delete in one transaction, named as a deletion that `/v1/deletions` can restore (the
    audit log keeps the row and its links), like every other delete."""
    mark = await editing_repository.audit_mark(session)
    await repository.delete_initiative(session, initiative_id)
    await editing_repository.record_deletion(
        session, mark, "initiative", str(initiative_id), f"/v1/initiatives/{initiative_id}"
    )


async def set_link(
    session: AsyncSession, initiative_id: int, action_code: str, linked: bool
) -> None:
    """Link or unlink an action (idempotent); the initiative must be published."""
    await lock_published(session, initiative_id)
    if not await repository.action_exists(session, action_code):
        raise NotFoundError(f"No action '{action_code}'.")
    if linked:
        await repository.link_action(session, initiative_id, action_code)
    else:
        await repository.unlink_action(session, initiative_id, action_code)


async def public_feature(session: AsyncSession, initiative_id: int) -> str:
    """The initiative as GET /v1/initiatives/{id} shows it, read in this (writing) transaction."""
    connection = await session.connection()
    raw: Reader | None = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return await initiative_service.get_initiative(raw, str(initiative_id))
