"""SQL of the publication layer: published records by key (the change feed, webhooks, digests),
dataset versions (the cache validators), and the territory's extent.

The row sources are in publication_rows, their column types in publication_columns, and the
export statements (CSV, JSON, GeoJSON) in publication_formats.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.publication import DatasetVersion
from app.models.territory import Territory
from app.repositories.publication_columns import OutputColumn, RowSource
from app.repositories.publication_formats import json_object


async def records_by_key(
    session: AsyncSession,
    source: RowSource,
    key: str,
    columns: Sequence[OutputColumn],
    keys: Sequence[str],
) -> dict[str, Any]:
    """The JSON records (parsed by the driver) of the given keys that exist now."""
    if not keys:
        return {}
    rows = source().subquery("rows")
    query = select(cast(rows.c[key], String), json_object(rows, columns)).where(
        cast(rows.c[key], String).in_(sorted(set(keys)))
    )
    result = await session.execute(query)
    return {row[0]: row[1] for row in result}


@dataclass(frozen=True)
class VersionRow:
    dataset: str
    version: int
    modified_at: datetime


async def dataset_versions(session: AsyncSession) -> list[VersionRow]:
    result = await session.execute(
        select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.modified_at)
    )
    return [VersionRow(*row) for row in result]


async def lock_dataset_versions(
    session: AsyncSession, datasets: tuple[str, ...] | None
) -> list[VersionRow]:
    """The versions of these datasets (all when None), locked until the transaction ends: a
    concurrent write to them waits, so a version checked here stays current while this writes."""
    query = select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.modified_at)
    if datasets is not None:
        query = query.where(DatasetVersion.dataset.in_(datasets))
    result = await session.execute(query.order_by(DatasetVersion.dataset).with_for_update())
    return [VersionRow(*row) for row in result]


async def dataset_versions_on(pool: asyncpg.Pool) -> list[VersionRow]:
    """The same, in one round trip on a plain driver pool: HTTP validators read it per request
    when they cannot keep it in memory."""
    rows = await pool.fetch("SELECT dataset, version, modified_at FROM dataset_version")
    return [VersionRow(row["dataset"], row["version"], row["modified_at"]) for row in rows]


async def dataset_version(session: AsyncSession, dataset: str) -> VersionRow | None:
    result = await session.execute(
        select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.modified_at).where(
            DatasetVersion.dataset == dataset
        )
    )
    row = result.one_or_none()
    return VersionRow(*row) if row else None


async def first_created(session: AsyncSession) -> datetime | None:
    """When the territory was first published (the catalog's dct:issued)."""
    result = await session.execute(select(func.min(Territory.created_at)))
    return result.scalar_one_or_none()


async def territory_boundary(session: AsyncSession, tolerance: float) -> str | None:
    """The union of the communes as GeoJSON (simplified within `tolerance` degrees)."""
    union = func.ST_Union(Commune.boundary)
    simplified = func.ST_Multi(func.ST_SimplifyPreserveTopology(union, tolerance))
    result = await session.execute(select(func.ST_AsGeoJSON(simplified, 5)))
    return result.scalar_one_or_none()


async def territory_bbox(session: AsyncSession) -> tuple[float, float, float, float] | None:
    extent = func.ST_Extent(Commune.boundary)
    result = await session.execute(
        select(
            func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent)
        )
    )
    row = result.one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])
