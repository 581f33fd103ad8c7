"""Pieces shared by several API models, and the input types every route parses with."""

import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    RootModel,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

# Lone surrogates (from percent-encoded invalid UTF-8) and control characters never reach SQL.
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _printable(value: str) -> str:
    if _FORBIDDEN_CHARACTERS.search(value):
        raise ValueError("control characters and invalid unicode are not allowed")
    return value


SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]

CODE_PATTERN = r"^[1-9][0-9]{0,5}(\.[1-9][0-9]{0,5}){0,3}$"


def code_pattern(depth: int) -> str:
    """Codes of one level of the plan: `depth` dot-separated positive integers."""
    return rf"^[1-9][0-9]{{0,5}}(\.[1-9][0-9]{{0,5}}){{{depth - 1}}}$"


INSEE_PATTERN = r"^([0-9]{2}|2A|2B)[0-9]{3}$"

T = TypeVar("T")


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(ApiModel, Generic[T]):
    """One page of a list. The next page is also announced in the RFC 8288 `Link` header."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


GeoJSONGeometry = dict[str, Any]


# --- GeoJSON geometries sent by clients -------------------------------------------------------
# Bodies keep a geometry as the plain GeoJSON mapping the services check (validity, size, place);
# these models only describe it in the contract, as one named, discriminated schema.

Position = Annotated[
    list[float],
    Field(min_length=2, max_length=3, description="Longitude, latitude (WGS84)."),
]


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: Position


class LineStringGeometry(BaseModel):
    type: Literal["LineString"]
    coordinates: list[Position] = Field(min_length=2)


class PolygonGeometry(BaseModel):
    type: Literal["Polygon"]
    coordinates: list[Annotated[list[Position], Field(min_length=4)]] = Field(
        min_length=1, description="The exterior ring, then any holes; each ring closed."
    )


class Geometry(
    RootModel[
        Annotated[PointGeometry | LineStringGeometry | PolygonGeometry, Field(discriminator="type")]
    ]
):
    """A GeoJSON Point, LineString or Polygon in WGS84 (longitude, latitude)."""


class _AsGeometry:
    """Describes a field as the named `Geometry` schema; the value stays the mapping."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(Geometry.__pydantic_core_schema__)


# A client's geometry: a GeoJSON mapping at run time, the `Geometry` schema in the contract.
GeometryMapping = Annotated[dict[str, Any], _AsGeometry]
