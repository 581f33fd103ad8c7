"""Idempotent writes of a whole dataset: upserts that touch a row only when it really changes."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from app.models.base import Base
from app.models.plan import action_commune
from app.models.territory import Territory


@dataclass
class Changes:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


async def territory_siren(session: AsyncSession) -> str | None:
    return (await session.execute(select(Territory.siren))).scalar_one_or_none()


async def upsert(
    session: AsyncSession, model: type[Base], key: str, rows: Sequence[Mapping[str, Any]]
) -> Changes:
    """Insert rows, or update those whose values differ; rows equal to what is stored stay as is."""
    if not rows:
        return Changes()
    table = model.__table__
    assert isinstance(table, Table)
    columns = [name for name in rows[0] if name != key]
    statement = insert(table)
    current = tuple_(*(table.c[name] for name in columns))
    proposed = tuple_(*(statement.excluded[name] for name in columns))
    returning: ReturningInsert[Any] = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in columns},
        where=current.is_distinct_from(proposed),
    ).returning(literal_column("xmax = 0").label("created"))
    result = await session.execute(returning, list(rows))
    flags = [bool(row.created) for row in result]
    created = sum(flags)
    updated = len(flags) - created
    return Changes(created=created, updated=updated, unchanged=len(rows) - len(flags))


async def ids_by_code(
    session: AsyncSession, model: type[Base], codes: Iterable[str]
) -> dict[str, int]:
    table = model.__table__
    result = await session.execute(
        select(table.c.code, table.c.id).where(table.c.code.in_(list(codes)))
    )
    return dict(result.all())


async def sync_action_communes(
    session: AsyncSession, action_ids: Sequence[int], pairs: set[tuple[int, str]]
) -> Changes:
    """Make the communes of the given actions exactly `pairs`."""
    result = await session.execute(
        select(action_commune.c.action_id, action_commune.c.commune_insee).where(
            action_commune.c.action_id.in_(action_ids)
        )
    )
    stored = set(result.all())
    stale = stored - pairs
    missing = pairs - stored
    if stale:
        await session.execute(
            delete(action_commune).where(
                tuple_(action_commune.c.action_id, action_commune.c.commune_insee).in_(
                    sorted(stale)
                )
            )
        )
    if missing:
        await session.execute(
            insert(action_commune),
            [{"action_id": a, "commune_insee": c} for a, c in sorted(missing)],
        )
    return Changes(created=len(missing), deleted=len(stale), unchanged=len(stored & pairs))
