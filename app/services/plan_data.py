"""The plan and its follow-up as flat records, whatever file they come from (the dataset's YAML,
a spreadsheet): the checks that need the whole set, and the idempotent write in one transaction.

Readers parse their format into these records (types, ranges and enumerations are their job);
`check` then finds every problem of consistency at once; `write` upserts by code (or by the
natural key of a value, a budget line, a milestone) and never deletes a record. Links (the
communes of an action, what an indicator measures) are made exactly those of the file, for the
actions and indicators the file holds.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from app.models.plan import Action, Ambition, Axis, Objective

LEVELS = ("axis", "ambition", "objective", "action")
MODELS = {"axis": Axis, "ambition": Ambition, "objective": Objective, "action": Action}
PARENT_COLUMN = {"ambition": "axis_id", "objective": "ambition_id", "action": "objective_id"}
DEPTH = {level: depth for depth, level in enumerate(LEVELS, start=1)}
LEVEL_OF_DEPTH = {depth: level for level, depth in DEPTH.items()}
PERCENT_UNIT = "%"


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


@dataclass(slots=True)
class NodeRecord:
    level: str
    code: str
    parent: str | None
    title: str
    file: str
    where: str
    description: str | None = None
    source_excerpt: str | None = None
    weight: Decimal = Decimal(1)
    # Actions only.
    status: str | None = None
    status_excerpt: str | None = None
    lead: str | None = None
    partners: list[str] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    start_date: date | None = None
    start_date_precision: str | None = None
    end_date: date | None = None
    progress: Decimal | None = None


@dataclass(slots=True)
class IndicatorRecord:
    code: str
    name: str
    unit: str
    file: str
    where: str
    description: str | None = None
    direction: str | None = None
    frequency: str | None = None
    source_producer: str | None = None
    source_method: str | None = None
    source_limits: str | None = None
    source_url: str | None = None
    source_excerpt: str | None = None
    # Codes of the ambitions, objectives and actions it measures.
    measures: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ValueRecord:
    indicator: str
    kind: str
    period_start: date | None
    period_end: date | None
    period_label: str | None
    value: Decimal
    commune: str | None
    comment: str | None
    source: str | None
    source_excerpt: str | None
    file: str
    where: str

    def key(self) -> tuple[Any, ...]:
        return (
            self.indicator,
            self.kind,
            self.commune,
            self.period_start,
            self.period_end,
            self.period_label,
        )


@dataclass(slots=True)
class BudgetRecord:
    action: str
    year: int
    nature: str
    planned: Decimal | None
    actual: Decimal | None
    file: str
    where: str
    comment: str | None = None
    source_excerpt: str | None = None


@dataclass(slots=True)
class MilestoneRecord:
    action: str
    position: int
    milestone_date: date
    title: str
    file: str
    where: str
    date_precision: str | None = None
    description: str | None = None
    status: str | None = None
    reached: bool = False
    progress: Decimal | None = None
    source_excerpt: str | None = None


@dataclass
class PlanData:
    nodes: list[NodeRecord] = field(default_factory=list)
    indicators: list[IndicatorRecord] = field(default_factory=list)
    values: list[ValueRecord] = field(default_factory=list)
    budget_lines: list[BudgetRecord] = field(default_factory=list)
    milestones: list[MilestoneRecord] = field(default_factory=list)


@dataclass
class Known:
    """What the records may refer to besides themselves (what the database already holds)."""

    codes: dict[str, set[str]] = field(default_factory=lambda: {level: set() for level in LEVELS})
    indicator_units: dict[str, str] = field(default_factory=dict)
    communes: set[str] = field(default_factory=set)
