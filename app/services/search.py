"""Search across the searchable datasets (each one registers a source in
app/repositories/search.py): ranked hits with highlighted fragments, paged by keyset."""

import base64
import binascii
import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidParameterError
from app.repositories import search as repository
from app.repositories.search_sources import SOURCES
from app.repositories.search_terms import Near, SearchFilters
from app.schemas.common import Page
from app.schemas.publication import SearchHit
from app.services.crs import crs
from app.services.features import parse_bbox
from app.services.initiative import parse_near
from app.services.registry import REGISTRY

_VERSION = "s1"


def encode_cursor(rank: float, order: int, sort_key: list[int]) -> str:
    raw = f"{_VERSION}:" + json.dumps([rank, order, sort_key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int, list[int]]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        version, _, body = text.partition(":")
        rank, order, sort_key = json.loads(body)
        valid = (
            version == _VERSION
            and isinstance(rank, float | int)
            and not isinstance(rank, bool)
            and 0 <= rank < 1e6
            and isinstance(order, int)
            and 0 <= order < 1000
            and isinstance(sort_key, list)
            and 0 < len(sort_key) <= 8
            and all(isinstance(x, int) and 0 <= x < 2**63 for x in sort_key)
        )
    except (binascii.Error, UnicodeError, ValueError, TypeError):
        valid = False
    if not valid:
        raise InvalidParameterError(
            "query", "cursor", "not a search cursor; use next_cursor from a previous page"
        )
    return float(rank), order, sort_key


def searchable_datasets() -> list[str]:
    return SOURCES.datasets()


def record_path(dataset: str, key: str) -> str | None:
    """The API path of a hit: its source's own, else its dataset's record path."""
    source = SOURCES.get(dataset)
    if source is not None and source.path is not None:
        return source.path(key)
    spec = REGISTRY.get(dataset)
    return spec.record_path.format(key=key) if spec and spec.record_path else None


def search_filters(
    *,
    datasets: list[str] | None,
    commune: str | None,
    plan: dict[str, str | None],
    statuses: list[str] | None,
    updated_since: datetime | None,
    bbox: str | None,
    near: str | None,
) -> SearchFilters:
    """The filters of a search, checked: every dataset searchable, the bbox and the point."""
    known = searchable_datasets()
    for name in datasets or ():
        if name not in known:
            raise InvalidParameterError(
                "query",
                "dataset",
                f"not searchable; the searchable datasets are: {', '.join(known)}",
            )
    box = crs(None, "bbox").checked_box(parse_bbox(bbox)) if bbox is not None else None
    point = Near(*parse_near(near)) if near is not None else None
    return SearchFilters(
        datasets=sorted(set(datasets)) if datasets else None,
        commune=commune,
        axis=plan.get("axis"),
        ambition=plan.get("ambition"),
        objective=plan.get("objective"),
        action=plan.get("action"),
        statuses=sorted(set(statuses)) if statuses else None,
        updated_since=updated_since,
        bbox=box,
        near=point,
    )


async def search(
    session: AsyncSession,
    text: str,
    filters: SearchFilters,
    cursor: str | None,
    limit: int,
    base_url: str,
) -> Page[SearchHit]:
    after = decode_cursor(cursor) if cursor else None
    if not await repository.has_terms(session, text):
        raise InvalidParameterError(
            "query",
            "q",
            "nothing to search: the text has only stop words or punctuation; give a word",
        )
    hits = await repository.search(session, text, filters, after=after, limit=limit + 1)
    items = []
    for hit in hits[:limit]:
        path = record_path(hit.dataset, hit.key)
        highlights = {"title": hit.title_highlight or hit.title}
        if hit.description_highlight:
            highlights["description"] = hit.description_highlight
        items.append(
            SearchHit(
                dataset=hit.dataset,
                key=hit.key,
                title=hit.title,
                url=base_url.rstrip("/") + path if path else None,
                rank=hit.rank,
                highlights=highlights,
                updated_at=hit.updated_at,
            )
        )
    next_cursor = None
    if len(hits) > limit:
        last = hits[limit - 1]
        next_cursor = encode_cursor(last.rank, last.order, last.sort_key)
    return Page(items=items, next_cursor=next_cursor)
