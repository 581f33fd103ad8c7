"""Notify listeners when published data changes (statement-level triggers, sent on commit).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table a public response reads. A new table gets the same trigger in its own migration.
TABLES = ("territory", "commune", "axis", "ambition", "objective", "action", "action_commune")


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('territoire_data', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER trg_{table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER trg_{table}_notify ON {table}")
    op.execute("DROP FUNCTION notify_data_change()")
