"""Idempotent writes of a whole dataset: upserts that touch a row only when it really changes."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from app.models.base import Base
from app.models.initiative import Initiative, initiative_action
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


# An initiative placed on its commune gets a point of the commune's surface; every initiative
# gets the commune its geometry falls in (the one containing a point on its surface).
_UPSERT_INITIATIVE = text(
    """
    WITH input AS (
        SELECT
            CAST(:reference AS text) AS reference,
            CAST(:title AS text) AS title,
            CAST(:description AS text) AS description,
            CAST(:category AS text) AS category,
            CAST(:status AS text) AS status,
            CAST(:location_precision AS text) AS location_precision,
            CAST(:author_name AS text) AS author_name,
            CAST(:source_excerpt AS text) AS source_excerpt,
            CAST(:published AS boolean) AS published,
            CASE
                WHEN CAST(:commune AS text) IS NOT NULL THEN (
                    SELECT ST_PointOnSurface(boundary) FROM commune
                    WHERE insee = CAST(:commune AS text)
                )
                ELSE ST_GeomFromEWKT(CAST(:geometry AS text))
            END AS geometry
    )
    INSERT INTO initiative AS i (
        reference, title, description, category, status, location_precision, author_name,
        source_excerpt, geometry, commune_insee, published_at
    )
    SELECT
        reference, title, description, category, status, location_precision, author_name,
        source_excerpt, geometry,
        (
            SELECT c.insee FROM commune c
            WHERE ST_Intersects(c.boundary, ST_PointOnSurface(input.geometry))
            ORDER BY c.insee LIMIT 1
        ),
        CASE WHEN published THEN now() END
    FROM input
    ON CONFLICT (reference) DO UPDATE SET
        title = excluded.title,
        description = excluded.description,
        category = excluded.category,
        status = excluded.status,
        location_precision = excluded.location_precision,
        author_name = excluded.author_name,
        source_excerpt = excluded.source_excerpt,
        geometry = excluded.geometry,
        commune_insee = excluded.commune_insee,
        published_at = CASE
            WHEN excluded.published_at IS NULL THEN NULL
            ELSE coalesce(i.published_at, excluded.published_at)
        END
    WHERE (
        i.title, i.description, i.category, i.status, i.location_precision, i.author_name,
        i.source_excerpt, i.commune_insee, i.published_at IS NULL
    ) IS DISTINCT FROM (
        excluded.title, excluded.description, excluded.category, excluded.status,
        excluded.location_precision, excluded.author_name, excluded.source_excerpt,
        excluded.commune_insee, excluded.published_at IS NULL
    ) OR ST_AsEWKB(i.geometry) IS DISTINCT FROM ST_AsEWKB(excluded.geometry)
    RETURNING xmax = 0 AS created
    """
)


async def upsert_initiatives(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> Changes:
    changes = Changes()
    for row in rows:
        result = (await session.execute(_UPSERT_INITIATIVE, dict(row))).one_or_none()
        if result is None:
            changes.unchanged += 1
        elif result.created:
            changes.created += 1
        else:
            changes.updated += 1
    return changes


async def initiative_ids(session: AsyncSession, references: Sequence[str]) -> dict[str, int]:
    result = await session.execute(
        select(Initiative.reference, Initiative.id).where(Initiative.reference.in_(references))
    )
    return {reference: id_ for reference, id_ in result.all() if reference is not None}


async def sync_initiative_actions(
    session: AsyncSession, initiative_ids: Sequence[int], pairs: set[tuple[int, str]]
) -> Changes:
    """Make the actions of the given initiatives exactly `pairs`."""
    table = initiative_action
    result = await session.execute(
        select(table.c.initiative_id, table.c.action_code).where(
            table.c.initiative_id.in_(initiative_ids)
        )
    )
    stored = set(result.all())
    stale = stored - pairs
    missing = pairs - stored
    if stale:
        await session.execute(
            delete(table).where(
                tuple_(table.c.initiative_id, table.c.action_code).in_(sorted(stale))
            )
        )
    if missing:
        await session.execute(
            insert(table), [{"initiative_id": i, "action_code": a} for i, a in sorted(missing)]
        )
    return Changes(created=len(missing), deleted=len(stale), unchanged=len(stored & pairs))
