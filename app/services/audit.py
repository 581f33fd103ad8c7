"""The audit log for admins, an action's public history, and deletions restored from the log."""

from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ConflictError, InvalidParameterError, NotFoundError
from app.models.editing import Deletion
from app.models.plan import Action
from app.repositories import editing as repository
from app.repositories.editing import AuditFilters
from app.schemas.common import Page
from app.schemas.editing import (
    ActionHistory,
    AuditActor,
    AuditEntry,
    DeletionOut,
    HistoryEntry,
    RestoreOut,
)
from app.services.features import BIGINT


def parse_cursor(cursor: str | None) -> int | None:
    """The cursors of the audit log and the deletions: the last id shown (they go newest first)."""
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19 or int(cursor) >= BIGINT:
        raise InvalidParameterError("query", "cursor", "not a cursor this list returned")
    return int(cursor)


async def audit_page(
    session: AsyncSession, filters: AuditFilters, cursor: str | None, limit: int
) -> Page[AuditEntry]:
    rows = await repository.audit_page(
        session, filters, before_id=parse_cursor(cursor), limit=limit + 1
    )
    items = [
        AuditEntry(
            id=row["id"],
            changed_at=row["changed_at"],
            transaction_id=row["transaction_id"],
            actor=AuditActor(actor=row["actor"], key_id=row["key_id"], key_name=row["key_name"]),
            operation=row["operation"],
            table=row["table_name"],
            record_key=row["record_key"],
            before=row["before"],
            after=row["after"],
        )
        for row in rows[:limit]
    ]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def _number(value: str | None) -> float | None:
    return None if value is None else float(value)


async def action_history(session: AsyncSession, code: str) -> ActionHistory:
    table = cast(Table, Action.__table__)
    if not await repository.exists(session, table, table.c.code == code):
        raise NotFoundError(f"No action with code '{code}'.")
    rows = await repository.action_history(session, code)
    return ActionHistory(
        action=code,
        changes=[
            HistoryEntry(
                changed_at=row["changed_at"],
                operation=row["operation"],
                status=row["status"],
                previous_status=row["previous_status"],
                progress=_number(row["progress"]),
                previous_progress=_number(row["previous_progress"]),
            )
            for row in rows
        ],
    )


def deletion_out(deletion: Deletion) -> DeletionOut:
    return DeletionOut(
        id=deletion.id,
        transaction_id=deletion.transaction_id,
        deleted_at=deletion.deleted_at,
        actor=deletion.actor,
        table=deletion.table_name,
        record_key=deletion.record_key,
        path=deletion.path,
        rows=deletion.row_count,
        restored_at=deletion.restored_at,
        restored_by=deletion.restored_by,
    )


async def deletions(session: AsyncSession, cursor: str | None, limit: int) -> Page[DeletionOut]:
    found = await repository.list_deletions(session, parse_cursor(cursor), limit + 1)
    items = [deletion_out(deletion) for deletion in found[:limit]]
    return Page(items=items, next_cursor=str(items[-1].id) if len(found) > limit else None)


async def restore(session: AsyncSession, deletion_id: int) -> RestoreOut:
    deletion = await repository.lock_deletion(session, deletion_id)
    if deletion is None:
        raise NotFoundError(f"No deletion {deletion_id}.")
    if deletion.restored_at is not None:
        raise ConflictError(f"The deletion {deletion_id} was restored already.")
    rows = await repository.restore(session, deletion)
    await session.refresh(deletion)
    return RestoreOut(deletion=deletion_out(deletion), rows=rows)
