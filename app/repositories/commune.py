"""Communes with their boundaries as GeoJSON text (PostGIS writes it, Python never parses it)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.plan import action_commune
from app.repositories.plan import escape_like


def _communes() -> Select[Any]:
    action_count = (
        select(func.count())
        .select_from(action_commune)
        .where(action_commune.c.commune_insee == Commune.insee)
        .scalar_subquery()
    )
    return select(
        Commune.insee,
        Commune.name,
        Commune.siren,
        Commune.population,
        Commune.updated_at,
        action_count.label("action_count"),
        func.ST_AsGeoJSON(Commune.boundary, 6).label("geometry"),
    )


async def list_communes(
    session: AsyncSession, *, q: str | None = None, updated_since: datetime | None = None
) -> Sequence[RowMapping]:
    where: ColumnElement[bool] = true()
    if q is not None:
        pattern = func.unaccent("%" + escape_like(q) + "%")
        where = func.unaccent(Commune.name).ilike(pattern, escape="\\") | (Commune.insee == q)
    query = _communes().where(where).order_by(Commune.insee)
    if updated_since is not None:
        query = query.where(Commune.updated_at >= updated_since)
    rows: Sequence[RowMapping] = (await session.execute(query)).mappings().all()
    return rows


async def get_commune(session: AsyncSession, insee: str) -> RowMapping | None:
    query = _communes().where(Commune.insee == insee)
    row: RowMapping | None = (await session.execute(query)).mappings().one_or_none()
    return row
