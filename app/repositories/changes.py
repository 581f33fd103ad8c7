"""The change log as the feed reads it: in (transaction, sequence) order, and only the changes of
transactions older than every transaction still running, so that a position once passed never
gains an entry (a transaction that started earlier may commit later).

Running transactions known to belong to another database of the cluster cannot write here: they
do not hold the feed back. Any other running transaction does, even one that has not written a
published row yet (it may still, with its older id)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal_column, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.publication import ChangeLog


@dataclass(frozen=True)
class ChangeRow:
    sequence: int
    transaction_id: int
    dataset: str
    key: str
    operation: str
    changed_at: datetime


_HORIZON: ColumnElement[int] = literal_column(
    """(SELECT coalesce(
        (SELECT min(running::text::bigint)
         FROM pg_snapshot_xip(pg_current_snapshot()) AS running
         WHERE running::text::bigint % 4294967296 NOT IN (
             SELECT backend_xid::text::bigint FROM pg_stat_activity
             WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint))"""
)


def horizon() -> Any:
    """The oldest transaction that may still write here, as a 64-bit id (the statement's
    snapshot: the same one the change log is read with)."""
    return _HORIZON


async def read_changes(
    session: AsyncSession,
    *,
    after: tuple[int, int] | None,
    datasets: Sequence[str] | None,
    since: datetime | None,
    limit: int,
) -> list[ChangeRow]:
    query = select(
        ChangeLog.id,
        ChangeLog.transaction_id,
        ChangeLog.dataset,
        ChangeLog.record_key,
        ChangeLog.operation,
        ChangeLog.changed_at,
    ).where(ChangeLog.transaction_id < horizon())
    if after is not None:
        query = query.where(tuple_(ChangeLog.transaction_id, ChangeLog.id) > tuple_(*after))
    if datasets:
        query = query.where(ChangeLog.dataset.in_(datasets))
    if since is not None:
        query = query.where(ChangeLog.changed_at >= since)
    query = query.order_by(ChangeLog.transaction_id, ChangeLog.id).limit(limit)
    result = await session.execute(query)
    return [ChangeRow(*row) for row in result]


async def published_triggers(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(table, dataset, key column) of every record_change trigger, for consistency checks."""
    result = await session.execute(
        text(
            "SELECT c.relname, encode(t.tgargs, 'escape') FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE p.proname = 'record_change' ORDER BY c.relname"
        )
    )
    triggers = []
    for table, arguments in result:
        dataset, key, *_ = str(arguments).split("\\000")
        triggers.append((str(table), dataset, key))
    return triggers
