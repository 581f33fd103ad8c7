"""The change feed: every insert, update and delete of the published datasets, in a stable order
from a cursor, each with the record as it is now (null once deleted), so that a harvester that
applies them in order mirrors the data exactly."""

import base64
import binascii
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidParameterError
from app.repositories import changes as repository
from app.repositories.publication import records_by_key
from app.schemas.publication import ChangeOut, ChangePage
from app.services.registry import REGISTRY

_VERSION = "f1"
_POSITION = re.compile(r"^(0|[1-9][0-9]{0,18}):(0|[1-9][0-9]{0,18})$")


def encode_position(transaction_id: int, sequence: int) -> str:
    raw = f"{_VERSION}:{transaction_id}:{sequence}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    version, _, position = text.partition(":")
    match = _POSITION.match(position)
    if version != _VERSION or match is None:
        raise InvalidParameterError(
            "query", "cursor", "not a change-feed cursor; use next_cursor from a previous page"
        )
    transaction_id, sequence = int(match.group(1)), int(match.group(2))
    if transaction_id >= 2**63 or sequence >= 2**63:
        raise InvalidParameterError("query", "cursor", "position out of range")
    return transaction_id, sequence


async def current_records(
    session: AsyncSession, keys: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """The published records of these keys that exist now, per dataset, then per key (what the
    change feed, the webhooks and the digests show of a change); an unknown dataset has none."""
    records: dict[str, dict[str, Any]] = {}
    for dataset, wanted in keys.items():
        spec = REGISTRY.get(dataset)
        if spec is not None:
            records[dataset] = await records_by_key(
                session, spec.rows, spec.key, spec.json_columns(), wanted
            )
    return records


async def list_changes(
    session: AsyncSession,
    *,
    cursor: str | None,
    limit: int,
    datasets: Sequence[str] | None,
    since: datetime | None,
    base_url: str,
) -> ChangePage:
    after = decode_position(cursor) if cursor else None
    rows = await repository.read_changes(
        session, after=after, datasets=datasets, since=since, limit=limit + 1
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    keys: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        keys[row.dataset].append(row.key)
    records = await current_records(session, keys)
    items = []
    for row in rows:
        spec = REGISTRY.get(row.dataset)
        record = records.get(row.dataset, {}).get(row.key)
        url = None
        if spec is not None and spec.record_path and record is not None:
            url = base_url.rstrip("/") + spec.record_path.format(key=row.key)
        items.append(
            ChangeOut(
                sequence=row.sequence,
                dataset=row.dataset,
                key=row.key,
                operation=row.operation,
                changed_at=row.changed_at,
                url=url,
                record=record,
            )
        )
    if rows:
        next_cursor = encode_position(rows[-1].transaction_id, rows[-1].sequence)
    else:
        next_cursor = cursor or encode_position(0, 0)
    return ChangePage(items=items, next_cursor=next_cursor, has_more=has_more)
