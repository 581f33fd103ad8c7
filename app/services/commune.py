"""Communes as GeoJSON. Geometries arrive as GeoJSON text from PostGIS and are embedded as is."""

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.repositories import commune as repository
from app.repositories import territory as territory_repository


def _feature(row: RowMapping, population_year: int | None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": row["insee"],
        "geometry": orjson.Fragment(row["geometry"]),
        "properties": {
            "insee": row["insee"],
            "name": row["name"],
            "siren": row["siren"],
            "population": row["population"],
            "population_year": population_year,
            "action_count": row["action_count"],
            "updated_at": row["updated_at"],
        },
    }


async def list_communes(
    session: AsyncSession, q: str | None, updated_since: datetime | None = None
) -> dict[str, Any]:
    territory = await territory_repository.get_territory(session)
    year = territory.population_year if territory else None
    rows = await repository.list_communes(session, q=q, updated_since=updated_since)
    return {
        "type": "FeatureCollection",
        "features": [_feature(row, year) for row in rows],
        "attribution": territory.attribution if territory else None,
    }


async def get_commune(session: AsyncSession, insee: str) -> dict[str, Any]:
    row = await repository.get_commune(session, insee)
    if row is None:
        raise NotFoundError(f"No member commune with INSEE code '{insee}'.")
    territory = await territory_repository.get_territory(session)
    return _feature(row, territory.population_year if territory else None)
