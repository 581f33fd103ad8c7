"""The files a territory's dataset is made of (territory.yaml, plan.yaml, a communes GeoJSON)."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.follow_up import (
    INDICATOR_CODE_PATTERN,
    BudgetNature,
    Direction,
    Frequency,
    ValueKind,
)
from app.models.initiative import InitiativeStatus, LocationPrecision
from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import CODE_PATTERN, INSEE_PATTERN, code_pattern

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Insee = Annotated[str, StringConstraints(pattern=INSEE_PATTERN)]
Siren = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]
IndicatorCode = Annotated[str, StringConstraints(pattern=INDICATOR_CODE_PATTERN)]
Weight = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=4, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False)]
Euros = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]


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
    synthetic: bool = Field(
        default=False, description="Made-up data for tests and benchmarks, never a real plan."
    )


class NodeFile(Strict):
    code: Code
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Text | None = None
    source_excerpt: Text | None = None
    weight: Weight = Decimal(1)


class MilestoneFile(Strict):
    position: int = Field(ge=1, le=10_000)
    date: date
    date_precision: DatePrecision | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Text | None = None
    status: ActionStatus | None = None
    reached: bool = False
    progress: Percent | None = None
    source_excerpt: Text | None = None


class BudgetLineFile(Strict):
    year: int = Field(ge=1900, le=2200)
    nature: BudgetNature
    planned: Euros | None = None
    actual: Euros | None = None
    comment: Text | None = None
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
    progress: Percent | None = None
    milestones: list[MilestoneFile] = []
    budget: list[BudgetLineFile] = []


class ObjectiveFile(NodeFile):
    actions: list[ActionFile] = []


class AmbitionFile(NodeFile):
    objectives: list[ObjectiveFile] = []


class AxisFile(NodeFile):
    ambitions: list[AmbitionFile] = []


class PlanFile(Strict):
    axes: list[AxisFile]


class IndicatorSourceFile(Strict):
    producer: Text | None = None
    method: Text | None = None
    limits: Text | None = None
    url: Text | None = None


class ValueFile(Strict):
    kind: ValueKind
    period_start: date | None = None
    period_end: date | None = None
    period_label: Text | None = None
    value: Decimal = Field(allow_inf_nan=False, gt=Decimal("-1e15"), lt=Decimal("1e15"))
    commune: Insee | None = None
    comment: Text | None = None
    source: Text | None = None
    source_excerpt: Text | None = None


class IndicatorFile(Strict):
    code: IndicatorCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Text | None = None
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    direction: Direction | None = None
    frequency: Frequency | None = None
    source: IndicatorSourceFile = IndicatorSourceFile()
    source_excerpt: Text | None = None
    measures: list[Code] = Field(
        default=[], description="Codes of the ambitions, objectives and actions it measures."
    )
    values: list[ValueFile] = []


class IndicatorsFile(Strict):
    indicators: list[IndicatorFile]
    values_csv: Text | None = Field(
        default=None,
        description="More values in a CSV file (relative to the dataset folder), with the "
        "columns of the spreadsheet's indicator_values.csv: for long series.",
    )


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
