"""The pieces every search source shares: the text search configuration and headlines, the
filters of a search, the user's words as a tsquery, a record's document, and the place and
plan-scope conditions."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column

from app.repositories.initiative import degree_margins

CONFIGURATION = "french_unaccent"
HEADLINE = (
    "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=12, MaxFragments=2, "
    'FragmentDelimiter=" … "'
)
TITLE_HEADLINE = "StartSel=<mark>, StopSel=</mark>, HighlightAll=true"
LEVELS = ("axis", "ambition", "objective", "action")


@dataclass(frozen=True)
class Near:
    longitude: float
    latitude: float
    metres: float


@dataclass(frozen=True)
class SearchFilters:
    """The lists' filters; a source that cannot satisfy one is left out of the search."""

    datasets: Sequence[str] | None = None
    commune: str | None = None
    axis: str | None = None
    ambition: str | None = None
    objective: str | None = None
    action: str | None = None
    statuses: Sequence[str] | None = None
    updated_since: datetime | None = None
    bbox: tuple[float, float, float, float] | None = (
        None  # WGS84: min lon, min lat, max lon, max lat
    )
    near: Near | None = None

    def scope(self) -> list[tuple[int, str]]:
        """The plan codes given (axis, ambition, objective, action), with their depth (1-4)."""
        codes = (self.axis, self.ambition, self.objective, self.action)
        return [(depth, code) for depth, code in enumerate(codes, start=1) if code]

    @property
    def located(self) -> bool:
        return self.bbox is not None or self.near is not None


def ts_config() -> ColumnElement[Any]:
    # Constants, not bound values: the GIN indexes match the expression only so.
    return literal_column(f"'{CONFIGURATION}'::regconfig")


# A run of `-` that websearch_to_tsquery reads as nested negations: each `-` at the start of a
# word, separated only by what its parser skips there (spaces and the characters of to_tsquery's
# operators). 33 of them overflow the parser's stack of 32 operators ("tsquery stack too small").
_NEGATIONS = re.compile(r"(?<![^ \t\n\r\f\v!&|()<])-(?:[ \t\n\r\f\v!&|()<]*-)+")


def websearch_text(text: str) -> str:
    """The text with each run of negations reduced to what it means: one `-` when their number
    is odd, none when it is even (not not x is x)."""
    return _NEGATIONS.sub(lambda run: "-" if run.group().count("-") % 2 else " ", text)


def tsquery(text: str) -> ColumnElement[Any]:
    """Web-search syntax: words, "quoted phrases", OR, -excluded; never a syntax error."""
    return func.websearch_to_tsquery(ts_config(), websearch_text(text))


def document(title: Any, description: Any) -> ColumnElement[Any]:
    """The same expression as the GIN indexes of the publication migration (so they serve)."""
    weight_a: ColumnElement[Any] = literal_column("'A'::\"char\"")
    weight_b: ColumnElement[Any] = literal_column("'B'::\"char\"")
    empty: ColumnElement[Any] = literal_column("''::text")
    return func.setweight(func.to_tsvector(ts_config(), title), weight_a).op("||")(
        func.setweight(func.to_tsvector(ts_config(), func.coalesce(description, empty)), weight_b)
    )


def place_conditions(geometry: Any, filters: SearchFilters) -> list[ColumnElement[bool]]:
    """The geometry intersects the bbox and lies within `near`'s distance (on the spheroid)."""
    clauses: list[ColumnElement[bool]] = []
    if filters.bbox is not None:
        envelope = func.ST_MakeEnvelope(*filters.bbox, 4326)
        clauses.append(func.ST_Intersects(geometry, envelope))
    if filters.near is not None:
        near = filters.near
        dlon, dlat = degree_margins(near.latitude, near.metres)
        point = func.ST_SetSRID(func.ST_MakePoint(near.longitude, near.latitude), 4326)
        clauses.append(geometry.op("&&")(func.ST_Expand(point, dlon, dlat)))
        clauses.append(
            func.ST_DWithin(func.geography(geometry), func.geography(point), near.metres, True)
        )
    return clauses


def within_code(code_column: Any, depth: int, code: str) -> ColumnElement[bool]:
    """An action's code lies within the record of that code and depth (codes nest: 1.2.3.4
    is under 1.2.3, 1.2 and 1)."""
    if depth >= 4:
        return code_column == code  # type: ignore[no-any-return]
    return code_column.startswith(code + ".", autoescape=True)  # type: ignore[no-any-return]
