"""The territory: who publishes, under which licence, and how much of the plan is loaded."""

from datetime import datetime

from pydantic import Field

from app.schemas.common import ApiModel
from app.schemas.follow_up import BudgetTotals, Progress


class Licence(ApiModel):
    title: str = Field(examples=["Licence Ouverte / Open Licence version 2.0"])
    url: str = Field(examples=["https://www.etalab.gouv.fr/licence-ouverte-open-licence"])
    spdx: str | None = Field(examples=["etalab-2.0"])


class SourceDocument(ApiModel):
    title: str
    publisher: str | None


class LevelCount(ApiModel):
    declared: int | None = Field(
        description="Count the source document declares; null if it says none."
    )
    loaded: int = Field(description="Records actually published by this service.")


class PlanCounts(ApiModel):
    axes: LevelCount
    ambitions: LevelCount
    objectives: LevelCount
    actions: LevelCount
    excerpt: str | None = Field(description="Where the source document states the declared counts.")


class StatusCount(ApiModel):
    status: str | None = Field(
        description="Action status; null counts actions whose status is unknown."
    )
    label_fr: str
    count: int


class CommuneSummary(ApiModel):
    count: int
    population: int | None
    population_year: int | None
    bbox: list[float] | None = Field(
        description="Bounding box of the communes: [min lon, min lat, max lon, max lat] (WGS84)."
    )


class TerritoryOut(ApiModel):
    siren: str = Field(examples=["246200364"])
    name: str = Field(examples=["Communauté d'agglomération de Lens-Liévin"])
    short_name: str | None = Field(examples=["CALL"])
    kind: str | None
    website: str | None
    address: str | None
    phone: str | None
    licence: Licence
    attribution: str
    source_document: SourceDocument
    plan_counts: PlanCounts
    action_status_breakdown: list[StatusCount]
    communes: CommuneSummary
    progress: Progress = Field(description="The plan's progress: the weighted mean of its axes.")
    budget: BudgetTotals = Field(description="Every budget line of the plan, all years.")
    synthetic: bool = Field(
        description="True for made-up data (tests, benchmarks), never a real territory's plan."
    )
    updated_at: datetime = Field(description="Last change to the territory's own record.")
