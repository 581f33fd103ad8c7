"""Editing: the deletions made through the API, restorable.

A DELETE removes the rows for real in one transaction (the record and what it cascades to), so
every public response, export and the change feed see them gone; the audit log keeps each row's
before-image under that transaction. `deletion` names the transaction, the record deleted and
whether it has been restored (restoring re-inserts those before-images). It is bookkeeping of
the audit log, not data of its own: no audit trigger (a restore must not re-insert it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deletion",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("audit_after", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text()),
        sa.Column(
            "deleted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("restored_at", sa.DateTime(timezone=True)),
        sa.Column("restored_by", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_deletion"),
    )
    op.create_index("ix_deletion_transaction_id", "deletion", ["transaction_id"])
    op.execute(
        "CREATE TRIGGER trg_deletion_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON deletion FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
    )


def downgrade() -> None:
    op.drop_table("deletion")
