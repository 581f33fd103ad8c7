"""Pages of features: parsing what the client asks (bbox, datetime, filter, CRS, paging) into
the fragments the repository runs, and the opaque keyset cursor.

Shared by the OGC API – Features endpoints and by /v1/initiatives.
"""

import base64
import binascii
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
import orjson

from app.db import Reader
from app.errors import InvalidParameterError, NotFoundError, ServiceUnavailableError
from app.repositories import features as repository
from app.repositories.features import Collection, Page, Params
from app.services import cql2
from app.services.crs import CrsSpec, crs

MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
BIGINT = 2**63


def encode_cursor(key: Any) -> str:
    raw = b"k1" + orjson.dumps([key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, collection: Collection) -> Any:
    """The key to resume after; a cursor this service did not issue for this collection is a 400."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
        if not raw.startswith(b"k1"):
            raise ValueError
        (key,) = orjson.loads(raw[2:])
    except (binascii.Error, UnicodeError, ValueError, TypeError, orjson.JSONDecodeError):
        key = None
    valid = (
        isinstance(key, int) and not isinstance(key, bool) and -BIGINT <= key < BIGINT
        if collection.key_type == "bigint"
        else isinstance(key, str) and 0 < len(key) <= 100 and "\x00" not in key
    )
    if not valid:
        raise InvalidParameterError(
            "query", "cursor", "not a cursor this service issued; follow the `next` link"
        )
    return key


def parse_bbox(text: str) -> list[float]:
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidParameterError(
            "query", "bbox", "4 numbers are expected: min x, min y, max x, max y"
        )
    try:
        numbers = [float(part) for part in parts]
    except ValueError as error:
        raise InvalidParameterError("query", "bbox", "only numbers are expected") from error
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidParameterError("query", "bbox", "numbers must be finite")
    if len(numbers) == 6:  # min x, min y, min z, max x, max y, max z: heights are not stored
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    return numbers


def _instant(text: str, end: bool) -> datetime:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidParameterError(
            "query", "datetime", f"{text[:40]!r} is not an RFC 3339 date or date-time"
        ) from error
    if moment.tzinfo is None:
        raise InvalidParameterError(
            "query", "datetime", "a date-time needs its time zone (Z or an offset)"
        )
    return moment


def datetime_condition(text: str, column: str, params: Params) -> str:
    """`datetime`: an instant, a day, or an interval start/end with '..' for an open end."""
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        if "/" in end_text:
            raise InvalidParameterError("query", "datetime", "an interval has one '/'")
        start = None if start_text in ("", "..") else _instant(start_text, end=False)
        end = None if end_text in ("", "..") else _instant(end_text, end=True)
        if start is None and end is None:
            raise InvalidParameterError("query", "datetime", "an interval needs at least one end")
        if start and end and start > end:
            raise InvalidParameterError("query", "datetime", "the interval ends before it starts")
        conditions = []
        if start is not None:
            conditions.append(f"{column} >= {params.add(start, 'timestamptz')}")
        if end is not None:
            conditions.append(f"{column} <= {params.add(end, 'timestamptz')}")
        return " AND ".join(conditions)
    if text == "..":
        raise InvalidParameterError("query", "datetime", "'..' is only an end of an interval")
    if len(text) == 10:
        low, high = _instant(text, end=False), _instant(text, end=True)
        return (
            f"{column} BETWEEN {params.add(low, 'timestamptz')} "
            f"AND {params.add(high, 'timestamptz')}"
        )
    return f"{column} = {params.add(_instant(text, end=False), 'timestamptz')}"


@dataclass
class Query:
    """What a page request asks for, parsed: SQL conditions over `t` and their parameters."""

    collection: Collection
    output: CrsSpec
    limit: int
    offset: int = 0
    after: Any = None
    params: Params = field(default_factory=Params)
    conditions: list[str] = field(default_factory=list)
    condition_count: int = 0  # parameters of the conditions (paging ones come after)

    @property
    def first_page(self) -> bool:
        return self.after is None and self.offset == 0


def build_query(
    collection: Collection,
    *,
    output: CrsSpec,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    bbox: str | None = None,
    bbox_crs: CrsSpec | None = None,
    datetime_text: str | None = None,
    filter_text: str | None = None,
    filter_lang: str = "cql2-text",
    filter_crs: CrsSpec | None = None,
) -> Query:
    query = Query(
        collection=collection,
        output=output,
        limit=max(1, min(limit, MAX_LIMIT)),  # clamped, never an error
        offset=offset,
        after=decode_cursor(cursor, collection) if cursor else None,
    )
    if bbox is not None:
        envelope = (bbox_crs or _crs84()).envelope_sql(query.params, parse_bbox(bbox))
        query.conditions.append(f"ST_Intersects({collection.geometry}, {envelope})")
    if datetime_text is not None:
        query.conditions.append(
            datetime_condition(datetime_text, collection.datetime_column, query.params)
        )
    if filter_text is not None:
        tree = cql2.parse_filter(filter_text, filter_lang)
        query.conditions.append(
            cql2.filter_sql(tree, collection, query.params, filter_crs or _crs84())
        )
    query.condition_count = len(query.params.values)
    return query


def _crs84() -> CrsSpec:
    return crs(None, "crs")


async def _guarded(coroutine: Any) -> Any:
    """Database errors caused by a request's values are the request's fault: a 400."""
    try:
        return await coroutine
    except asyncpg.exceptions.QueryCanceledError as error:
        raise ServiceUnavailableError("The query took too long; narrow it down.") from error
    except (
        asyncpg.exceptions.DataError,
        asyncpg.exceptions.InternalServerError,
        asyncpg.exceptions.InvalidParameterValueError,
    ) as error:
        message = str(error).splitlines()[0][:200]
        raise InvalidParameterError(
            "query", "filter", f"the database refused a value: {message}"
        ) from error


async def fetch_page(reader: Reader, query: Query) -> Page:
    page: Page = await _guarded(
        repository.fetch_page(
            reader,
            query.collection,
            query.output.output,
            query.conditions,
            query.params,
            after=query.after,
            offset=query.offset,
            limit=query.limit,
        )
    )
    return page


async def number_matched(reader: Reader, query: Query, page: Page) -> int | None:
    """An exact count, only when it costs nothing (a whole first page) or the table is small."""
    if query.first_page and not page.more:
        return page.returned
    if query.collection.small:
        # The count must not see the keyset or paging values: count with the filters only.
        params = Params()
        params.values = query.params.values[: query.condition_count]
        count: int = await _guarded(
            repository.count(reader, query.collection, query.conditions, params)
        )
        return count
    return None


def parse_key(collection: Collection, text: str) -> Any:
    if collection.key_type == "bigint":
        if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) >= BIGINT:
            raise NotFoundError(f"No feature '{text[:40]}' in collection '{collection.id}'.")
        return int(text)
    return text


async def fetch_feature(reader: Reader, collection: Collection, output: CrsSpec, text: str) -> str:
    key = parse_key(collection, text)
    feature: str | None = await _guarded(
        repository.fetch_feature(reader, collection, output.output, key)
    )
    if feature is None:
        raise NotFoundError(f"No feature '{text[:40]}' in collection '{collection.id}'.")
    return feature
