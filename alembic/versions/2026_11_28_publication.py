"""Publication: the change log and dataset versions, and French full-text search.

- change_log: an append-only record of every insert, update and delete on a published table,
  written by row-level triggers (record_change). It feeds the public change feed and, later, the
  audit trail (the nullable actor column, read from the `territoire.actor` setting).
- dataset_version: one row per published dataset, bumped once by each transaction that changes
  the dataset. The bump takes the row's lock until commit, so versions follow commit order: a
  snapshot that sees version N sees exactly the changes of transactions 1..N. Exports key their
  size and checksum on it, and HTTP validators are derived from it.
- touch_parent: a change to a link table (action_commune) bumps its parent's updated_at, so the
  parent (whose public record lists the links) is logged as updated.
- french_unaccent: PostgreSQL's French configuration with accents removed before stemming, and
  GIN indexes over the plan's titles and descriptions.

Neither new table notifies the response cache: both are written only by the triggers of
published tables, which notify in the same transaction.

Existing rows are recorded as inserts, so a harvester starting from the beginning of the feed
gets everything.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (dataset identifier, public key column). A later migration that publishes a table adds
# the same trigger: record_change('<dataset>', '<key column>').
PUBLISHED = {
    "territory": ("territory", "siren"),
    "commune": ("communes", "insee"),
    "axis": ("axes", "code"),
    "ambition": ("ambitions", "code"),
    "objective": ("objectives", "code"),
    "action": ("actions", "code"),
}
# link table -> (parent table, parent key, link column)
LINKS = {"action_commune": ("action", "id", "action_id")}
PLAN_TABLES = ("axis", "ambition", "objective", "action")


def search_vector(config: str = "french_unaccent") -> str:
    return (
        f"(setweight(to_tsvector('{config}'::regconfig, title), 'A'::\"char\") || "
        f"setweight(to_tsvector('{config}'::regconfig, COALESCE(description, ''::text)), "
        "'B'::\"char\"))"
    )


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_change_log"),
        sa.CheckConstraint(
            "operation IN ('insert', 'update', 'delete')", name="ck_change_log_operation_known"
        ),
    )
    op.create_index("ix_change_log_position", "change_log", ["transaction_id", "id"])
    op.create_index(
        "ix_change_log_dataset_position", "change_log", ["dataset", "transaction_id", "id"]
    )
    op.create_table(
        "dataset_version",
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "modified_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("transaction_id", sa.BigInteger()),
        sa.PrimaryKeyConstraint("dataset", name="pk_dataset_version"),
    )

    op.execute(
        """
        CREATE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
            INSERT INTO change_log (transaction_id, operation, table_name, dataset, record_key,
                                    actor)
            VALUES (current_transaction, lower(TG_OP), TG_TABLE_NAME, target_dataset,
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
    )
    op.execute(
        """
        CREATE FUNCTION touch_parent() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            statement text := format(
                'UPDATE %I SET updated_at = now() WHERE %I = ($1).%I',
                TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]);
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                EXECUTE statement USING OLD;
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                EXECUTE statement USING NEW;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table, (dataset, key) in PUBLISHED.items():
        op.execute(
            f"CREATE TRIGGER trg_{table}_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_change('{dataset}', '{key}')"
        )
    for table, (parent, parent_key, column) in LINKS.items():
        op.execute(
            f"CREATE TRIGGER trg_{table}_touch AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION touch_parent('{parent}', '{parent_key}', '{column}')"
        )

    # What is already published, as if it had just been inserted. (Names below are this
    # module's constants, not input.)
    for table, (dataset, key) in PUBLISHED.items():
        order = "code_path" if table in PLAN_TABLES else key
        op.execute(
            "INSERT INTO change_log (transaction_id, operation, table_name, dataset, record_key) "  # noqa: S608
            f"SELECT pg_current_xact_id()::text::bigint, 'insert', '{table}', '{dataset}', "
            f"{key}::text FROM {table} ORDER BY {order}"
        )
        op.execute(
            "INSERT INTO dataset_version (dataset, version, transaction_id) "  # noqa: S608
            f"SELECT '{dataset}', 1, pg_current_xact_id()::text::bigint "
            f"WHERE EXISTS (SELECT 1 FROM {table})"
        )

    op.execute("CREATE TEXT SEARCH CONFIGURATION french_unaccent (COPY = pg_catalog.french)")
    op.execute(
        "ALTER TEXT SEARCH CONFIGURATION french_unaccent "
        "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem"
    )
    for table in PLAN_TABLES:
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin ({search_vector()})")


def downgrade() -> None:
    for table in PLAN_TABLES:
        op.execute(f"DROP INDEX ix_{table}_search")
    op.execute("DROP TEXT SEARCH CONFIGURATION french_unaccent")
    for table in LINKS:
        op.execute(f"DROP TRIGGER trg_{table}_touch ON {table}")
    for table in PUBLISHED:
        op.execute(f"DROP TRIGGER trg_{table}_change ON {table}")
    op.execute("DROP FUNCTION touch_parent()")
    op.execute("DROP FUNCTION record_change()")
    op.drop_table("dataset_version")
    op.drop_table("change_log")
