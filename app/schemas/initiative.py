"""Initiatives as GeoJSON (RFC 7946): what /v1/initiatives publishes."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.models.initiative import LocationPrecision
from app.schemas.common import ApiModel


class InitiativeProperties(ApiModel):
    title: str = Field(examples=["Arena stade couvert de Liévin"])
    description: str | None
    category: str = Field(description="Code of the axis of the plan.", examples=["3"])
    status: Literal["published"] = Field(description="Only published initiatives are public.")
    commune: str | None = Field(
        description="INSEE code of the commune the geometry lies in (spatial join).",
        examples=["62510"],
    )
    commune_name: str | None
    location_precision: LocationPrecision = Field(
        description="exact, address, or commune: a point on the commune's surface, the place "
        "itself being unknown."
    )
    actions: list[str] = Field(description="Codes of the actions it relates to.")
    address: str | None = Field(description="The address, as the proposer or editor gave it.")
    author_name: str | None = Field(description="Public name of the author.")
    support_count: int = Field(ge=0, description="How many people support it.")
    source_excerpt: str | None = Field(description="The passage of the source document it cites.")
    created_at: datetime
    updated_at: datetime
    published_at: datetime


class InitiativeFeature(ApiModel):
    type: Literal["Feature"] = "Feature"
    id: int
    geometry: dict[str, Any] = Field(
        description="GeoJSON Point, LineString or Polygon, WGS84 longitude/latitude."
    )
    properties: InitiativeProperties


class InitiativeCollection(ApiModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[InitiativeFeature]
    numberReturned: int  # noqa: N815 (the GeoJSON/OGC member name)
    numberMatched: int | None = Field(  # noqa: N815
        default=None, description="Given only when exact and free (a single page)."
    )
    timeStamp: str  # noqa: N815
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
