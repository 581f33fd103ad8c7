"""Writes of initiatives (editors, moderators) and the moderators' private view of them."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.models.initiative import InitiativeStatus, LocationPrecision, ModerationReason
from app.schemas.common import ApiModel, GeometryMapping, _printable, code_pattern
from app.schemas.geometry import InvalidGeometryError, validate_geometry

MAX_TITLE = 200
MAX_DESCRIPTION = 5_000
MAX_ADDRESS = 300
MAX_AUTHOR_NAME = 100
MAX_MESSAGE = 2_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _geometry(value: dict[str, Any]) -> dict[str, Any]:
    # The shape alone here; whether it lies on the territory needs the database (the service).
    try:
        validate_geometry(value, None)
    except InvalidGeometryError as error:
        raise ValueError(error.detail) from error
    return value


# Text is stored exactly as given (markup and SQL are inert data), bounded and printable.
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TITLE),
    AfterValidator(_printable),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str, StringConstraints(max_length=MAX_DESCRIPTION), AfterValidator(_printable)
]
Address = Annotated[str, StringConstraints(max_length=MAX_ADDRESS), AfterValidator(_printable)]
AuthorName = Annotated[
    str, StringConstraints(max_length=MAX_AUTHOR_NAME), AfterValidator(_printable)
]
Message = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MESSAGE),
    AfterValidator(_printable),
    AfterValidator(_not_blank),
]
Category = Annotated[
    str, Field(pattern=code_pattern(1), description="Code of an axis of the plan.", examples=["3"])
]
GeometryIn = Annotated[
    GeometryMapping,
    AfterValidator(_geometry),
    Field(
        description="GeoJSON Point, LineString or Polygon in WGS84 (longitude, latitude), valid, "
        "at most 5 000 vertices, on the territory (within 2 km of its communes).",
        examples=[{"type": "Point", "coordinates": [2.828254, 50.426818]}],
    ),
]


class WriteModel(BaseModel):
    # Unknown fields are refused (422 naming each), never silently dropped.
    model_config = ConfigDict(extra="forbid")


class InitiativeCreate(WriteModel):
    """An initiative an editor creates: published at once (editors are the publisher's staff)."""

    title: Title
    description: Description | None = None
    category: Category
    geometry: GeometryIn
    location_precision: LocationPrecision = Field(
        default=LocationPrecision.exact,
        description="How precisely the geometry places the initiative.",
    )
    address: Address | None = None
    author_name: AuthorName | None = Field(default=None, description="Public name of the author.")


class InitiativePatch(WriteModel):
    """A JSON merge patch (RFC 7396): members absent are kept, `null` clears an optional one."""

    title: Title | None = None
    description: Description | None = None
    category: Category | None = None
    geometry: GeometryIn | None = None
    location_precision: LocationPrecision | None = None
    address: Address | None = None
    author_name: AuthorName | None = None

    @field_validator("title", "category", "geometry", "location_precision")
    @classmethod
    def _kept(cls, value: Any) -> Any:
        # Called only for members sent: `null` would remove what the initiative must have.
        if value is None:
            raise ValueError("cannot be removed; give a value or leave the member out")
        return value

    def changes(self) -> dict[str, Any]:
        """The members sent, with their values (None: cleared)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Rejection(WriteModel):
    reason: ModerationReason = Field(description="Why, as a code the proposer can read.")
    message: Message = Field(
        description="A message for the proposer, shown through the private status link.",
        examples=["Cette proposition existe déjà : voir l'initiative 42."],
    )


class Archival(WriteModel):
    reason: ModerationReason | None = None
    message: Message | None = None


class ModeratedInitiative(ApiModel):
    """Everything a moderator needs, private fields included: never shown to the public."""

    id: int
    status: InitiativeStatus
    title: str
    description: str | None
    category: str = Field(description="Code of the axis of the plan.")
    geometry: dict[str, Any] = Field(description="GeoJSON, WGS84.")
    location_precision: LocationPrecision
    commune: str | None = Field(description="INSEE code of the commune it lies in.")
    commune_name: str | None
    address: str | None = Field(description="As the proposer wrote it.")
    author_name: str | None = Field(description="Public name of the author.")
    contact: str | None = Field(description="Private: how to reach the proposer.")
    actions: list[str] = Field(description="Codes of the actions it relates to.")
    reference: str | None = Field(description="The dataset's own key, for loaded initiatives.")
    source_excerpt: str | None
    moderation_reason: ModerationReason | None
    moderation_message: str | None
    moderated_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str | None = Field(description="Its public URL, while it is published.")


class ModerationQueue(ApiModel):
    items: list[ModeratedInitiative]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
