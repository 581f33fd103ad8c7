"""OGC API – Features answers, as the contract describes them.

The services assemble these answers as dicts and bytes (app.services.ogc): the models here only
document them, and the contract test validates the real answers against their schemas. A member
the server always sends is required; one it sends only sometimes is optional but never null
(`SkipJsonSchema[None]` keeps null out of the schema).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


def _title(name: str, _: Any) -> str:
    return name.strip("_").replace("_", " ").capitalize()


class OgcModel(BaseModel):
    """Members a model does not name are allowed (the schemas set no `additionalProperties`)."""

    # Titles from the Python names: "Number returned", not "Numberreturned" from the alias.
    model_config = ConfigDict(field_title_generator=_title)


class Link(OgcModel):
    href: str = Field(examples=["https://example.org/ogc/collections?f=json"])
    rel: str = Field(description="Relation: `self`, `alternate`, `next`, `items`, a rel URI…")
    type: str = Field(description="Media type of the target.", examples=["application/json"])
    title: str | SkipJsonSchema[None] = None
    templated: bool | SkipJsonSchema[None] = Field(
        default=None, description="`href` is a URI template (the vector tiles)."
    )


class LandingPage(OgcModel):
    title: str
    description: str | SkipJsonSchema[None] = None
    links: list[Link] = Field(description="`self`, `service-desc`, `conformance`, `data`…")


class Conformance(OgcModel):
    conforms_to: list[str] = Field(
        alias="conformsTo", min_length=1, description="URIs of the conformance classes."
    )
    links: list[Link]


BBox = Annotated[
    list[float],
    Field(min_length=4, max_length=6, description="min x, min y, max x, max y (CRS84)."),
]


class SpatialExtent(OgcModel):
    bbox: list[BBox] = Field(min_length=1)
    crs: str = Field(examples=["http://www.opengis.net/def/crs/OGC/1.3/CRS84"])


class Extent(OgcModel):
    spatial: SpatialExtent


class Collection(OgcModel):
    id: str = Field(examples=["initiatives"])
    title: str
    description: str | SkipJsonSchema[None] = None
    item_type: Literal["feature"] = Field(alias="itemType")
    crs: list[str] = Field(min_length=1, description="The CRS `crs` may ask for.")
    storage_crs: str = Field(alias="storageCrs")
    extent: Extent | SkipJsonSchema[None] = Field(
        default=None, description="Absent while the collection has no feature."
    )
    links: list[Link]


# Not `Collections`: a generated Python client would name a local variable after both the model
# and its `collections` member.
class CollectionList(OgcModel):
    """The feature collections, each described as at its own URL."""

    links: list[Link]
    collections: list[Collection]


class Queryables(OgcModel):
    """A JSON Schema (draft 2020-12) of the properties `filter` may use."""

    schema_: str = Field(alias="$schema", examples=["https://json-schema.org/draft/2020-12/schema"])
    id_: str = Field(alias="$id")
    type: Literal["object"]
    title: str | SkipJsonSchema[None] = None
    properties: dict[str, dict[str, Any]] = Field(description="Each queryable's JSON Schema.")


class OpenApiDocument(OgcModel):
    """An OpenAPI 3.0 document (its own schema is the OpenAPI Specification's)."""

    openapi: str = Field(pattern=r"^3\.0\.\d+$", examples=["3.0.3"])
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any] | SkipJsonSchema[None] = None


# --- features ---------------------------------------------------------------------------------
# Coordinates are in the CRS of the answer (`Content-Crs`): CRS84 longitude, latitude by default,
# EPSG:4326 latitude first, projected eastings and northings in metres otherwise.

Position = Annotated[
    list[float],
    Field(min_length=2, max_length=3, description="x, y in the axis order of the answer's CRS."),
]
Ring = Annotated[list[Position], Field(min_length=4, description="Closed: last = first.")]


class OgcPoint(OgcModel):
    type: Literal["Point"]
    coordinates: Position


class OgcLineString(OgcModel):
    type: Literal["LineString"]
    coordinates: list[Position] = Field(min_length=2)


class OgcPolygon(OgcModel):
    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1, description="The exterior ring, then holes.")


class OgcMultiPolygon(OgcModel):
    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(min_length=1)


OgcGeometry = Annotated[
    OgcPoint | OgcLineString | OgcPolygon | OgcMultiPolygon, Field(discriminator="type")
]


class Feature(OgcModel):
    type: Literal["Feature"]
    id: int | str = Field(description="An integer for initiatives, text otherwise.")
    geometry: OgcGeometry = Field(
        description="Initiatives: Point, LineString or Polygon; communes: MultiPolygon; "
        "actions: their own geometry, else the MultiPolygon of their communes."
    )
    properties: dict[str, Any] = Field(description="As the collection's queryables describe.")


class FeatureWithLinks(Feature):
    """One feature, with its `self`, `alternate` and `collection` links."""

    links: list[Link]


class FeatureCollection(OgcModel):
    """A page of features; the next one is the `next` link (also in the `Link` header)."""

    type: Literal["FeatureCollection"]
    features: list[Feature]
    number_returned: int = Field(alias="numberReturned", ge=0)
    number_matched: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = Field(
        default=None, alias="numberMatched", description="Given only when it is exact."
    )
    links: list[Link]


class VectorLayer(OgcModel):
    id: str = Field(description="The layer's name in the tiles.", examples=["initiatives"])
    description: str | SkipJsonSchema[None] = None
    minzoom: int = Field(ge=0, le=30)
    maxzoom: int = Field(ge=0, le=30)
    fields: dict[str, str] = Field(description="Each attribute of the features and what it is.")


class TileJson(OgcModel):
    """TileJSON 3.0.0 (https://github.com/mapbox/tilejson-spec/tree/master/3.0.0)."""

    tilejson: Literal["3.0.0"]
    name: str
    description: str | SkipJsonSchema[None] = None
    scheme: Literal["xyz"]
    tiles: list[str] = Field(
        min_length=1, description="URL templates with {z}, {x} and {y} (WebMercatorQuad)."
    )
    minzoom: int = Field(ge=0, le=30)
    maxzoom: int = Field(ge=0, le=30)
    bounds: list[float] | SkipJsonSchema[None] = Field(
        default=None, min_length=4, max_length=4, description="west, south, east, north."
    )
    center: list[float] | SkipJsonSchema[None] = Field(
        default=None, min_length=3, max_length=3, description="longitude, latitude, zoom."
    )
    vector_layers: list[VectorLayer] = Field(min_length=1)
