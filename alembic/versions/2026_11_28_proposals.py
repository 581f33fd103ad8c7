"""Proposals from the public: supports, idempotent writes, unpublished rows kept out of the feed.

record_change takes two optional arguments, a column and the value that makes a row public:
record_change('initiatives', 'id', 'status', 'published'). A row that is public neither before
nor after a write is not logged and bumps no dataset version (a submitted or rejected proposal
never appears in the feed, not even as a tombstone, and does not change the ETags editors
compare); becoming public is logged as an insert, ceasing to be public (rejected or archived
later: only published initiatives are in the public lists) as a delete.

support: one row per supporter of a published initiative, the supporter known only by an
HMAC-SHA256 of their identity under the server's secret (never the raw value), unique per
initiative; a trigger keeps initiative.support_count, the public count, in step.

Notifications (the response cache's invalidation): an initiative inserted as a proposal
changes nothing public, so its insert notifies only when the row is published. NOTIFY takes a
database-wide lock from commit until the transaction ends, WAL flush included: notifying
writes commit one at a time, which would bound proposals to one per disk flush.

Likewise the work an insert costs: the change trigger runs on an insert only for a published
row, and the search (GIN) and geometry (GiST) indexes of initiatives hold published rows only
(every public query asks for status = 'published'), so that a proposal is cheap to store.

idempotency_record: the answer to a write sent with an `Idempotency-Key`, keyed by the route and
the SHA-256 of the key, with the SHA-256 of the request body, kept 24 hours. The stored answer
is sealed with a key derived from the client's Idempotency-Key and the server's secret: the
database alone cannot read it (it may hold a status link). It holds nothing public, so it
notifies nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_CHANGE = """
        CREATE OR REPLACE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            target_dataset text := TG_ARGV[0];
            key_column text := TG_ARGV[1];
            current_transaction bigint := pg_current_xact_id()::text::bigint;
            operation text := lower(TG_OP);
            was_public boolean := TG_OP <> 'INSERT';
            is_public boolean := TG_OP <> 'DELETE';
            changed record;
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
                RETURN NULL;
            END IF;
            -- Rows public only when TG_ARGV[2] = TG_ARGV[3]: the others leave no trace.
            IF TG_NARGS >= 4 THEN
                IF was_public THEN
                    was_public := (to_jsonb(OLD) ->> TG_ARGV[2]) IS NOT DISTINCT FROM TG_ARGV[3];
                END IF;
                IF is_public THEN
                    is_public := (to_jsonb(NEW) ->> TG_ARGV[2]) IS NOT DISTINCT FROM TG_ARGV[3];
                END IF;
                IF NOT was_public AND NOT is_public THEN
                    RETURN NULL;
                END IF;
                IF NOT was_public THEN
                    operation := 'insert';
                ELSIF NOT is_public THEN
                    operation := 'delete';
                END IF;
            END IF;
            IF operation = 'delete' THEN changed := OLD; ELSE changed := NEW; END IF;
            -- A row whose key changes: the old key is gone (a budget line moved to another
            -- year), so the feed says so before reporting the new key.
            IF operation = 'update'
                AND (to_jsonb(OLD) ->> key_column) IS DISTINCT FROM (to_jsonb(NEW) ->> key_column)
            THEN
                INSERT INTO change_log (transaction_id, operation, table_name, dataset,
                                        record_key, actor)
                VALUES (current_transaction, 'delete', TG_TABLE_NAME, target_dataset,
                        to_jsonb(OLD) ->> key_column,
                        NULLIF(current_setting('territoire.actor', true), ''));
            END IF;
            INSERT INTO change_log (transaction_id, operation, table_name, dataset, record_key,
                                    actor)
            VALUES (current_transaction, operation, TG_TABLE_NAME, target_dataset,
                    to_jsonb(changed) ->> key_column,
                    NULLIF(current_setting('territoire.actor', true), ''));
            -- Once per transaction and dataset; the setting is transaction-local.
            IF current_setting('territoire.bumped_' || target_dataset, true)
                IS DISTINCT FROM current_transaction::text THEN
                INSERT INTO dataset_version AS v (dataset, version, modified_at, transaction_id)
                VALUES (target_dataset, 1, clock_timestamp(), current_transaction)
                ON CONFLICT (dataset) DO UPDATE
                    SET version = v.version + 1,
                        modified_at = greatest(v.modified_at, clock_timestamp()),
                        transaction_id = current_transaction;
                PERFORM set_config('territoire.bumped_' || target_dataset,
                                   current_transaction::text,
                                   true);
            END IF;
            RETURN NULL;
        END $$
"""
# As revision 0006 left it, for the downgrade.
RECORD_CHANGE_0006 = """
        CREATE OR REPLACE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            target_dataset text := TG_ARGV[0];
            key_column text := TG_ARGV[1];
            current_transaction bigint := pg_current_xact_id()::text::bigint;
            changed record;
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
                RETURN NULL;
            END IF;
            IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
            IF TG_OP = 'UPDATE'
                AND (to_jsonb(OLD) ->> key_column) IS DISTINCT FROM (to_jsonb(NEW) ->> key_column)
            THEN
                INSERT INTO change_log (transaction_id, operation, table_name, dataset,
                                        record_key, actor)
                VALUES (current_transaction, 'delete', TG_TABLE_NAME, target_dataset,
                        to_jsonb(OLD) ->> key_column,
                        NULLIF(current_setting('territoire.actor', true), ''));
            END IF;
            INSERT INTO change_log (transaction_id, operation, table_name, dataset, record_key,
                                    actor)
            VALUES (current_transaction, lower(TG_OP), TG_TABLE_NAME, target_dataset,
                    to_jsonb(changed) ->> key_column,
                    NULLIF(current_setting('territoire.actor', true), ''));
            IF current_setting('territoire.bumped_' || target_dataset, true)
                IS DISTINCT FROM current_transaction::text THEN
                INSERT INTO dataset_version AS v (dataset, version, modified_at, transaction_id)
                VALUES (target_dataset, 1, clock_timestamp(), current_transaction)
                ON CONFLICT (dataset) DO UPDATE
                    SET version = v.version + 1,
                        modified_at = greatest(v.modified_at, clock_timestamp()),
                        transaction_id = current_transaction;
                PERFORM set_config('territoire.bumped_' || target_dataset,
                                   current_transaction::text,
                                   true);
            END IF;
            RETURN NULL;
        END $$
