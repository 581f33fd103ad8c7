"""Participation foundation: API keys and the audit log.

api_key: a key is shown once at creation; only the SHA-256 of its secret is stored (the secret
is 256 random bits, so a plain digest is enough: nothing to brute-force). Scopes are a subset of
editor, moderator, admin. A revoked key stays, dated, so that the audit log can name it.

audit_log: one row per inserted, updated or deleted row of every table the service writes, with
who (the transaction-local setting `territoire.actor`), when, the transaction, and the row before
and after as JSON (columns named `secret` or `secret_digest` left out). Written only by the
audit_row trigger; a second trigger refuses any UPDATE, DELETE or TRUNCATE of it, so the
trail is append-only for every client of the database, the service's own included. The
synthetic initiatives of load tests are not audited (their generator sets `territoire.audit`
to off in its own transaction).

Moderation of initiatives: the address a proposer may give, the digest of the private status
link returned at submission, and the outcome the proposer can read through it (a reason code,
a message, when).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the columns of its primary key, joined with "/" into the audit record key
AUDITED = {
    "territory": ("siren",),
    "commune": ("insee",),
    "axis": ("code",),
    "ambition": ("code",),
    "objective": ("code",),
    "action": ("code",),
    "action_commune": ("action_id", "commune_insee"),
    "indicator": ("code",),
    "indicator_value": ("id",),
    "indicator_ambition": ("indicator_id", "ambition_id"),
    "indicator_objective": ("indicator_id", "objective_id"),
    "indicator_action": ("indicator_id", "action_id"),
    "budget_line": ("line_key",),
    "milestone": ("milestone_key",),
    "initiative": ("id",),
    "initiative_action": ("initiative_id", "action_code"),
    "api_key": ("id",),
}
SCOPES = ("editor", "moderator", "admin")
REASONS = ("spam", "duplicate", "out_of_scope", "incomplete", "inappropriate", "other")


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("secret_digest", postgresql.BYTEA(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_key"),
        sa.UniqueConstraint("secret_digest", name="uq_api_key_secret_digest"),
        sa.CheckConstraint(
            "scopes <@ ARRAY[" + ", ".join(f"'{s}'" for s in SCOPES) + "]::text[] "
            "AND cardinality(scopes) > 0",
            name="ck_api_key_scopes_known",
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name="ck_api_key_name_length"),
    )
    op.execute(
        "CREATE TRIGGER trg_api_key_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON api_key FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("actor", sa.Text()),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.CheckConstraint(
            "operation IN ('insert', 'update', 'delete')", name="ck_audit_log_operation_known"
        ),
    )
    op.create_index("ix_audit_log_record", "audit_log", ["table_name", "record_key", "id"])
    op.create_index("ix_audit_log_transaction_id", "audit_log", ["transaction_id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])
    op.execute(
        """
        CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            old_row jsonb;
            new_row jsonb;
            keyed jsonb;
            record_key text;
        BEGIN
            -- Only the synthetic load-test generator turns it off, for its own transaction.
            IF current_setting('territoire.audit', true) = 'off' THEN
                RETURN NULL;
            END IF;
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                old_row := to_jsonb(OLD) - 'secret_digest' - 'secret';
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                new_row := to_jsonb(NEW) - 'secret_digest' - 'secret';
            END IF;
            IF TG_OP = 'UPDATE' AND old_row = new_row THEN
                RETURN NULL;
            END IF;
            keyed := COALESCE(new_row, old_row);
            SELECT string_agg(keyed ->> column_name, '/' ORDER BY position)
              INTO record_key
              FROM unnest(TG_ARGV) WITH ORDINALITY AS k(column_name, position);
            INSERT INTO audit_log (transaction_id, actor, operation, table_name, record_key,
                                   before, after)
            VALUES (pg_current_xact_id()::text::bigint,
                    NULLIF(current_setting('territoire.actor', true), ''),
                    lower(TG_OP), TG_TABLE_NAME, record_key, old_row, new_row);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()"
    )
    op.execute(
        "CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
    )
    op.add_column("initiative", sa.Column("address", sa.Text()))
    op.add_column("initiative", sa.Column("status_token_digest", postgresql.BYTEA()))
    op.add_column("initiative", sa.Column("moderation_reason", sa.Text()))
    op.add_column("initiative", sa.Column("moderation_message", sa.Text()))
    op.add_column("initiative", sa.Column("moderated_at", sa.DateTime(timezone=True)))
    op.create_unique_constraint(
        "uq_initiative_status_token_digest", "initiative", ["status_token_digest"]
    )
    op.create_check_constraint(
        "ck_initiative_reason_known",
        "initiative",
        "moderation_reason IS NULL OR moderation_reason IN ("
        + ", ".join(f"'{reason}'" for reason in REASONS)
        + ")",
    )
    for table, keys in AUDITED.items():
        arguments = ", ".join(f"'{key}'" for key in keys)
        op.execute(
            f"CREATE TRIGGER trg_{table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_row({arguments})"
        )


def downgrade() -> None:
    for table in reversed(AUDITED):
        op.execute(f"DROP TRIGGER trg_{table}_audit ON {table}")
    op.drop_constraint("ck_initiative_ck_initiative_reason_known", "initiative")
    op.drop_constraint("uq_initiative_status_token_digest", "initiative")
    for column in (
        "moderated_at",
        "moderation_message",
        "moderation_reason",
        "status_token_digest",
        "address",
    ):
        op.drop_column("initiative", column)
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION refuse_audit_change()")
    op.execute("DROP FUNCTION audit_row()")
    op.drop_table("api_key")
