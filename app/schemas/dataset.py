"""The files a territory's dataset is made of (territory.yaml, plan.yaml, a communes GeoJSON)."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import CODE_PATTERN, INSEE_PATTERN

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
