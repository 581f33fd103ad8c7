"""The follow-up of the plan: indicators and their values, budget lines and milestones."""

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin
from app.models.plan import ActionStatus, search_index

INDICATOR_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"


class Direction(enum.StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


class Frequency(enum.StrEnum):
    once = "once"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    irregular = "irregular"


class ValueKind(enum.StrEnum):
    result = "result"
    target = "target"
    estimate = "estimate"


class BudgetNature(enum.StrEnum):
    investment = "investment"
    operating = "operating"


def _known(column: str, values: type[enum.StrEnum]) -> str:
    listed = ", ".join(f"'{value.value}'" for value in values)
    return f"{column} IS NULL OR {column} IN ({listed})"


STATUS_KNOWN = _known("status", ActionStatus)


class Indicator(TimestampMixin, Base):
    __tablename__ = "indicator"
    __table_args__ = (
        CheckConstraint(f"code ~ '{INDICATOR_CODE_PATTERN}'", name="code_format"),
        CheckConstraint(_known("direction", Direction), name="direction_known"),
        CheckConstraint(_known("frequency", Frequency), name="frequency_known"),
        search_index("indicator", title="name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    # Null: a figure of context, for which neither direction is "better".
    direction: Mapped[str | None] = mapped_column(Text)
    frequency: Mapped[str | None] = mapped_column(Text)
    source_producer: Mapped[str | None] = mapped_column(Text)
    source_method: Mapped[str | None] = mapped_column(Text)
    source_limits: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    source_excerpt: Mapped[str | None] = mapped_column(Text)


def _link(level: str) -> Table:
    return Table(
        f"indicator_{level}",
        Base.metadata,
        Column("indicator_id", ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True),
        Column(
            f"{level}_id",
            ForeignKey(f"{level}.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    )


# What each indicator measures: ambitions, operational objectives, actions.
indicator_ambition = _link("ambition")
indicator_objective = _link("objective")
indicator_action = _link("action")
INDICATOR_LINKS = {
    "ambition": indicator_ambition,
    "objective": indicator_objective,
    "action": indicator_action,
}


# What makes a value one point of a series: one value per point (the unique constraint below, and
# the editors' check before a write).
VALUE_POINT = (
    "indicator_id",
    "kind",
    "commune_insee",
    "period_start",
    "period_end",
    "period_label",
)


class IndicatorValue(TimestampMixin, Base):
    """One point of a series: a date (period_end null), a period, or a labelled undated period."""

    __tablename__ = "indicator_value"
    __table_args__ = (
        CheckConstraint(_known("kind", ValueKind), name="kind_known"),
        CheckConstraint(
            "period_start IS NOT NULL OR period_label IS NOT NULL", name="period_given"
        ),
        CheckConstraint("period_end IS NULL OR period_start IS NOT NULL", name="period_end_alone"),
        CheckConstraint("period_end IS NULL OR period_end >= period_start", name="period_ordered"),
        # NaN sorts above Infinity in PostgreSQL: this keeps both out.
        CheckConstraint("value > '-Infinity' AND value < 'Infinity'", name="value_finite"),
        # One point per series and period; NULLs compare equal (PostgreSQL 15+).
        UniqueConstraint(
            *VALUE_POINT,
            name="uq_indicator_value_point",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_indicator_value_series", "indicator_id", "sort_date", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicator.id", ondelete="RESTRICT"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    period_label: Mapped[str | None] = mapped_column(Text)
    # Chronological order of a series; undated points first.
    sort_date: Mapped[date] = mapped_column(
        Date,
        Computed("coalesce(period_end, period_start, '-infinity'::date)", persisted=True),
        nullable=False,
    )
    value: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    commune_insee: Mapped[str | None] = mapped_column(
        ForeignKey("commune.insee", ondelete="RESTRICT"), index=True
    )
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    source_excerpt: Mapped[str | None] = mapped_column(Text)


class BudgetLine(TimestampMixin, Base):
    __tablename__ = "budget_line"
    __table_args__ = (
        CheckConstraint("year BETWEEN 1900 AND 2200", name="year_range"),
        CheckConstraint(_known("nature", BudgetNature), name="nature_known"),
        CheckConstraint("planned IS NULL OR planned >= 0", name="planned_positive"),
        CheckConstraint("actual IS NULL OR actual >= 0", name="actual_positive"),
        UniqueConstraint("action_id", "year", "nature", name="uq_budget_line_action_year_nature"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("action.id", ondelete="RESTRICT"), nullable=False
    )
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    nature: Mapped[str] = mapped_column(Text, nullable=False)
    # The public key "<action code>-<year>-<nature>", set by a trigger (publication migration
    # 0006): the change log records a change under a column of the row itself.
    line_key: Mapped[str] = mapped_column(Text, nullable=False)
    planned: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    actual: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    comment: Mapped[str | None] = mapped_column(Text)
    source_excerpt: Mapped[str | None] = mapped_column(Text)


class Milestone(TimestampMixin, Base):
    """A step of an action's public timeline; `status` is the status the action takes then."""

    __tablename__ = "milestone"
    __table_args__ = (
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint(
            "date_precision IS NULL OR date_precision IN ('day', 'month', 'year')",
            name="date_precision_known",
        ),
        CheckConstraint(STATUS_KNOWN, name="status_known"),
        CheckConstraint(
            "progress IS NULL OR (progress >= 0 AND progress <= 100)", name="progress_range"
        ),
        UniqueConstraint("action_id", "position", name="uq_milestone_action_position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("action.id", ondelete="RESTRICT"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    # The public key "<action code>-<position>", set by a trigger (publication migration 0006).
    milestone_key: Mapped[str] = mapped_column(Text, nullable=False)
    milestone_date: Mapped[date] = mapped_column(Date, nullable=False)
    date_precision: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    reached: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    # The action's progress once this milestone is reached, when the plan says it.
    progress: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    source_excerpt: Mapped[str | None] = mapped_column(Text)
