"""SQL of the editing API: single-row writes, deletions and their restoration from the audit
log, the audit log's pages and an action's public history."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ConflictError
from app.models.editing import Deletion
from app.models.participation import ApiKey, AuditLog

CURRENT_TRANSACTION: ColumnElement[int] = literal_column(
    "pg_current_xact_id()::text::bigint", BigInteger
)

# Parents before children: the order in which a deletion's rows are inserted back.
RESTORE_ORDER = (
    "axis",
    "ambition",
    "objective",
    "action",
    "initiative",
    "indicator",
    "action_commune",
    "indicator_ambition",
    "indicator_objective",
    "indicator_action",
    "indicator_value",
    "budget_line",
    "milestone",
    "initiative_action",
)


def _conflict(error: IntegrityError) -> ConflictError:
    constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
    return ConflictError(
        "The write conflicts with the stored data"
        + (f" (constraint {constraint})" if constraint else "")
        + ": a key already taken, or a record still referenced."
    )


async def execute(session: AsyncSession, statement: Any) -> Any:
    """Run a write; a constraint the database enforces (a race the checks missed) is a 409."""
    try:
        return await session.execute(statement)
    except IntegrityError as error:
        raise _conflict(error) from error


async def row(
    session: AsyncSession, table: Table, *where: ColumnElement[bool]
) -> RowMapping | None:
    return (await session.execute(select(*table.c).where(*where))).mappings().one_or_none()


async def exists(session: AsyncSession, table: Table, *where: ColumnElement[bool]) -> bool:
    found = await session.scalar(select(func.count()).select_from(table).where(*where))
    return bool(found)


async def insert_row(session: AsyncSession, table: Table, values: Mapping[str, Any]) -> RowMapping:
    result = await execute(session, insert(table).values(**values).returning(*table.c))
    created: RowMapping = result.mappings().one()
    return created


async def update_row(
    session: AsyncSession, table: Table, row_id: int, values: Mapping[str, Any]
) -> None:
    if values:
        await execute(session, update(table).where(table.c.id == row_id).values(**values))


async def delete_rows(session: AsyncSession, table: Table, *where: ColumnElement[bool]) -> None:
    await execute(session, delete(table).where(*where))


async def member_communes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(text("SELECT insee FROM commune"))).all())


async def commune_boundaries(session: AsyncSession) -> list[str]:
    return list((await session.scalars(text("SELECT ST_AsText(boundary) FROM commune"))).all())


async def audit_mark(session: AsyncSession) -> int:
    """The last audit entry of this transaction so far (0 when none)."""
    found = await session.scalar(
        select(func.coalesce(func.max(AuditLog.id), 0)).where(
            AuditLog.transaction_id == CURRENT_TRANSACTION
        )
    )
    return int(found or 0)


async def record_deletion(session: AsyncSession, mark: int, table: str, key: str, path: str) -> int:
    """Name the deletion whose rows are this transaction's audit entries after `mark`; the
    number of rows it removed."""
    count = await session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(
            AuditLog.transaction_id == CURRENT_TRANSACTION,
            AuditLog.id > mark,
            AuditLog.operation == "delete",
        )
    )
    await session.execute(
        insert(Deletion).values(
            transaction_id=CURRENT_TRANSACTION,
            audit_after=mark,
            table_name=table,
            record_key=key,
            path=path,
            row_count=count or 0,
            actor=func.nullif(func.current_setting("territoire.actor", True), ""),
        )
    )
    return int(count or 0)


async def unrestored_deletion(session: AsyncSession, table: str, key: str) -> int | None:
    """The deletion that removed this record and has not been restored, if any."""
    found = await session.scalar(
        select(func.max(Deletion.id)).where(
            Deletion.table_name == table,
            Deletion.record_key == key,
            Deletion.restored_at.is_(None),
        )
    )
    return None if found is None else int(found)


async def list_deletions(
    session: AsyncSession, after: int | None, limit: int
) -> Sequence[Deletion]:
    query = select(Deletion).order_by(Deletion.id.desc()).limit(limit)
    if after is not None:
        query = query.where(Deletion.id < after)
    return (await session.scalars(query)).all()


async def lock_deletion(session: AsyncSession, deletion_id: int) -> Deletion | None:
    return (
        await session.scalars(select(Deletion).where(Deletion.id == deletion_id).with_for_update())
    ).one_or_none()


async def restore(session: AsyncSession, deletion: Deletion) -> int:
    """Insert back every row the deletion's transaction removed, parents first, as it was (its
    generated columns recomputed, `updated_at` now: a mirror reading `updated_since` sees it)."""
    rows = (
        await session.execute(
            select(AuditLog.table_name, AuditLog.before)
            .where(
                AuditLog.transaction_id == deletion.transaction_id,
                AuditLog.id > deletion.audit_after,
                AuditLog.operation == "delete",
            )
            .order_by(AuditLog.id)
        )
    ).all()
    by_table: dict[str, list[dict[str, Any]]] = {}
    for table_name, before in rows:
        by_table.setdefault(table_name, []).append(before)
    unknown = set(by_table) - set(RESTORE_ORDER)
    if unknown:
        raise ConflictError(
            f"This deletion holds rows of {sorted(unknown)}, which cannot be restored."
        )
    for table_name in RESTORE_ORDER:
        images = by_table.get(table_name)
        if not images:
            continue
        columns = await _insertable_columns(session, table_name)
        listed = ", ".join(f'"{column}"' for column in columns)
        # Table and column names come from the catalog and RESTORE_ORDER, never from a request.
        statement = text(
            f"INSERT INTO {table_name} ({listed}) OVERRIDING SYSTEM VALUE "  # noqa: S608
            f"SELECT {listed} FROM jsonb_populate_recordset(NULL::{table_name}, "
            "CAST(:rows AS jsonb))"
        )
        try:
            await session.execute(statement, {"rows": _json(images)})
        except IntegrityError as error:
            raise ConflictError(
                f"Cannot restore: a {table_name} row's key is taken again, or what it belongs to "
                "is gone, since the deletion. Nothing was restored."
            ) from error
    await session.execute(
        update(Deletion)
        .where(Deletion.id == deletion.id)
        .values(
            restored_at=func.now(),
            restored_by=func.nullif(func.current_setting("territoire.actor", True), ""),
        )
    )
    return len(rows)


def _json(images: list[dict[str, Any]]) -> str:
    import orjson

    return orjson.dumps(images).decode()


async def _insertable_columns(session: AsyncSession, table_name: str) -> list[str]:
    result = await session.scalars(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:table AS regclass) "
            "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
            "AND attname <> 'updated_at' ORDER BY attnum"
        ),
        {"table": table_name},
    )
    return list(result.all())


def _key_of_actor() -> Any:
    return ApiKey.__table__.c.id == func.nullif(
        func.substring(AuditLog.actor, r"^key:([0-9]+)$"), ""
    ).cast(ApiKey.__table__.c.id.type)


@dataclass(frozen=True)
class AuditFilters:
    """The audit log's filters, each ignored when None: `since` is included, `until` excluded."""

    table: str | None = None
    record_key: str | None = None
    actor: str | None = None
    operation: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def audit_page(
    session: AsyncSession, filters: AuditFilters, *, before_id: int | None, limit: int
) -> Sequence[RowMapping]:
    equal = (
        (AuditLog.table_name, filters.table),
        (AuditLog.record_key, filters.record_key),
        (AuditLog.actor, filters.actor),
        (AuditLog.operation, filters.operation),
    )
    conditions: list[ColumnElement[bool]] = [
        column == value for column, value in equal if value is not None
    ]
    if filters.since is not None:
        conditions.append(AuditLog.changed_at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditLog.changed_at < filters.until)
    if before_id is not None:
        conditions.append(AuditLog.id < before_id)
    query = (
        select(
            *AuditLog.__table__.c,
            ApiKey.__table__.c.id.label("key_id"),
            ApiKey.__table__.c.name.label("key_name"),
        )
        .outerjoin(ApiKey, _key_of_actor())
        .where(*conditions)
        .order_by(AuditLog.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).mappings().all()


async def action_history(session: AsyncSession, code: str) -> Sequence[RowMapping]:
    """The audit entries of an action whose status or set progress changed, oldest first: only
    those two fields, never who."""
    before, after = AuditLog.before, AuditLog.after
    changed = (before["status"] != after["status"]) | (before["progress"] != after["progress"])
    query = (
        select(
            AuditLog.changed_at,
            AuditLog.operation,
            before["status"].astext.label("previous_status"),
            after["status"].astext.label("status"),
            before["progress"].astext.label("previous_progress"),
            after["progress"].astext.label("progress"),
        )
        .where(
            AuditLog.table_name == "action",
            AuditLog.record_key == code,
            (AuditLog.operation != "update") | changed,
        )
        .order_by(AuditLog.id)
    )
    return (await session.execute(query)).mappings().all()
