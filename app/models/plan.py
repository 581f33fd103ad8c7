"""The plan: axes → ambitions → operational objectives → actions.

Each level is its own table so the hierarchy is enforced by foreign keys (no orphan, no cycle).
Codes are permanent public identifiers: dot-separated positive integers, one segment per level.
"""

import enum
from datetime import date
from decimal import Decimal

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
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
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.models.base import Base, TimestampMixin


class ActionStatus(enum.StrEnum):
    """Statuses compatible with ADEME's Territoires en Transitions."""

    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    paused = "paused"
    abandoned = "abandoned"
    blocked = "blocked"
    late = "late"
    to_discuss = "to_discuss"


ACTION_STATUS_LABELS_FR: dict[ActionStatus, str] = {
    ActionStatus.planned: "À venir",
    ActionStatus.in_progress: "En cours",
    ActionStatus.done: "Réalisé",
    ActionStatus.paused: "En pause",
    ActionStatus.abandoned: "Abandonné",
    ActionStatus.blocked: "Bloqué",
    ActionStatus.late: "En retard",
    ActionStatus.to_discuss: "À discuter",
}


class DatePrecision(enum.StrEnum):
    day = "day"
    month = "month"
    year = "year"


WEIGHT_POSITIVE = "weight > 0"


# The text a search matches: title (weight A) and description (weight B), in French with accents
# removed (the french_unaccent configuration of the publication migration).
SEARCH_VECTOR = (
    "(setweight(to_tsvector('french_unaccent'::regconfig, title), 'A'::\"char\") || "
    "setweight(to_tsvector('french_unaccent'::regconfig, COALESCE(description, ''::text)), "
    "'B'::\"char\"))"
)


def search_index(table: str, title: str = "title") -> Index:
    """The GIN index of a table's search expression (`title`: the column holding its title)."""
    expression = SEARCH_VECTOR.replace("title", title)
    return Index(f"ix_{table}_search", text(expression), postgresql_using="gin")


def code_check(depth: int) -> str:
    return rf"code ~ '^[1-9][0-9]{{0,5}}(\.[1-9][0-9]{{0,5}}){{{depth - 1}}}$'"


class PlanNodeMixin(TimestampMixin):
    """Columns shared by every level of the plan."""

    depth: int

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    source_excerpt: Mapped[str | None] = mapped_column(Text)
    # Share of this node in its parent's progress roll-up (a weighted mean; 1 unless said).
    weight: Mapped[Decimal] = mapped_column(Numeric(10, 4), nullable=False, server_default="1")

    @declared_attr
    @classmethod
    def code_path(cls) -> Mapped[list[int]]:
        # Natural order of codes ("1.10" after "1.9"), used for sorting and keyset paging.
        return mapped_column(
            ARRAY(Integer),
            Computed("string_to_array(code, '.')::integer[]", persisted=True),
            nullable=False,
            index=True,
        )


class Axis(PlanNodeMixin, Base):
    __tablename__ = "axis"
    __table_args__ = (
        CheckConstraint(code_check(1), name="code_format"),
        CheckConstraint(WEIGHT_POSITIVE, name="weight_positive"),
        search_index("axis"),
    )
    depth = 1


class Ambition(PlanNodeMixin, Base):
    __tablename__ = "ambition"
    __table_args__ = (
        CheckConstraint(code_check(2), name="code_format"),
        CheckConstraint(WEIGHT_POSITIVE, name="weight_positive"),
        search_index("ambition"),
    )
    depth = 2

    axis_id: Mapped[int] = mapped_column(
        ForeignKey("axis.id", ondelete="RESTRICT"), nullable=False, index=True
    )


class Objective(PlanNodeMixin, Base):
    __tablename__ = "objective"
    __table_args__ = (
        CheckConstraint(code_check(3), name="code_format"),
        CheckConstraint(WEIGHT_POSITIVE, name="weight_positive"),
        search_index("objective"),
    )
    depth = 3

    ambition_id: Mapped[int] = mapped_column(
        ForeignKey("ambition.id", ondelete="RESTRICT"), nullable=False, index=True
    )


action_commune = Table(
    "action_commune",
    Base.metadata,
    Column("action_id", ForeignKey("action.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "commune_insee",
        ForeignKey("commune.insee", ondelete="RESTRICT"),
        primary_key=True,
        index=True,
    ),
)


class Action(PlanNodeMixin, Base):
    __tablename__ = "action"
    __table_args__ = (
        CheckConstraint(code_check(4), name="code_format"),
        CheckConstraint(WEIGHT_POSITIVE, name="weight_positive"),
        CheckConstraint(
            "progress IS NULL OR (progress >= 0 AND progress <= 100)", name="progress_range"
        ),
        CheckConstraint(
            "status IS NULL OR status IN ("
            + ", ".join(f"'{status.value}'" for status in ActionStatus)
            + ")",
            name="status_known",
        ),
        CheckConstraint(
            "start_date_precision IS NULL OR start_date_precision IN ('day', 'month', 'year')",
            name="start_date_precision_known",
        ),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="dates_ordered",
        ),
        CheckConstraint(
            "geometry IS NULL OR (ST_IsValid(geometry) AND NOT ST_IsEmpty(geometry))",
            name="geometry_valid",
        ),
        Index("ix_action_geometry", "geometry", postgresql_using="gist"),
        search_index("action"),
    )
    depth = 4

    objective_id: Mapped[int] = mapped_column(
        ForeignKey("objective.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str | None] = mapped_column(Text, index=True)
    status_excerpt: Mapped[str | None] = mapped_column(Text)
    lead: Mapped[str | None] = mapped_column(Text)
    partners: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    start_date: Mapped[date | None] = mapped_column(Date)
    start_date_precision: Mapped[str | None] = mapped_column(Text)
    end_date: Mapped[date | None] = mapped_column(Date)
    geometry: Mapped[WKBElement | None] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False)
    )
    # Set directly (0-100); when null, derived from the milestones (see services/progress.py).
    progress: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))


PLAN_LEVELS: tuple[type[PlanNodeMixin], ...] = (Axis, Ambition, Objective, Action)
