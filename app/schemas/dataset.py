"""The files a territory's dataset is made of (territory.yaml, plan.yaml, a communes GeoJSON)."""

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.initiative import InitiativeStatus, LocationPrecision
from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import CODE_PATTERN, INSEE_PATTERN, code_pattern

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Insee = Annotated[str, StringConstraints(pattern=INSEE_PATTERN)]
Siren = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeclaredCounts(Strict):
    axes: int | None = Field(default=None, ge=0)
    ambitions: int | None = Field(default=None, ge=0)
    objectives: int | None = Field(default=None, ge=0)
    actions: int | None = Field(default=None, ge=0)


class LicenceFile(Strict):
    title: Text
    url: Text
    spdx: Text | None = None


class SourceDocumentFile(Strict):
    title: Text
    publisher: Text | None = None
    file: Text | None = Field(
        default=None, description="Text of the document, relative to the dataset folder."
    )


class CommuneProperties(Strict):
    """Names of the GeoJSON properties holding each field."""

    insee: Text
    name: Text
    siren: Text | None = None
    population: Text | None = None


class CommunesFile(Strict):
    file: Text
    population_year: int | None = Field(default=None, ge=1800, le=2200)
    properties: CommuneProperties


class TerritoryFile(Strict):
    name: Text
    short_name: Text | None = None
    siren: Siren
    kind: Text | None = None
    website: Text | None = None
    address: Text | None = None
    phone: Text | None = None
    declared_counts: DeclaredCounts = DeclaredCounts()
    declared_counts_excerpt: Text | None = None
    licence: LicenceFile
    attribution: Text
    source_document: SourceDocumentFile
    communes: CommunesFile


class NodeFile(Strict):
    code: Code
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Text | None = None
    source_excerpt: Text | None = None


class ActionFile(NodeFile):
    status: ActionStatus | None = None
    status_excerpt: Text | None = None
    lead: Text | None = None
    partners: list[Text] = []
    communes: list[Insee] = []
    start_date: date | None = None
    start_date_precision: DatePrecision | None = None
    end_date: date | None = None


class ObjectiveFile(NodeFile):
    actions: list[ActionFile] = []


class AmbitionFile(NodeFile):
    objectives: list[ObjectiveFile] = []


class AxisFile(NodeFile):
    ambitions: list[AmbitionFile] = []


class PlanFile(Strict):
    axes: list[AxisFile]


Reference = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]


class LocationFile(Strict):
    """Either a member commune (the initiative is placed on a point of its surface, with
    precision "commune"), or a GeoJSON geometry with the precision it has."""

    commune: Insee | None = None
    geometry: dict[str, Any] | None = None
    precision: LocationPrecision | None = None


class InitiativeFile(Strict):
    reference: Reference = Field(description="The dataset's permanent key for the record.")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Text | None = None
    category: Annotated[str, StringConstraints(pattern=code_pattern(1))] = Field(
        description="Code of the axis of the plan the initiative belongs to."
    )
    status: InitiativeStatus = InitiativeStatus.published
    author_name: Text | None = None
    actions: list[Code] = Field(default=[], description="Codes of the actions it relates to.")
    location: LocationFile
    source_excerpt: Text | None = None


class InitiativesFile(Strict):
    initiatives: list[InitiativeFile]
