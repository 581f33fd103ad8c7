"""Progress and budget figures attached to every level of the plan, and to the territory."""

import datetime as dt
from typing import Literal

from pydantic import Field

from app.models.follow_up import BudgetNature
from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import ApiModel

ProgressMethod = Literal["set", "milestones", "weighted_mean", "none"]


class ProgressInput(ApiModel):
    code: str = Field(description="The child's code.")
    weight: float = Field(description="The child's weight in this mean.")
    value: float | None = Field(description="The child's published progress; null: no data.")


class MilestoneInput(ApiModel):
    position: int
    date: str
    title: str
    progress: float


class Progress(ApiModel):
    """How far the record is, 0 to 100, and everything needed to recompute the figure."""

    value: float | None = Field(description="0 to 100, two decimals; null when nothing is known.")
    method: ProgressMethod = Field(
        description="set: given for the action; milestones: from its latest reached milestone; "
        "weighted_mean: from the children; none: no data."
    )
    formula: str = Field(description="How `value` was computed, in words.")
    children_counted: int | None = Field(
        default=None, description="Children with a value, which the mean counts."
    )
    children_without_data: int | None = Field(
        default=None, description="Children without a value, left out of the mean."
    )
    weight_counted: float | None = Field(
        default=None, description="Sum of the weights of the children counted."
    )
    inputs: list[ProgressInput] | None = Field(
        default=None, description="Every child, with its weight and its value."
    )
    milestone: MilestoneInput | None = Field(
        default=None, description="The milestone the value comes from (method milestones)."
    )


class Amounts(ApiModel):
    investment: float = Field(description="Euros.")
    operating: float = Field(description="Euros.")
    total: float = Field(description="Euros: investment + operating.")


class BudgetTotals(ApiModel):
    """Sums over the budget lines of the actions below (all years); unknown amounts add nothing."""

    planned: Amounts
    actual: Amounts
    lines: int = Field(description="Budget lines (action, year, nature) added up.")


class MilestoneOut(ApiModel):
    position: int = Field(description="Order of the milestone in the action's timeline.")
    date: dt.date
    date_precision: DatePrecision | None = Field(
        description="How much of the date is known: 2016-11-01 with 'month' means November 2016."
    )
    title: str
    description: str | None
    status: ActionStatus | None = Field(description="The status the action takes at this step.")
    status_label_fr: str | None
    reached: bool = Field(description="Whether the step is behind (true) or ahead (false).")
    progress: float | None = Field(description="The action's progress once the step is reached.")
    source_excerpt: str | None


class Timeline(ApiModel):
    action: str = Field(description="The action's code.")
    milestones: list[MilestoneOut] = Field(description="In date order, then position.")


class BudgetLineOut(ApiModel):
    year: int
    nature: BudgetNature = Field(description="investment or operating.")
    planned: float | None = Field(description="Euros; null when not stated.")
    actual: float | None = Field(description="Euros spent; null when not stated.")
    comment: str | None
    source_excerpt: str | None


class ActionBudget(ApiModel):
    action: str = Field(description="The action's code.")
    lines: list[BudgetLineOut] = Field(description="By year, then nature.")
    totals: BudgetTotals


class LevelBudget(ApiModel):
    code: str
    title: str
    year: int | None = Field(description="Null: all years together.")
    totals: BudgetTotals


class BudgetReport(ApiModel):
    level: str
    year: int | None
    items: list[LevelBudget]
    territory: BudgetTotals = Field(description="The same lines, added up for the territory.")
