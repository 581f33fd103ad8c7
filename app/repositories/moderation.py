"""SQL of the writes of initiatives and of the moderators' private reads of them.

Private columns (contact, address of unpublished initiatives) are read here and only here; the
public queries (collections, publication, search) never select them.
"""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.initiative import Initiative, initiative_action
from app.models.plan import Action, Axis

# The row as a moderator sees it, and `row_version` (the row's xmin: it changes with every
# update of the row, a link to an action included, since the link bumps the row).
_PRIVATE = """
    SELECT i.id, i.status, i.title, i.description, i.category,
        ST_AsGeoJSON(i.geometry) AS geometry, i.location_precision,
        i.commune_insee AS commune, c.name AS commune_name, i.address, i.author_name,
        i.contact,
        ARRAY(SELECT ia.action_code FROM initiative_action AS ia
              WHERE ia.initiative_id = i.id
              ORDER BY string_to_array(ia.action_code, '.')::int[]) AS actions,
        i.reference, i.source_excerpt, i.moderation_reason, i.moderation_message,
        i.moderated_at, i.published_at, i.created_at, i.updated_at,
        i.xmin::text AS row_version
    FROM initiative AS i LEFT JOIN commune AS c ON c.insee = i.commune_insee
"""


def _record(row: RowMapping) -> dict[str, Any]:
    record = dict(row)
    record["geometry"] = json.loads(record["geometry"])
    record["actions"] = list(record["actions"])
    return record


async def private_initiative(
    session: AsyncSession, initiative_id: int, *, lock: bool = False
) -> dict[str, Any] | None:
    """One initiative, any status, private fields included; locked for update when `lock`."""
    statement = _PRIVATE + " WHERE i.id = :id" + (" FOR UPDATE OF i" if lock else "")
    row = (await session.execute(text(statement), {"id": initiative_id})).mappings().one_or_none()
    return _record(row) if row is not None else None


async def queue(
    session: AsyncSession, status: str, after: tuple[datetime, int] | None, limit: int
) -> list[dict[str, Any]]:
    """Initiatives of one status, oldest first (creation time, then id), from `after` on."""
    statement = _PRIVATE + " WHERE i.status = :status"
    params: dict[str, Any] = {"status": status, "limit": limit}
    if after is not None:
        statement += " AND (i.created_at, i.id) > (:after_at, :after_id)"
        params |= {"after_at": after[0], "after_id": after[1]}
    statement += " ORDER BY i.created_at, i.id LIMIT :limit"
    rows = (await session.execute(text(statement), params)).mappings().all()
    return [_record(row) for row in rows]


async def lock_initiative(session: AsyncSession, initiative_id: int) -> str | None:
    """Lock the row for the rest of the transaction; its status, None when there is none."""
    result = await session.execute(
        select(Initiative.status).where(Initiative.id == initiative_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def axis_exists(session: AsyncSession, code: str) -> bool:
    return bool(await session.scalar(select(func.count()).where(Axis.code == code)))


async def action_exists(session: AsyncSession, code: str) -> bool:
    return bool(await session.scalar(select(func.count()).where(Action.code == code)))


async def within_territory(session: AsyncSession, ewkt: str, metres: float) -> bool:
    """Whether the geometry lies within `metres` of a commune of the territory."""
    found = await session.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM commune "
            "WHERE ST_DWithin(boundary::geography, ST_GeomFromEWKT(:ewkt)::geography, :metres))"
        ),
        {"ewkt": ewkt, "metres": metres},
    )
    return bool(found)


def _geometry_values(ewkt: str) -> dict[str, Any]:
    """The geometry, and the commune it falls in (the one containing a point on its surface)."""
    commune = (
        select(Commune.insee)
        .where(
            func.ST_Intersects(Commune.boundary, func.ST_PointOnSurface(func.ST_GeomFromEWKT(ewkt)))
        )
        .order_by(Commune.insee)
        .limit(1)
        .scalar_subquery()
    )
    return {"geometry": func.ST_GeomFromEWKT(ewkt), "commune_insee": commune}


def _values(changes: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: value for name, value in changes.items() if name != "geometry"}
    if "geometry" in changes:
        values |= _geometry_values(changes["geometry"])
    return values


async def insert_initiative(session: AsyncSession, values: Mapping[str, Any]) -> int:
    """Insert; `geometry` is EWKT. Returns the new id."""
    result = await session.execute(
        insert(Initiative).values(**_values(values)).returning(Initiative.id)
    )
    return int(result.scalar_one())


async def update_initiative(
    session: AsyncSession, initiative_id: int, changes: Mapping[str, Any]
) -> None:
    """Set the given columns (`geometry` as EWKT; SQL expressions such as now() accepted)."""
    if changes:
        await session.execute(
            update(Initiative).where(Initiative.id == initiative_id).values(**_values(changes))
        )


async def delete_initiative(session: AsyncSession, initiative_id: int) -> None:
    # Its links to actions go with it (ON DELETE CASCADE), each audited with its before-image.
    await session.execute(delete(Initiative).where(Initiative.id == initiative_id))


async def link_action(session: AsyncSession, initiative_id: int, action_code: str) -> bool:
    """Link (idempotent); True when the link is new."""
    result = await session.execute(
        pg_insert(initiative_action)
        .values(initiative_id=initiative_id, action_code=action_code)
        .on_conflict_do_nothing()
        .returning(initiative_action.c.initiative_id)
    )
    return result.first() is not None


async def unlink_action(session: AsyncSession, initiative_id: int, action_code: str) -> bool:
    """Unlink (idempotent); True when there was a link."""
    result = await session.execute(
        delete(initiative_action)
        .where(
            initiative_action.c.initiative_id == initiative_id,
            initiative_action.c.action_code == action_code,
        )
        .returning(initiative_action.c.initiative_id)
    )
    return result.first() is not None
