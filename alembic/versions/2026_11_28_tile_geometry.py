"""Initiatives keep their geometry in Web Mercator too, for vector tiles.

`geometry_mercator` is a stored generated column (ST_Transform(geometry, 3857), which PostGIS
declares immutable): PostgreSQL keeps it in step with `geometry` on every insert and update, so
no code writes it. A tile then selects with the GiST index on it (published rows only, like the
WGS84 one) and encodes the rows with ST_AsMVTGeom without one coordinate transformation per row.
Adding the column rewrites the table once (under an exclusive lock: about a minute for 1 000 000
rows).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE initiative ADD COLUMN geometry_mercator geometry(Geometry, 3857) "
        "GENERATED ALWAYS AS (ST_Transform(geometry, 3857)) STORED"
    )
    op.execute(
        "CREATE INDEX ix_initiative_geometry_mercator ON initiative "
        "USING gist (geometry_mercator) WHERE status = 'published'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_initiative_geometry_mercator")
    op.execute("ALTER TABLE initiative DROP COLUMN geometry_mercator")
