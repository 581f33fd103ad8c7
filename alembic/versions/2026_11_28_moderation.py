"""Moderation of initiatives: an index for the moderators' queue (one status, oldest first).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_initiative_moderation_queue", "initiative", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_initiative_moderation_queue", table_name="initiative")
