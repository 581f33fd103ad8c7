"""Follow-up of the plan: weights and progress, indicators and values, budgets, milestones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLAN_TABLES = ("axis", "ambition", "objective", "action")
STATUSES = (
    "planned",
    "in_progress",
    "done",
    "paused",
    "abandoned",
    "blocked",
    "late",
    "to_discuss",
)
LINKED_LEVELS = ("ambition", "objective", "action")
# New tables with an updated_at column, and all new tables (each notifies its changes).
TIMESTAMPED = ("indicator", "indicator_value", "budget_line", "milestone")
NEW_TABLES = (*TIMESTAMPED, *(f"indicator_{level}" for level in LINKED_LEVELS))


def known(column: str, values: Sequence[str]) -> str:
    return f"{column} IS NULL OR {column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    for table in PLAN_TABLES:
        op.add_column(
            table, sa.Column("weight", sa.Numeric(10, 4), server_default="1", nullable=False)
        )
        op.create_check_constraint(f"ck_{table}_weight_positive", table, "weight > 0")
    op.add_column("action", sa.Column("progress", sa.Numeric(5, 2)))
    op.create_check_constraint(
        "ck_action_progress_range",
        "action",
        "progress IS NULL OR (progress >= 0 AND progress <= 100)",
    )
    op.add_column(
        "territory",
        sa.Column("synthetic", sa.Boolean(), server_default=sa.false(), nullable=False),
    )

    op.create_table(
        "indicator",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text()),
        sa.Column("frequency", sa.Text()),
        sa.Column("source_producer", sa.Text()),
        sa.Column("source_method", sa.Text()),
        sa.Column("source_limits", sa.Text()),
        sa.Column("source_url", sa.Text()),
        sa.Column("source_excerpt", sa.Text()),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_indicator"),
        sa.UniqueConstraint("code", name="uq_indicator_code"),
        sa.CheckConstraint(
            "code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'", name="ck_indicator_code_format"
        ),
        sa.CheckConstraint(
            known("direction", ("higher_is_better", "lower_is_better")),
            name="ck_indicator_direction_known",
        ),
        sa.CheckConstraint(
            known("frequency", ("once", "monthly", "quarterly", "yearly", "irregular")),
            name="ck_indicator_frequency_known",
        ),
    )
    for level in LINKED_LEVELS:
        table = f"indicator_{level}"
        op.create_table(
            table,
            sa.Column("indicator_id", sa.BigInteger(), nullable=False),
            sa.Column(f"{level}_id", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("indicator_id", f"{level}_id", name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["indicator_id"],
                ["indicator.id"],
                name=f"fk_{table}_indicator_id_indicator",
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                [f"{level}_id"],
                [f"{level}.id"],
                name=f"fk_{table}_{level}_id_{level}",
                ondelete="CASCADE",
            ),
        )
        op.create_index(f"ix_{table}_{level}_id", table, [f"{level}_id"])

    op.create_table(
        "indicator_value",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("indicator_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("period_label", sa.Text()),
        sa.Column(
            "sort_date",
            sa.Date(),
            sa.Computed("coalesce(period_end, period_start, '-infinity'::date)", persisted=True),
            nullable=False,
        ),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("commune_insee", sa.Text()),
        sa.Column("comment", sa.Text()),
        sa.Column("source", sa.Text()),
        sa.Column("source_excerpt", sa.Text()),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_indicator_value"),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name="fk_indicator_value_indicator_id_indicator",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["commune.insee"],
            name="fk_indicator_value_commune_insee_commune",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            known("kind", ("result", "target", "estimate")), name="ck_indicator_value_kind_known"
        ),
        sa.CheckConstraint(
            "period_start IS NOT NULL OR period_label IS NOT NULL",
            name="ck_indicator_value_period_given",
        ),
        sa.CheckConstraint(
            "period_end IS NULL OR period_start IS NOT NULL",
            name="ck_indicator_value_period_end_alone",
        ),
        sa.CheckConstraint(
            "period_end IS NULL OR period_end >= period_start",
            name="ck_indicator_value_period_ordered",
        ),
        sa.CheckConstraint(
            "value > '-Infinity' AND value < 'Infinity'", name="ck_indicator_value_value_finite"
        ),
        sa.UniqueConstraint(
            "indicator_id",
            "kind",
            "commune_insee",
            "period_start",
            "period_end",
            "period_label",
            name="uq_indicator_value_point",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_indicator_value_series", "indicator_value", ["indicator_id", "sort_date", "id"]
    )
    op.create_index("ix_indicator_value_commune_insee", "indicator_value", ["commune_insee"])

    op.create_table(
        "budget_line",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("action_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("nature", sa.Text(), nullable=False),
        sa.Column("planned", sa.Numeric(14, 2)),
        sa.Column("actual", sa.Numeric(14, 2)),
        sa.Column("comment", sa.Text()),
        sa.Column("source_excerpt", sa.Text()),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_budget_line"),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
            name="fk_budget_line_action_id_action",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("year BETWEEN 1900 AND 2200", name="ck_budget_line_year_range"),
        sa.CheckConstraint(
            known("nature", ("investment", "operating")), name="ck_budget_line_nature_known"
        ),
        sa.CheckConstraint(
            "planned IS NULL OR planned >= 0", name="ck_budget_line_planned_positive"
        ),
        sa.CheckConstraint("actual IS NULL OR actual >= 0", name="ck_budget_line_actual_positive"),
        sa.UniqueConstraint(
            "action_id", "year", "nature", name="uq_budget_line_action_year_nature"
        ),
    )

    op.create_table(
        "milestone",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("action_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("milestone_date", sa.Date(), nullable=False),
        sa.Column("date_precision", sa.Text()),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("status", sa.Text()),
        sa.Column("reached", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("progress", sa.Numeric(5, 2)),
        sa.Column("source_excerpt", sa.Text()),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_milestone"),
        sa.ForeignKeyConstraint(
            ["action_id"], ["action.id"], name="fk_milestone_action_id_action", ondelete="RESTRICT"
        ),
        sa.CheckConstraint("position >= 1", name="ck_milestone_position_positive"),
        sa.CheckConstraint(
            "date_precision IS NULL OR date_precision IN ('day', 'month', 'year')",
            name="ck_milestone_date_precision_known",
        ),
        sa.CheckConstraint(known("status", STATUSES), name="ck_milestone_status_known"),
        sa.CheckConstraint(
            "progress IS NULL OR (progress >= 0 AND progress <= 100)",
            name="ck_milestone_progress_range",
        ),
        sa.UniqueConstraint("action_id", "position", name="uq_milestone_action_position"),
    )

    for table in TIMESTAMPED:
        op.execute(
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )
    for table in NEW_TABLES:
        op.execute(
            f"CREATE TRIGGER trg_{table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
        )


def downgrade() -> None:
    for table in ("milestone", "budget_line", "indicator_value"):
        op.drop_table(table)
    for level in LINKED_LEVELS:
        op.drop_table(f"indicator_{level}")
    op.drop_table("indicator")
    op.drop_column("territory", "synthetic")
    op.drop_constraint("ck_action_progress_range", "action", type_="check")
    op.drop_column("action", "progress")
    for table in PLAN_TABLES:
        op.drop_constraint(f"ck_{table}_weight_positive", table, type_="check")
        op.drop_column(table, "weight")
