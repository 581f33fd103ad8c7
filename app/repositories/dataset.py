"""Idempotent writes of a whole dataset: upserts that touch a row only when it really changes."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, literal_column, select, text, tuple_
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
    # Codes of the records created or updated, for tables keyed by code.
    created_keys: list[str] = field(default_factory=list)
    updated_keys: list[str] = field(default_factory=list)


async def territory_siren(session: AsyncSession) -> str | None:
    return (await session.execute(select(Territory.siren))).scalar_one_or_none()


async def upsert(
    session: AsyncSession,
    model: type[Base],
    key: str | Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> Changes:
    """Insert rows, or update those whose values differ; rows equal to what is stored stay as is.
    `key` names the unique column(s) rows are matched on."""
    if not rows:
        return Changes()
    table = model.__table__
    assert isinstance(table, Table)
    keys = [key] if isinstance(key, str) else list(key)
    if "id" in table.c and table.c.id.identity is not None:
        return await _update_then_insert(session, table, keys, rows)
    columns = [name for name in rows[0] if name not in keys]
    statement = insert(table)
    current = tuple_(*(table.c[name] for name in columns))
    proposed = tuple_(*(statement.excluded[name] for name in columns))
    returning: ReturningInsert[Any] = statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in columns},
        where=current.is_distinct_from(proposed),
    ).returning(literal_column("xmax = 0").label("created"))
    result = await session.execute(returning, list(rows))
    flags = [bool(row.created) for row in result]
    created = sum(flags)
    return Changes(created=created, updated=len(flags) - created, unchanged=len(rows) - len(flags))


async def _update_then_insert(
    session: AsyncSession, table: Table, keys: list[str], rows: Sequence[Mapping[str, Any]]
) -> Changes:
    """The upsert of a table with an identity column. INSERT ... ON CONFLICT draws a value from
    the identity sequence for every row, existing or not; here rows already stored are updated
    (when they differ) and only new rows are inserted, so a file loaded twice leaves even the
    sequences as they were."""
    key_columns = [table.c[name] for name in keys]
    wanted = sorted({tuple(row[name] for name in keys) for row in rows})
    existing: set[tuple[Any, ...]] = set()
    # In chunks: PostgreSQL takes at most 32 767 bind parameters in a statement.
    for start in range(0, len(wanted), 1000):
        stored = await session.execute(
            select(*key_columns).where(tuple_(*key_columns).in_(wanted[start : start + 1000]))
        )
        existing.update(tuple(found) for found in stored)
    columns = [name for name in rows[0] if name not in keys]
    label = table.c.code if "code" in table.c else literal_column("NULL")
    update = (
        table.update()
        .where(*(table.c[name] == bindparam(f"key_{name}") for name in keys))
        .where(
            tuple_(*(table.c[name] for name in columns)).is_distinct_from(
                tuple_(*(bindparam(f"new_{name}", type_=table.c[name].type) for name in columns))
            )
        )
        .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns})
        .returning(label)
    )
    updated: list[str | None] = []
    new_rows = []
    for row in rows:
        if tuple(row[name] for name in keys) not in existing:
            new_rows.append(row)
            continue
        parameters = {f"key_{name}": row[name] for name in keys}
        parameters |= {f"new_{name}": row[name] for name in columns}
        found = (await session.execute(update, parameters)).first()
        if found is not None:
            updated.append(found[0])
    created: list[str | None] = []
    if new_rows:
        result = await session.execute(insert(table).returning(label), list(new_rows))
        created = [row[0] for row in result]
    return Changes(
        created=len(created),
        updated=len(updated),
        unchanged=len(rows) - len(created) - len(updated),
        created_keys=[k for k in created if k is not None],
        updated_keys=[k for k in updated if k is not None],
    )


async def ids_by_code(
    session: AsyncSession, model: type[Base], codes: Iterable[str]
) -> dict[str, int]:
    table = model.__table__
    result = await session.execute(
        select(table.c.code, table.c.id).where(table.c.code.in_(list(codes)))
    )
    return dict(result.all())


async def sync_links(
    session: AsyncSession,
    table: Table,
    owner: str,
    other: str,
    owner_ids: Sequence[int],
    pairs: set[tuple[int, Any]],
) -> Changes:
    """Make the links of the given owners (column `owner`) to column `other` exactly `pairs`."""
    if not owner_ids:
        return Changes()
    owner_column, other_column = table.c[owner], table.c[other]
    result = await session.execute(
        select(owner_column, other_column).where(owner_column.in_(owner_ids))
    )
    stored: set[tuple[int, Any]] = {(row[0], row[1]) for row in result}
    stale = stored - pairs
    missing = pairs - stored
    if stale:
        await session.execute(
            delete(table).where(tuple_(owner_column, other_column).in_(sorted(stale)))
        )
    if missing:
        await session.execute(insert(table), [{owner: a, other: b} for a, b in sorted(missing)])
    return Changes(created=len(missing), deleted=len(stale), unchanged=len(stored & pairs))


VALUE_COLUMNS = (
    "indicator_id",
    "kind",
    "period_start",
    "period_end",
    "period_label",
    "value",
    "commune_insee",
    "comment",
    "source",
    "source_excerpt",
)
_VALUE_KEY = ("indicator_id", "kind", "commune_insee", "period_start", "period_end", "period_label")
_VALUE_DATA = [c for c in VALUE_COLUMNS if c not in _VALUE_KEY]
# Built once from the constant column names above: no outside input reaches these statements.
_COLUMNS = ", ".join(VALUE_COLUMNS)
_STAGING = text(
    f"CREATE TEMPORARY TABLE value_staging ON COMMIT DROP AS SELECT {_COLUMNS} "  # noqa: S608
    "FROM indicator_value WITH NO DATA"
)
# Rows match on their key, NULLs included (coalesced, so that the join can hash).
_SAME_POINT = " AND ".join(
    [
        "v.indicator_id = s.indicator_id",
        "v.kind = s.kind",
        "coalesce(v.commune_insee, '') = coalesce(s.commune_insee, '')",
        "coalesce(v.period_start, '-infinity') = coalesce(s.period_start, '-infinity')",
        "coalesce(v.period_end, '-infinity') = coalesce(s.period_end, '-infinity')",
        "coalesce(v.period_label, E'\\x01') = coalesce(s.period_label, E'\\x01')",
    ]
)
_UPDATE_VALUES = text(
    "WITH changed AS (UPDATE indicator_value v SET "  # noqa: S608
    + ", ".join(f"{c} = s.{c}" for c in _VALUE_DATA)
    + f" FROM value_staging s WHERE {_SAME_POINT} AND ("
    + ", ".join(f"v.{c}" for c in _VALUE_DATA)
    + ") IS DISTINCT FROM ("
    + ", ".join(f"s.{c}" for c in _VALUE_DATA)
    + ") RETURNING 1) SELECT count(*) FROM changed"
)
# Only new points are inserted: INSERT ... ON CONFLICT would draw an id for every row.
_INSERT_VALUES = text(
    f"WITH added AS (INSERT INTO indicator_value ({_COLUMNS}) "  # noqa: S608
    f"SELECT {_COLUMNS} FROM value_staging s WHERE NOT EXISTS "
    f"(SELECT 1 FROM indicator_value v WHERE {_SAME_POINT}) RETURNING 1) "
    "SELECT count(*) FROM added"
)


async def upsert_values(session: AsyncSession, records: Sequence[tuple[Any, ...]]) -> Changes:
    """Upsert indicator values (tuples in VALUE_COLUMNS order) at COPY speed: the rows go to a
    temporary table by COPY; one UPDATE then changes the stored points whose data differ, and
    one INSERT adds the new points. The records must not repeat a key."""
    if not records:
        return Changes()
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await session.execute(_STAGING)
    await driver.copy_records_to_table("value_staging", records=records, columns=VALUE_COLUMNS)
    await session.execute(text("ANALYZE value_staging"))
    updated = (await session.execute(_UPDATE_VALUES)).scalar_one()
    created = (await session.execute(_INSERT_VALUES)).scalar_one()
    await session.execute(text("DROP TABLE value_staging"))
    return Changes(created=created, updated=updated, unchanged=len(records) - created - updated)


async def sync_action_communes(
    session: AsyncSession, action_ids: Sequence[int], pairs: set[tuple[int, str]]
) -> Changes:
    """Make the communes of the given actions exactly `pairs`."""
    return await sync_links(
        session, action_commune, "action_id", "commune_insee", action_ids, pairs
    )


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
    return await sync_links(
        session, initiative_action, "initiative_id", "action_code", initiative_ids, pairs
    )
