"""The ambassadors' club: members, follows, comments on actions, reports, ratings.

member: personal data (email, display name) kept only while the member exists; deletion erases
them (the row stays, status `deleted`, so that contributions read "ancien membre"). Tokens are
stored as SHA-256 digests: the confirmation link's (double opt-in, expiring) and the personal
token a member acts with; the unsubscribe token, which only stops the emails and goes in every
one of them, is kept as is. digest_cursor_* is the change-log position up to
which the member's digests have gone.

Comments are threaded one level (a reply's parent has no parent), moderated like initiatives;
reports and ratings are one per member and comment / action.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILES = ("resident", "entrepreneur", "association", "public_actor")
MEMBER_STATES = ("pending", "active", "deleted")
FREQUENCIES = ("immediate", "daily", "weekly", "never")
TARGETS = ("action", "objective", "axis", "commune", "initiative")
COMMENT_STATES = ("submitted", "published", "rejected")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("display_name", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("profile_type", sa.Text(), nullable=False),
        sa.Column("commune_insee", sa.Text()),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("confirm_digest", postgresql.BYTEA()),
        sa.Column("confirm_expires_at", sa.DateTime(timezone=True)),
        sa.Column("token_digest", postgresql.BYTEA()),
        sa.Column("unsubscribe_token", sa.Text()),
        sa.Column("digest_frequency", sa.Text(), server_default="daily", nullable=False),
        sa.Column("digest_cursor_transaction", sa.BigInteger(), nullable=False),
        sa.Column("digest_cursor_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_digest_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_member"),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["commune.insee"],
            name="fk_member_commune_insee_commune",
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint("confirm_digest", name="uq_member_confirm_digest"),
        sa.UniqueConstraint("token_digest", name="uq_member_token_digest"),
        sa.UniqueConstraint("unsubscribe_token", name="uq_member_unsubscribe_token"),
        sa.CheckConstraint(_in("profile_type", PROFILES), name="ck_member_profile_known"),
        sa.CheckConstraint(_in("status", MEMBER_STATES), name="ck_member_status_known"),
        sa.CheckConstraint(_in("digest_frequency", FREQUENCIES), name="ck_member_frequency_known"),
        sa.CheckConstraint(
            "status = 'deleted' OR (email IS NOT NULL AND display_name IS NOT NULL)",
            name="ck_member_identified",
        ),
    )
    # One live membership per address (case-insensitive); erased members free theirs.
    op.create_index(
        "uq_member_email",
        "member",
        [sa.text("lower(email)")],
        unique=True,
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_table(
        "member_follow",
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_key", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("member_id", "target_type", "target_key", name="pk_member_follow"),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name="fk_member_follow_member_id_member",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(_in("target_type", TARGETS), name="ck_member_follow_target_known"),
    )
    op.create_table(
        "action_comment",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("action_code", sa.Text(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger()),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column("report_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("moderated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_action_comment"),
        sa.ForeignKeyConstraint(
            ["action_code"],
            ["action.code"],
            name="fk_action_comment_action_code_action",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name="fk_action_comment_member_id_member",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["action_comment.id"],
            name="fk_action_comment_parent_id_action_comment",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(_in("status", COMMENT_STATES), name="ck_action_comment_status_known"),
        sa.CheckConstraint("length(body) BETWEEN 1 AND 4000", name="ck_action_comment_body_length"),
    )
    op.create_index("ix_action_comment_action", "action_comment", ["action_code", "status", "id"])
    op.create_index("ix_action_comment_member", "action_comment", ["member_id", "created_at"])
    op.create_table(
        "comment_report",
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("comment_id", "member_id", name="pk_comment_report"),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["action_comment.id"],
            name="fk_comment_report_comment_id_action_comment",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name="fk_comment_report_member_id_member",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "action_rating",
        sa.Column("action_code", sa.Text(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("relevance", sa.SmallInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("action_code", "member_id", name="pk_action_rating"),
        sa.ForeignKeyConstraint(
            ["action_code"],
            ["action.code"],
            name="fk_action_rating_action_code_action",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name="fk_action_rating_member_id_member",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("relevance BETWEEN 1 AND 5", name="ck_action_rating_relevance_range"),
    )
    for table in ("member", "member_follow", "action_comment", "comment_report", "action_rating"):
        op.execute(
            f"CREATE TRIGGER trg_{table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
        )
    # Not the member table: the audit log is append-only, and a member's deletion must erase
    # their email and name everywhere.
    for table, keys in {
        "action_comment": ("id",),
        "action_rating": ("action_code", "member_id"),
        "comment_report": ("comment_id", "member_id"),
    }.items():
        arguments = ", ".join(f"'{key}'" for key in keys)
        op.execute(
            f"CREATE TRIGGER trg_{table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_row({arguments})"
        )


def downgrade() -> None:
    for table in ("action_rating", "comment_report", "action_comment", "member_follow", "member"):
        op.drop_table(table)
