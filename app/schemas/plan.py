"""The plan as published: axes → ambitions → operational objectives → actions."""

from datetime import date, datetime

from pydantic import Field

from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import ApiModel, GeoJSONGeometry
from app.schemas.follow_up import BudgetLineOut, BudgetTotals, MilestoneOut, Progress
from app.schemas.indicator import IndicatorRef
from app.schemas.territory import PlanCounts


class NodeRef(ApiModel):
    code: str
    title: str


class PlanNode(ApiModel):
    code: str = Field(description="Permanent public code, never reused.", examples=["1.2.1.1"])
    title: str
    description: str | None
    source_excerpt: str | None = Field(
        description="The passage of the source document this record comes from."
    )
    updated_at: datetime
    weight: float = Field(description="Weight in the parent's progress (a weighted mean).")
    progress: Progress
    budget: BudgetTotals = Field(description="Budget lines of the actions below, all years.")


class AxisCounts(ApiModel):
    ambitions: int
    objectives: int
    actions: int


class AmbitionCounts(ApiModel):
    objectives: int
    actions: int


class ObjectiveCounts(ApiModel):
    actions: int


class AxisOut(PlanNode):
    counts: AxisCounts


class AmbitionOut(PlanNode):
    axis_code: str
    counts: AmbitionCounts


class ObjectiveOut(PlanNode):
    axis_code: str
    ambition_code: str
    counts: ObjectiveCounts


class ActionOut(PlanNode):
    axis_code: str
    ambition_code: str
    objective_code: str
    status: ActionStatus | None = Field(description="Null when the source does not state it.")
    status_label_fr: str | None = Field(examples=["En cours"])
    status_excerpt: str | None = Field(description="The passage that states the status.")
    lead: str | None
    partners: list[str]
    communes: list[str] = Field(description="INSEE codes of the communes the action concerns.")
    start_date: date | None
    start_date_precision: DatePrecision | None = Field(
        description="How much of start_date is known: 2016-11-01 with 'month' means November 2016."
    )
    end_date: date | None
    geometry: GeoJSONGeometry | None = Field(description="GeoJSON geometry (WGS84), when located.")


class CommuneRef(ApiModel):
    insee: str
    name: str


class AxisDetail(AxisOut):
    ambitions: list[AmbitionOut]


class AmbitionDetail(AmbitionOut):
    axis: NodeRef
    objectives: list[ObjectiveOut]


class ObjectiveDetail(ObjectiveOut):
    axis: NodeRef
    ambition: NodeRef
    actions: list[ActionOut]


class ActionDetail(ActionOut):
    axis: NodeRef
    ambition: NodeRef
    objective: NodeRef
    commune_details: list[CommuneRef]
    milestones: list[MilestoneOut] = Field(description="The action's timeline, in date order.")
    budget_lines: list[BudgetLineOut] = Field(description="By year, then nature.")
    indicators: list[IndicatorRef] = Field(description="Indicators that measure the action.")


class ObjectiveTree(ObjectiveOut):
    actions: list[ActionOut]


class AmbitionTree(AmbitionOut):
    objectives: list[ObjectiveTree]


class AxisTree(AxisOut):
    ambitions: list[AmbitionTree]


class PlanTree(ApiModel):
    territory: NodeRef = Field(description="The territory, by SIREN (code) and name.")
    counts: PlanCounts
    progress: Progress = Field(description="The territory's progress: the mean of its axes.")
    budget: BudgetTotals
    axes: list[AxisTree]
