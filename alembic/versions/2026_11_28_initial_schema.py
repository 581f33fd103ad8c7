"""Initial schema: territory, communes and the four levels of the plan.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
PLAN_TABLES = ("axis", "ambition", "objective", "action")


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def code_check(depth: int) -> str:
    return rf"code ~ '^[1-9][0-9]{{0,5}}(\.[1-9][0-9]{{0,5}}){{{depth - 1}}}$'"


def plan_columns(table: str, depth: int) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("source_excerpt", sa.Text()),
        sa.Column(
            "code_path",
            postgresql.ARRAY(sa.Integer()),
            sa.Computed("string_to_array(code, '.')::integer[]", persisted=True),
            nullable=False,
        ),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("code", name=f"uq_{table}_code"),
        sa.CheckConstraint(code_check(depth), name=f"ck_{table}_code_format"),
    ]


def parent_fk(table: str, parent: str) -> list[SchemaItem]:
    return [
        sa.Column(f"{parent}_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            [f"{parent}_id"],
            [f"{parent}.id"],
            name=f"fk_{table}_{parent}_id_{parent}",
            ondelete="RESTRICT",
        ),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(
        """
        CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW IS DISTINCT FROM OLD THEN
                NEW.updated_at := now();
            END IF;
            RETURN NEW;
        END $$
        """
    )

    op.create_table(
        "territory",
        sa.Column("siren", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("short_name", sa.Text()),
        sa.Column("kind", sa.Text()),
        sa.Column("website", sa.Text()),
        sa.Column("address", sa.Text()),
        sa.Column("phone", sa.Text()),
        sa.Column("licence_title", sa.Text(), nullable=False),
        sa.Column("licence_url", sa.Text(), nullable=False),
        sa.Column("licence_spdx", sa.Text()),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("source_title", sa.Text(), nullable=False),
        sa.Column("source_publisher", sa.Text()),
        sa.Column("declared_axes", sa.Integer()),
        sa.Column("declared_ambitions", sa.Integer()),
        sa.Column("declared_objectives", sa.Integer()),
        sa.Column("declared_actions", sa.Integer()),
        sa.Column("declared_counts_excerpt", sa.Text()),
        sa.Column("population_year", sa.Integer()),
        *timestamps(),
        sa.PrimaryKeyConstraint("siren", name="pk_territory"),
        sa.CheckConstraint(r"siren ~ '^[0-9]{9}$'", name="ck_territory_siren_format"),
    )
    # One deployment publishes one territory.
    op.execute("CREATE UNIQUE INDEX uq_territory_singleton ON territory ((true))")

    op.create_table(
        "commune",
        sa.Column("insee", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("siren", sa.Text()),
        sa.Column("population", sa.Integer()),
        sa.Column(
            "boundary", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
        ),
        *timestamps(),
        sa.PrimaryKeyConstraint("insee", name="pk_commune"),
        sa.CheckConstraint(r"insee ~ '^([0-9]{2}|2A|2B)[0-9]{3}$'", name="ck_commune_insee_format"),
        sa.CheckConstraint(
            r"siren IS NULL OR siren ~ '^[0-9]{9}$'", name="ck_commune_siren_format"
        ),
        sa.CheckConstraint(
            "population IS NULL OR population >= 0", name="ck_commune_population_positive"
        ),
        sa.CheckConstraint("ST_IsValid(boundary)", name="ck_commune_boundary_valid"),
    )
    op.create_index("ix_commune_boundary", "commune", ["boundary"], postgresql_using="gist")

    op.create_table("axis", *plan_columns("axis", 1))
    op.create_table("ambition", *plan_columns("ambition", 2), *parent_fk("ambition", "axis"))
    op.create_table("objective", *plan_columns("objective", 3), *parent_fk("objective", "ambition"))
    op.create_table(
        "action",
        *plan_columns("action", 4),
        *parent_fk("action", "objective"),
        sa.Column("status", sa.Text()),
        sa.Column("status_excerpt", sa.Text()),
        sa.Column("lead", sa.Text()),
        sa.Column("partners", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("start_date", sa.Date()),
        sa.Column("start_date_precision", sa.Text()),
        sa.Column("end_date", sa.Date()),
        sa.Column("geometry", Geometry("GEOMETRY", srid=4326, spatial_index=False)),
        sa.CheckConstraint(
            "status IS NULL OR status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")",
            name="ck_action_status_known",
        ),
        sa.CheckConstraint(
            "start_date_precision IS NULL OR start_date_precision IN ('day', 'month', 'year')",
            name="ck_action_start_date_precision_known",
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="ck_action_dates_ordered",
        ),
        sa.CheckConstraint(
            "geometry IS NULL OR (ST_IsValid(geometry) AND NOT ST_IsEmpty(geometry))",
            name="ck_action_geometry_valid",
        ),
    )
    for table in PLAN_TABLES:
        op.create_index(f"ix_{table}_code_path", table, ["code_path"])
    op.create_index("ix_ambition_axis_id", "ambition", ["axis_id"])
    op.create_index("ix_objective_ambition_id", "objective", ["ambition_id"])
    op.create_index("ix_action_objective_id", "action", ["objective_id"])
    op.create_index("ix_action_status", "action", ["status"])
    op.create_index("ix_action_geometry", "action", ["geometry"], postgresql_using="gist")

    op.create_table(
        "action_commune",
        sa.Column("action_id", sa.BigInteger(), nullable=False),
        sa.Column("commune_insee", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("action_id", "commune_insee", name="pk_action_commune"),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
            name="fk_action_commune_action_id_action",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["commune.insee"],
            name="fk_action_commune_commune_insee_commune",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_action_commune_commune_insee", "action_commune", ["commune_insee"])

    for table in ("territory", "commune", *PLAN_TABLES):
        op.execute(
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )


def downgrade() -> None:
    for table in (
        "action_commune",
        "action",
        "objective",
        "ambition",
        "axis",
        "commune",
        "territory",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION set_updated_at()")