"""


SEARCH_VECTOR = (
    "(setweight(to_tsvector('french_unaccent'::regconfig, title), 'A'::\"char\") || "
    "setweight(to_tsvector('french_unaccent'::regconfig, COALESCE(description, ''::text)), "
    "'B'::\"char\"))"
)
PUBLISHED = "status = 'published'"


def _initiative_indexes(where: str) -> None:
    op.execute("DROP INDEX ix_initiative_search")
    op.execute("DROP INDEX ix_initiative_geometry")
    op.execute(
        f"CREATE INDEX ix_initiative_search ON initiative USING gin ({SEARCH_VECTOR}){where}"
    )
    op.execute(f"CREATE INDEX ix_initiative_geometry ON initiative USING gist (geometry){where}")


def _initiative_trigger(arguments: str, published_only: bool) -> None:
    op.execute("DROP TRIGGER trg_initiative_change ON initiative")
    events = "UPDATE OR DELETE" if published_only else "INSERT OR UPDATE OR DELETE"
    op.execute(
        f"CREATE TRIGGER trg_initiative_change AFTER {events} ON initiative "
        f"FOR EACH ROW EXECUTE FUNCTION record_change({arguments})"
    )
    if published_only:
        op.execute(
            "CREATE TRIGGER trg_initiative_change_insert AFTER INSERT ON initiative FOR EACH ROW "
            f"WHEN (NEW.{PUBLISHED}) EXECUTE FUNCTION record_change({arguments})"
        )
    else:
        op.execute("DROP TRIGGER trg_initiative_change_insert ON initiative")


def _initiative_notify(events: str, insert_trigger: str | None) -> None:
    op.execute("DROP TRIGGER trg_initiative_notify ON initiative")
    op.execute(
        f"CREATE TRIGGER trg_initiative_notify AFTER {events} ON initiative "
        "FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
    )
    if insert_trigger:
        op.execute(insert_trigger)
    else:
        op.execute("DROP TRIGGER trg_initiative_notify_insert ON initiative")


def upgrade() -> None:
    op.execute(RECORD_CHANGE)
    _initiative_trigger("'initiatives', 'id', 'status', 'published'", published_only=True)
    _initiative_indexes(f" WHERE {PUBLISHED}")

    op.add_column(
        "initiative",
        sa.Column("support_count", sa.Integer(), server_default="0", nullable=False),
    )
    # Named through the metadata's convention: "ck_initiative_support_count_positive".
    op.create_check_constraint("support_count_positive", "initiative", "support_count >= 0")
    op.create_table(
        "support",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("initiative_id", sa.BigInteger(), nullable=False),
        sa.Column("supporter_digest", postgresql.BYTEA(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_support"),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiative.id"],
            name="fk_support_initiative_id_initiative",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("initiative_id", "supporter_digest", name="uq_support_initiative_id"),
    )
    op.execute(
        """
        CREATE FUNCTION count_support() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE initiative SET support_count = support_count + 1
                 WHERE id = NEW.initiative_id;
            ELSE
                UPDATE initiative SET support_count = greatest(support_count - 1, 0)
                 WHERE id = OLD.initiative_id;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_support_count AFTER INSERT OR DELETE ON support "
        "FOR EACH ROW EXECUTE FUNCTION count_support()"
    )
    op.execute(
        "CREATE TRIGGER trg_support_audit AFTER INSERT OR UPDATE OR DELETE ON support "
        "FOR EACH ROW EXECUTE FUNCTION audit_row('id')"
    )

    op.create_table(
        "idempotency_record",
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("key_digest", postgresql.BYTEA(), nullable=False),
        sa.Column("request_digest", postgresql.BYTEA(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("response", postgresql.BYTEA()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("route", "key_digest", name="pk_idempotency_record"),
    )
    op.create_index("ix_idempotency_record_expires_at", "idempotency_record", ["expires_at"])
    op.execute(
        "CREATE TRIGGER trg_support_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON support FOR EACH STATEMENT EXECUTE FUNCTION notify_data_change()"
    )
    _initiative_notify(
        "UPDATE OR DELETE OR TRUNCATE",
        "CREATE TRIGGER trg_initiative_notify_insert AFTER INSERT ON initiative FOR EACH ROW "
        f"WHEN (NEW.{PUBLISHED}) EXECUTE FUNCTION notify_data_change()",
    )


def downgrade() -> None:
    _initiative_notify("INSERT OR UPDATE OR DELETE OR TRUNCATE", None)
    op.drop_table("idempotency_record")
    op.drop_table("support")
    op.execute("DROP FUNCTION count_support()")
    op.drop_constraint("ck_initiative_support_count_positive", "initiative")
    op.drop_column("initiative", "support_count")
    _initiative_indexes("")
    _initiative_trigger("'initiatives', 'id'", published_only=False)
    op.execute(RECORD_CHANGE_0006)
