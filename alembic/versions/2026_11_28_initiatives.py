"""Initiatives: geolocated proposals and projects, and the actions they relate to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("submitted", "published", "rejected", "archived")
PRECISIONS = ("exact", "address", "commune")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    op.create_table(
        "initiative",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("reference", sa.Text()),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column("commune_insee", sa.Text()),
        sa.Column("location_precision", sa.Text(), nullable=False),
        sa.Column("author_name", sa.Text()),
        sa.Column("contact", sa.Text()),
        sa.Column("source_excerpt", sa.Text()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("geometry", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_initiative"),
        sa.UniqueConstraint("reference", name="uq_initiative_reference"),
        sa.ForeignKeyConstraint(
            ["category"], ["axis.code"], name="fk_initiative_category_axis", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["commune.insee"],
            name="fk_initiative_commune_insee_commune",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_initiative_status_known"),
        sa.CheckConstraint(
            _in("location_precision", PRECISIONS), name="ck_initiative_precision_known"
        ),
        sa.CheckConstraint(
            "ST_IsValid(geometry) AND NOT ST_IsEmpty(geometry) "
            "AND GeometryType(geometry) IN ('POINT', 'LINESTRING', 'POLYGON')",
            name="ck_initiative_geometry_valid",
        ),
        sa.CheckConstraint(
            "status NOT IN ('published', 'archived') OR published_at IS NOT NULL",
            name="ck_initiative_published_dated",
        ),
    )
    op.create_index("ix_initiative_category", "initiative", ["category"])
    op.create_index("ix_initiative_commune_insee", "initiative", ["commune_insee"])
    op.create_index("ix_initiative_updated_at", "initiative", ["updated_at", "id"])
    op.create_index("ix_initiative_geometry", "initiative", ["geometry"], postgresql_using="gist")

    op.create_table(
        "initiative_action",
        sa.Column("initiative_id", sa.BigInteger(), nullable=False),
        sa.Column("action_code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("initiative_id", "action_code", name="pk_initiative_action"),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiative.id"],
            name="fk_initiative_action_initiative_id_initiative",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["action_code"],
            ["action.code"],
            name="fk_initiative_action_action_code_action",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_initiative_action_action_code", "initiative_action", ["action_code"])

    op.execute(
        "CREATE TRIGGER trg_initiative_updated_at BEFORE UPDATE ON initiative "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    for table in ("initiative", "initiative_action"):
        op.execute(
            f"CREATE TRIGGER trg_{table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
        )


def downgrade() -> None:
    op.drop_table("initiative_action")
    op.drop_table("initiative")
