"""The territory row and the figures computed over the communes."""

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.territory import Territory


async def get_territory(session: AsyncSession) -> Territory | None:
    return (await session.execute(select(Territory))).scalar_one_or_none()


async def commune_summary(session: AsyncSession) -> RowMapping:
    extent = func.ST_Extent(Commune.boundary)
    query = select(
        func.count().label("count"),
        func.sum(Commune.population).label("population"),
        func.ST_XMin(extent).label("xmin"),
        func.ST_YMin(extent).label("ymin"),
        func.ST_XMax(extent).label("xmax"),
        func.ST_YMax(extent).label("ymax"),
    )
    return (await session.execute(query)).mappings().one()
