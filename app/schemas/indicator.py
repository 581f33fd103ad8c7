"""Indicators: what measures the plan, their series of values, and the progress towards targets."""

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.models.follow_up import Direction, Frequency, ValueKind
from app.schemas.common import ApiModel

INDICATOR_EXAMPLE = "popschool-eleves-promo1"


class IndicatorRef(ApiModel):
    code: str = Field(examples=[INDICATOR_EXAMPLE])
    name: str
    unit: str


class IndicatorSource(ApiModel):
    producer: str | None = Field(description="Who produces the figures.")
    method: str | None = Field(description="How they are obtained.")
    limits: str | None = Field(description="What they do not say, or say imperfectly.")
    url: str | None


class Measures(ApiModel):
    """Codes of the records of the plan the indicator measures."""

    ambitions: list[str]
    objectives: list[str]
    actions: list[str]


class IndicatorOut(ApiModel):
    code: str = Field(
        description="Permanent public code, never reused.", examples=[INDICATOR_EXAMPLE]
    )
    name: str
    description: str | None
    unit: str = Field(description="Unit of every value; '%' means values from 0 to 100.")
    direction: Direction | None = Field(
        description="Whether a higher or a lower value is better; null for a figure of context."
    )
    frequency: Frequency | None = Field(description="How often it is measured; null: not stated.")
    source: IndicatorSource
    source_excerpt: str | None = Field(description="The passage of the source document it cites.")
    measures: Measures
    value_count: int = Field(description="Values of every kind, territory and communes.")
    updated_at: datetime


class ValueOut(ApiModel):
    kind: ValueKind = Field(description="result (measured), target (aimed at) or estimate.")
    period_start: dt.date | None = Field(description="The date, or the first day of the period.")
    period_end: dt.date | None = Field(description="Last day of the period; null for a date.")
    period_label: str | None = Field(description="The period as the source names it.")
    value: float
    commune: str | None = Field(description="INSEE code; null for the whole territory.")
    comment: str | None
    source: str | None
    source_excerpt: str | None


class IndicatorDetail(IndicatorOut):
    latest_result: ValueOut | None = Field(
        description="The territory's latest result (communes apart)."
    )
    current_target: ValueOut | None = Field(
        description="The target the latest result is measured against (see /progress)."
    )
    communes: list[str] = Field(description="Communes with values of their own.")


class IndicatorProgress(ApiModel):
    indicator: str
    commune: str | None = Field(description="The series: a commune, or null for the territory.")
    direction: Direction | None
    baseline: ValueOut | None = Field(
        description="The earliest result, when there are two or more."
    )
    latest_result: ValueOut | None
    current_target: ValueOut | None
    value: float | None = Field(
        description="Percent of the way to the target (two decimals; above 100 beyond it)."
    )
    achieved: bool | None = Field(description="Whether the latest result meets the target.")
    method: Literal["baseline", "ratio", "none"]
    formula: str = Field(description="How `value` is computed, in words.")
    rule: str = Field(description="Which values are taken as baseline, latest result and target.")
    reason: str | None = Field(description="Why there is no value, when there is none.")
