"""Communes as GeoJSON (RFC 7946): features with the boundary and the commune's figures."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.schemas.common import ApiModel

Position = list[float]


class MultiPolygonGeometry(ApiModel):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[Position]]] = Field(description="WGS84 longitude, latitude.")


class CommuneProperties(ApiModel):
    insee: str = Field(description="INSEE code (text, 5 characters).", examples=["62498"])
    name: str = Field(examples=["Lens"])
    siren: str | None = Field(examples=["216204982"])
    population: int | None
    population_year: int | None
    action_count: int = Field(description="Actions of the plan concerning the commune.")
    updated_at: datetime


class CommuneFeature(ApiModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: MultiPolygonGeometry
    properties: CommuneProperties


class CommuneCollection(ApiModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[CommuneFeature]
    attribution: str | None = Field(description="Credit to show wherever the data is republished.")
