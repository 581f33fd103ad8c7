"""Full-text search in French with accents ignored (the french_unaccent configuration), ranked,
with highlighted fragments. Each searchable dataset is a source: a SELECT of its matching rows
with the same columns, so that the sources are searched as one UNION ALL and paged by keyset on
(rank, dataset, sort key).

The lists' filters apply to every source they make sense for, and leave out the others:

- `commune`: plan records concerning it (through the actions below them), milestones of an
  action concerning it, initiatives located in it, indicators with values for it.
- `axis`, `ambition`, `objective`, `action` (a record of the plan): that record and the plan
  records below it (a level above the filter's is left out), milestones of an action within it,
  indicators measuring a record within it (the indicators list's `node`); for initiatives the
  axis is their `category` (as in their list), and the other three take those linked to an
  action within.
- `status` (an action status): actions with it; every other source is left out.
- `bbox`, `near` (as in the initiatives list): initiatives and located actions that lie there;
  every other source is left out.
- `updated_since`: records whose own fields changed since, in every source.

Budget lines are not searched: their only text is an optional comment on figures, and a reader
finds them through their action. Milestones are: their titles name public steps ("Ouverture de
la Popschool"). They have no GIN index (a few per action: the planner reads the table anyway).

Here: the one UNION ALL over the sources and its keyset paging; the sources are in
search_sources, the shared pieces (configuration, filters, tsquery) in search_terms.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.search_sources import SOURCES
from app.repositories.search_terms import (
    HEADLINE,
    TITLE_HEADLINE,
    SearchFilters,
    ts_config,
    tsquery,
)


@dataclass(frozen=True)
class Hit:
    dataset: str
    key: str
    title: str
    rank: float
    order: int
    sort_key: list[int]
    updated_at: datetime
    title_highlight: str | None
    description_highlight: str | None


def _escaped(text: Any) -> ColumnElement[Any]:
    return func.replace(func.replace(func.replace(text, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")


async def has_terms(session: AsyncSession, text: str) -> bool:
    """Whether the text leaves anything to search once stop words and punctuation are gone."""
    result = await session.execute(select(func.numnode(tsquery(text))))
    return bool(result.scalar_one())


async def search(
    session: AsyncSession,
    text: str,
    filters: SearchFilters,
    *,
    after: tuple[float, int, list[int]] | None,
    limit: int,
) -> list[Hit]:
    query = tsquery(text)
    parts = []
    for order, source in enumerate(SOURCES.sources):
        if filters.datasets and source.dataset not in filters.datasets:
            continue
        built = source.build(filters)
        if built is None:
            continue
        matches = built.subquery()
        parts.append(
            select(
                literal(source.dataset).label("dataset"),
                literal(order, Integer).label("dataset_order"),
                matches.c.key,
                matches.c.title,
                matches.c.description,
                cast(func.ts_rank_cd(matches.c.document, query), Float).label("rank"),
                matches.c.sort_key,
                matches.c.updated_at,
            ).where(matches.c.document.op("@@")(query))
        )
    if not parts:
        return []
    hits = union_all(*parts).subquery("hits")
    ranked = select(hits)
    if after is not None:
        rank, order, sort_key = after
        ranked = ranked.where(
            or_(
                hits.c.rank < rank,
                (hits.c.rank == rank)
                & (
                    tuple_(hits.c.dataset_order, hits.c.sort_key)
                    > tuple_(literal(order), type_coerce(sort_key, ARRAY(BigInteger)))
                ),
            )
        )
    page = (
        ranked.order_by(hits.c.rank.desc(), hits.c.dataset_order, hits.c.sort_key)
        .limit(limit)
        .subquery("page")
    )
    statement = select(
        page.c.dataset,
        page.c.key,
        page.c.title,
        page.c.rank,
        page.c.dataset_order,
        page.c.sort_key,
        page.c.updated_at,
        func.ts_headline(ts_config(), _escaped(page.c.title), query, TITLE_HEADLINE),
        func.ts_headline(ts_config(), _escaped(page.c.description), query, HEADLINE),
    ).order_by(page.c.rank.desc(), page.c.dataset_order, page.c.sort_key)
    result = await session.execute(statement)
    return [
        Hit(
            dataset=row[0],
            key=row[1],
            title=row[2],
            rank=row[3],
            order=row[4],
            sort_key=list(row[5]),
            updated_at=row[6],
            title_highlight=row[7],
            description_highlight=row[8],
        )
        for row in result
    ]
