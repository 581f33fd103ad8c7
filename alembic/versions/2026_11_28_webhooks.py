"""Webhooks: subscriptions of key holders, and the deliveries made from the change log.

webhook_subscription: the URL, the event types wanted (`<dataset>.<created|updated|deleted>` or
`*`), the secret the bodies are signed with (HMAC-SHA256; kept to sign, never shown again after
creation), the owner's key, an optional contact email told when the subscription is disabled,
and the position in the change log up to which its events have been queued (fan-out cursor).

webhook_delivery: one row per event and subscription, queued in change-log order; a worker
claims the oldest undelivered delivery of each (subscription, record) pair, so that events of
one record reach the receiver in order, and leases it: a worker killed mid-delivery leaves an
expired lease, and the delivery is sent again (at least once). Attempts and the last answer are
kept for the delivery log.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("pending", "delivered", "failed")


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("contact_email", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("cursor_transaction", sa.BigInteger(), nullable=False),
        sa.Column("cursor_sequence", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscription"),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_key.id"],
            name="fk_webhook_subscription_key_id_api_key",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("cardinality(event_types) > 0", name="ck_webhook_subscription_events"),
    )
    op.create_index("ix_webhook_subscription_key_id", "webhook_subscription", ["key_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True)),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_delivery"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name="fk_webhook_delivery_subscription_id_webhook_subscription",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "subscription_id", "event_id", name="uq_webhook_delivery_subscription_id"
        ),
        sa.CheckConstraint(
            "state IN (" + ", ".join(f"'{state}'" for state in STATES) + ")",
            name="ck_webhook_delivery_state_known",
        ),
    )
    # The head of each record's queue, and what is due.
    op.create_index(
        "ix_webhook_delivery_queue",
        "webhook_delivery",
        ["subscription_id", "resource", "id"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_webhook_delivery_log", "webhook_delivery", ["subscription_id", "id"])
    # No public response reads the deliveries: they do not notify the response cache (the
    # worker updates them all the time). Subscriptions change rarely and do.
    op.execute(
        "CREATE TRIGGER trg_webhook_subscription_notify AFTER INSERT OR UPDATE OR DELETE OR "
        "TRUNCATE ON webhook_subscription FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
    )
    op.execute(
        "CREATE TRIGGER trg_webhook_subscription_audit AFTER INSERT OR UPDATE OR DELETE "
        "ON webhook_subscription FOR EACH ROW EXECUTE FUNCTION audit_row('id')"
    )


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
