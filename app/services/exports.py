"""Bulk exports of every dataset: CSV (with its TableSchema), JSON and, for geographic datasets,
GeoJSON, streamed from the database with constant memory.

The size, SHA-256 and SHA-1 of each file are computed by streaming it once per version of its
dataset (see dataset_version) and kept in memory (per worker): the catalog publishes them (its
spdx:checksum is the SHA-1, the one algorithm DCAT-AP 2.1.1 admits), the download carries them
(Content-Length, Repr-Digest), and the next change of the dataset gives a new version, so a stale
figure is never served. The version, the figures and the file are read in one snapshot (the
export session is REPEATABLE READ), so they always agree. Materializing files on every change
was the alternative: it costs a full export per change even when nobody downloads, needs storage
shared by the workers, and a background job; computing on demand costs one extra pass over the
data for the first download after a change, and none after.
"""

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import EXPORT_TASKS
from app.repositories import publication as repository
from app.repositories import publication_formats as formats
from app.services.registry_spec import Column, DatasetSpec, Format

CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 8  # chunks buffered between the database and the client: constant memory


MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8; header=present",
    "json": "application/json",
    "geojson": "application/geo+json",
}


@dataclass(frozen=True)
class Figures:
    byte_size: int
    sha256: str  # hex
    # The catalog's spdx:checksum: DCAT-AP 2.1.1 admits SHA-1 only, 3.0.1 any algorithm.
    sha1: str  # hex
    version: int
    modified_at: datetime | None

    @property
    def digest_header(self) -> str:
        """RFC 9530 Repr-Digest value."""
        digest = base64.b64encode(bytes.fromhex(self.sha256)).decode()
        return f"sha-256=:{digest}:"


class FiguresCache:
    """The latest figures of each (dataset, format), keyed by the dataset's version."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[tuple[int, datetime | None], Figures]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, dataset: str, fmt: str) -> asyncio.Lock:
        return self._locks.setdefault((dataset, fmt), asyncio.Lock())

    def get(self, dataset: str, fmt: str, version: tuple[int, datetime | None]) -> Figures | None:
        entry = self._entries.get((dataset, fmt))
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, dataset: str, fmt: str, figures: Figures) -> None:
        self._entries[(dataset, fmt)] = ((figures.version, figures.modified_at), figures)


async def _csv_chunks(session: AsyncSession, spec: DatasetSpec) -> AsyncIterator[bytes]:
    """COPY pushes chunks; a bounded queue hands them to the consumer (backpressure)."""
    statement = formats.csv_statement(spec.rows, spec.csv_columns())
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)

    pending = bytearray()

    async def put(chunk: bytes) -> None:
        # The driver hands over what each read brought, often a few rows: gathered into chunks
        # of CHUNK_BYTES, the queue, the ASGI server and the socket see far fewer, larger writes.
        pending.extend(chunk)
        if len(pending) >= CHUNK_BYTES:
            await queue.put(bytes(pending))
            pending.clear()

    async def produce() -> None:
        try:
            await formats.copy_csv(session, statement, put)
            if pending:
                await queue.put(bytes(pending))
        finally:
            await queue.put(None)

    task = asyncio.create_task(produce())
    # Whoever owns the session stops the COPY before closing it, even if this generator is
    # abandoned half-way (a client that goes away): see app.db.get_snapshot_session.
    session.info.setdefault(EXPORT_TASKS, []).append(task)
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # the COPY's error, if any
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _joined(
    rows: AsyncIterator[str], opening: str, separator: str, closing: str
) -> AsyncIterator[bytes]:
    buffer: list[str] = [opening]
    size = len(opening)
    first = True
    async for row in rows:
        if not first:
            buffer.append(separator)
        first = False
        buffer.append(row)
        size += len(row) + len(separator)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    buffer.append(closing)
    yield "".join(buffer).encode()


def file_chunks(session: AsyncSession, spec: DatasetSpec, fmt: Format) -> AsyncIterator[bytes]:
    """The bytes of one export file, in chunks."""
    if fmt == "csv":
        return _csv_chunks(session, spec)
    if fmt == "json":
        statement = formats.json_statement(spec.rows, spec.json_columns())
        return _joined(formats.text_rows(session, statement), "[\n", ",\n", "\n]\n")
    assert spec.geometry is not None
    statement = formats.geojson_statement(
        spec.rows, spec.key, spec.geometry, spec.property_columns()
    )
    opening = f'{{"type": "FeatureCollection", "name": "{spec.identifier}", "features": [\n'
    return _joined(formats.text_rows(session, statement), opening, ",\n", "\n]}\n")


async def figures(
    session: AsyncSession, cache: FiguresCache, spec: DatasetSpec, fmt: Format
) -> Figures:
    """Size and checksum of the file as it is in the session's snapshot."""
    state = await repository.dataset_version(session, spec.identifier)
    version = (state.version, state.modified_at) if state else (0, None)
    found = cache.get(spec.identifier, fmt, version)
    if found is not None:
        return found
    async with cache.lock(spec.identifier, fmt):
        found = cache.get(spec.identifier, fmt, version)
        if found is not None:
            return found
        sha256 = hashlib.sha256()
        sha1 = hashlib.sha1(usedforsecurity=False)
        size = 0
        async for chunk in file_chunks(session, spec, fmt):
            sha256.update(chunk)
            sha1.update(chunk)
            size += len(chunk)
        computed = Figures(size, sha256.hexdigest(), sha1.hexdigest(), version[0], version[1])
        cache.put(spec.identifier, fmt, computed)
        return computed


def _field(column: Column) -> dict[str, Any]:
    field: dict[str, Any] = {
        "name": column.name,
        "title": column.title,
        "description": column.description,
        "type": column.type,
    }
    constraints: dict[str, Any] = {}
    if column.required:
        constraints["required"] = True
    if column.unique:
        constraints["unique"] = True
    if column.pattern:
        constraints["pattern"] = column.pattern.removeprefix("^").removesuffix("$")
    if column.enum:
        constraints["enum"] = list(column.enum)
    if column.minimum is not None:
        constraints["minimum"] = column.minimum
    if constraints:
        field["constraints"] = constraints
    if column.example is not None:
        field["example"] = column.example
    return field


def table_schema(spec: DatasetSpec, territory_name: str, schema_url: str) -> dict[str, Any]:
    """The TableSchema (frictionless) of the dataset's CSV file."""
    return {
        "name": spec.identifier,
        "title": spec.title.format(territory=territory_name),
        "description": spec.description.format(territory=territory_name),
        "path": schema_url,
        "countryCode": "FR",
        "fields": [_field(column) for column in spec.columns if column.in_csv],
        "primaryKey": [spec.key],
        "missingValues": [""],
    }
