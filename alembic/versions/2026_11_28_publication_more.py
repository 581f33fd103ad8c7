"""Publication of the follow-up and the initiatives: initiatives, indicators, indicator values,
budget lines, milestones.

record_change now also logs the deletion of a row's old key when an update changes the key.

Budget lines have no single column for their public key (action code, year, nature): a column
line_key "<action code>-<year>-<nature>" is set by a BEFORE trigger (action codes are permanent);
likewise milestone_key "<action code>-<position>" for milestones.

Also GIN indexes over the initiatives' and indicators' texts (the search expression of 0005, on
`name` for the indicators) for the search.

The same mechanism as the publication migration (0005): a row trigger
record_change('<dataset>', '<key column>') on each published table, touch_parent on the link
tables (whose parent's public record lists the links), and the rows already there recorded as
inserts so that a harvester reading the feed from its beginning gets them.

Initiatives: every row is logged, published or not; the feed gives the record as it is now, null
for one that is not published (a harvester deletes it), and the public row source never selects
the private contact column.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (dataset identifier, public key column)
PUBLISHED = {
    "initiative": ("initiatives", "id"),
    "indicator": ("indicators", "code"),
    "indicator_value": ("indicator_values", "id"),
    "budget_line": ("budget_lines", "line_key"),
    "milestone": ("milestones", "milestone_key"),
}
# link table -> (parent table, parent key, link column)
LINKS = {
    "initiative_action": ("initiative", "id", "initiative_id"),
    "indicator_ambition": ("indicator", "id", "indicator_id"),
    "indicator_objective": ("indicator", "id", "indicator_id"),
    "indicator_action": ("indicator", "id", "indicator_id"),
}

# table -> its title column, searched with its description
SEARCHED = {"initiative": "title", "indicator": "name"}


def search_vector(title: str, config: str = "french_unaccent") -> str:
    return (
        f"(setweight(to_tsvector('{config}'::regconfig, {title}), 'A'::\"char\") || "
        f"setweight(to_tsvector('{config}'::regconfig, COALESCE(description, ''::text)), "
        "'B'::\"char\"))"
    )


RECORD_CHANGE = """
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
            -- A row whose key changes: the old key is gone (a budget line moved to another
            -- year), so the feed says so before reporting the new key.
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
# As revision 0005 created it, for the downgrade.
RECORD_CHANGE_0005 = """
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


def upgrade() -> None:
    op.execute(RECORD_CHANGE)
    op.add_column("budget_line", sa.Column("line_key", sa.Text()))
    op.execute(
        """
        CREATE FUNCTION set_budget_line_key() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.line_key := (SELECT code FROM action WHERE id = NEW.action_id)
                || '-' || NEW.year || '-' || NEW.nature;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_budget_line_key BEFORE INSERT OR UPDATE ON budget_line "
        "FOR EACH ROW EXECUTE FUNCTION set_budget_line_key()"
    )
    op.execute(
        "UPDATE budget_line b SET line_key = a.code || '-' || b.year || '-' || b.nature "
        "FROM action a WHERE a.id = b.action_id"
    )
    op.alter_column("budget_line", "line_key", nullable=False)
    op.add_column("milestone", sa.Column("milestone_key", sa.Text()))
    op.execute(
        """
        CREATE FUNCTION set_milestone_key() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.milestone_key := (SELECT code FROM action WHERE id = NEW.action_id)
                || '-' || NEW.position;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_milestone_key BEFORE INSERT OR UPDATE ON milestone "
        "FOR EACH ROW EXECUTE FUNCTION set_milestone_key()"
    )
    op.execute(
        "UPDATE milestone m SET milestone_key = a.code || '-' || m.position "
        "FROM action a WHERE a.id = m.action_id"
    )
    op.alter_column("milestone", "milestone_key", nullable=False)
    for table, title in SEARCHED.items():
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin ({search_vector(title)})")
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

    # What is already there, as if it had just been inserted. (Names below are this module's
    # constants, not input.)
    for table, (dataset, key) in PUBLISHED.items():
        op.execute(
            "INSERT INTO change_log (transaction_id, operation, table_name, dataset, record_key) "  # noqa: S608
            f"SELECT pg_current_xact_id()::text::bigint, 'insert', '{table}', '{dataset}', "
            f"{key}::text FROM {table} ORDER BY {key}"
        )
        op.execute(
            "INSERT INTO dataset_version (dataset, version, transaction_id) "  # noqa: S608
            f"SELECT '{dataset}', 1, pg_current_xact_id()::text::bigint "
            f"WHERE EXISTS (SELECT 1 FROM {table})"
        )


def downgrade() -> None:
    op.execute(RECORD_CHANGE_0005)
    for table in SEARCHED:
        op.execute(f"DROP INDEX ix_{table}_search")
    for table in LINKS:
        op.execute(f"DROP TRIGGER trg_{table}_touch ON {table}")
    for table in PUBLISHED:
        op.execute(f"DROP TRIGGER trg_{table}_change ON {table}")
    op.execute(
        "DELETE FROM change_log WHERE dataset IN "
        "('initiatives', 'indicators', 'indicator_values', 'budget_lines', 'milestones')"
    )
    op.execute(
        "DELETE FROM dataset_version WHERE dataset IN "
        "('initiatives', 'indicators', 'indicator_values', 'budget_lines', 'milestones')"
    )
    op.execute("DROP TRIGGER trg_budget_line_key ON budget_line")
    op.execute("DROP FUNCTION set_budget_line_key()")
    op.drop_column("budget_line", "line_key")
    op.execute("DROP TRIGGER trg_milestone_key ON milestone")
    op.execute("DROP FUNCTION set_milestone_key()")
    op.drop_column("milestone", "milestone_key")
