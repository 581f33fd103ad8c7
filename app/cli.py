"""Command-line tool for the service's operators.

territoire load FOLDER [--dry-run]        check a dataset folder, load it in one transaction
territoire export PATH                    the whole plan to PATH.xlsx, or to a folder of CSV files
territoire import PATH [--dry-run]        a workbook or CSV folder back, checked first, upserted
territoire synthetic FOLDER [--load]      a synthetic full-size plan, for tests and benchmarks
territoire synthesize --count N           replace the synthetic initiatives (load tests, benchmarks)
territoire keys create NAME --scope S...  a new API key, shown once (editor, moderator, admin)
territoire keys list [--all]              the keys (never their secret); --all with revoked ones
territoire keys revoke ID                 revoke a key at once
territoire webhooks [--once]              deliver webhook events (a worker; --once: one round)
territoire digests [--once]               email members their digests (a worker; --once: one pass)
territoire metrics-reset                  empty PROMETHEUS_MULTIPROC_DIR before the workers start
"""

import argparse
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path

from app.config import Settings, get_settings
from app.db import create_database
from app.errors import NotFoundError
from app.models.participation import Scope
from app.repositories import keys as key_repository
from app.repositories import synthetic as synthetic_initiatives
from app.repositories.dataset import Changes
from app.repositories.keys import set_actor
from app.services import keys, spreadsheet, spreadsheet_reading
from app.services.dataset import load_dataset, read_dataset
from app.services.dataset_files import DatasetError, LoadReport
from app.services.spreadsheet_reading import Parsed
from app.services.spreadsheet_sheets import SpreadsheetError

MAX_LISTED_PROBLEMS = 200


async def load_folder(folder: Path, dry_run: bool, settings: Settings | None = None) -> LoadReport:
    """Check the folder, then load it in one transaction (rolled back on any error)."""
    dataset = read_dataset(folder)
    database = create_database(settings or get_settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            await set_actor(session, "cli:load")
            report = await load_dataset(session, dataset)
            if dry_run:
                await session.rollback()
        return report
    finally:
        await database.dispose()


async def synthesize(
    count: int, seed: int, remove_only: bool, settings: Settings | None = None
) -> tuple[int, int, int]:
    """Replace the synthetic initiatives by `count` new ones, in one transaction."""
    database = create_database(settings or get_settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            removed = await synthetic_initiatives.remove(session)
            if remove_only:
                return removed, 0, 0
            inserted, linked = await synthetic_initiatives.generate(session, count, seed)
        return removed, inserted, linked
    finally:
        await database.dispose()


async def keys_command(
    action: str, arguments: argparse.Namespace, settings: Settings | None = None
) -> int:
    database = create_database(settings or get_settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            await set_actor(session, "cli:keys")
            if action == "create":
                try:
                    made = await keys.create_key(session, arguments.name, arguments.scope, "cli")
                except ValueError as error:
                    print(f"territoire keys create: {error}", file=sys.stderr)
                    return 2
                print(f"key {made.key.id} '{made.key.name}' ({', '.join(made.key.scopes)})")
                print("the key (shown only now; store it safely):", file=sys.stderr)
                print(made.secret)
                return 0
            if action == "revoke":
                try:
                    key = await keys.revoke_key(session, arguments.id)
                except NotFoundError as error:
                    print(f"territoire keys revoke: {error.detail}", file=sys.stderr)
                    return 1
                print(f"key {key.id} '{key.name}' revoked at {key.revoked_at:%Y-%m-%dT%H:%M:%SZ}")
                return 0
            for key in await key_repository.list_keys(session, include_revoked=arguments.all):
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                print(f"{key.id:5} {key.prefix}…  {','.join(key.scopes):24} {state:18} {key.name}")
            return 0
    finally:
        await database.dispose()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT: a worker loop ends its round and stops cleanly."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def run_webhooks(once: bool, settings: Settings | None = None) -> int:
    """The webhook worker, until SIGTERM or SIGINT (or one round with `once`)."""
    from app.webhook_worker import WebhookWorker

    settings = settings or get_settings()
    database = create_database(settings)
    worker = WebhookWorker(database, settings)
    try:
        if once:
            done = await worker.run_once()
            print(f"webhooks: {done} events queued or sent")
            return 0
        stop = stop_on_signals()
        await worker.run(stop)
        return 0
    finally:
        await worker.close()
        await database.dispose()


async def run_digests(once: bool, settings: Settings | None = None) -> int:
    """Send the digests that are due, every DIGEST_POLL_SECONDS (or once)."""
    from app.services.digests import run_digests_loop, send_digests

    settings = settings or get_settings()
    database = create_database(settings)
    try:
        if once:
            print(f"digests: {await send_digests(database, settings)} sent")
            return 0
        stop = stop_on_signals()
        await run_digests_loop(database, settings, stop)
        return 0
    finally:
        await database.dispose()


async def _export_rows(settings: Settings | None) -> spreadsheet.ExportRows:
    database = create_database(settings or get_settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            # One snapshot of the database for every sheet.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            return await spreadsheet.export_rows(session)
    finally:
        await database.dispose()


def export_plan(path: Path, settings: Settings | None = None) -> dict[str, int]:
    """Write the plan to `path` (.xlsx: a workbook; anything else: a folder of CSV files)."""
    rows = asyncio.run(_export_rows(settings))
    if path.suffix.lower() == ".xlsx":
        spreadsheet.write_xlsx(path, rows)
    else:
        spreadsheet.write_csv_folder(path, rows)
    return {sheet: len(found) for sheet, found in rows.items()}


async def _import(parsed: Parsed, dry_run: bool, settings: Settings | None) -> dict[str, Changes]:
    database = create_database(settings or get_settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            await set_actor(session, "cli:import")
            changes = await spreadsheet.import_records(session, parsed)
            if dry_run:
                await session.rollback()
        return changes
    finally:
        await database.dispose()


def import_plan(
    path: Path, dry_run: bool, settings: Settings | None = None, progress: bool = False
) -> tuple[Parsed, dict[str, Changes]]:
    """Parse every row, check everything, then upsert in one transaction (or roll back)."""
    parsed = spreadsheet_reading.parse_file(path, progress=progress)
    if parsed.problems and not parsed.data.nodes and not parsed.rows:
        raise SpreadsheetError(parsed.problems)
    return parsed, asyncio.run(_import(parsed, dry_run, settings))


def _print_changes(changes: Mapping[str, Changes], dry_run: bool) -> None:
    verb = "would change" if dry_run else "changed"
    for table, found in changes.items():
        print(
            f"{table:15} {found.created:5} created {found.updated:5} updated "
            f"{found.deleted:5} deleted {found.unchanged:5} unchanged"
        )
        for label, named in (("created", found.created_keys), ("updated", found.updated_keys)):
            if named:
                shown = ", ".join(named[:10]) + (
                    f" and {len(named) - 10} more" if len(named) > 10 else ""
                )
                print(f"{'':15} {label}: {shown}")
    changed = any(c.created or c.updated or c.deleted for c in changes.values())
    print(f"{'dry run: ' if dry_run else ''}{verb if changed else 'nothing changed'}")


def _print_problems(source: Path, problems: list[object]) -> None:
    print(f"{source}: {len(problems)} problem(s); nothing was written", file=sys.stderr)
    for problem in problems[:MAX_LISTED_PROBLEMS]:
        print(f"  {problem}", file=sys.stderr)
    if len(problems) > MAX_LISTED_PROBLEMS:
        print(f"  ... and {len(problems) - MAX_LISTED_PROBLEMS} more", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="territoire", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="check a dataset folder and load it in one transaction")
    load.add_argument("folder", type=Path)
    load.add_argument(
        "--dry-run", action="store_true", help="report what would change, write nothing"
    )
    export = commands.add_parser(
        "export", help="write the plan to an .xlsx workbook, or to a folder of CSV files"
    )
    export.add_argument("path", type=Path, help="a file name ending in .xlsx, or a folder")
    imported = commands.add_parser(
        "import", help="read a workbook or CSV folder back: check every row, then upsert"
    )
    imported.add_argument("path", type=Path)
    imported.add_argument(
        "--dry-run", action="store_true", help="report what would change, write nothing"
    )
    synthetic = commands.add_parser(
        "synthetic", help="write a synthetic full-size plan (tests, benchmarks): a dataset folder"
    )
    synthetic.add_argument("folder", type=Path)
    synthetic.add_argument("--seed", type=int, default=1)
    synthetic.add_argument(
        "--load", action="store_true", help="then load it into the database DATABASE_URL names"
    )
    generator = commands.add_parser(
        "synthesize", help="replace the synthetic initiatives (load tests, benchmarks)"
    )
    generator.add_argument("--count", type=int, default=1_000_000)
    generator.add_argument("--seed", type=int, default=42)
    generator.add_argument("--remove", action="store_true", help="only remove them")
    key_commands = commands.add_parser("keys", help="create, list and revoke API keys")
    key_actions = key_commands.add_subparsers(dest="action", required=True)
    create = key_actions.add_parser("create", help="a new key, printed once on stdout")
    create.add_argument("name", help="who or what holds the key")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[scope.value for scope in Scope],
        help="repeat for several scopes",
    )
    listed = key_actions.add_parser("list", help="the keys, never their secret")
    listed.add_argument("--all", action="store_true", help="revoked keys too")
    revoke = key_actions.add_parser("revoke", help="revoke a key")
    revoke.add_argument("id", type=int)
    worker = commands.add_parser("webhooks", help="run the webhook delivery worker")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    digests = commands.add_parser("digests", help="email the members' digests")
    digests.add_argument("--once", action="store_true", help="one pass, then exit")
    commands.add_parser(
        "metrics-reset", help="empty PROMETHEUS_MULTIPROC_DIR (before starting the workers)"
    )
    arguments = parser.parse_args(argv)

    if arguments.command == "metrics-reset":
        from app.metrics_files import reset_multiprocess_dir

        folder = reset_multiprocess_dir()
        print(f"metrics: {folder} emptied" if folder else "metrics: PROMETHEUS_MULTIPROC_DIR unset")
        return 0

    if arguments.command == "digests":
        return asyncio.run(run_digests(arguments.once))
    if arguments.command == "webhooks":
        return asyncio.run(run_webhooks(arguments.once))

    if arguments.command == "keys":
        return asyncio.run(keys_command(arguments.action, arguments))

    if arguments.command == "load":
        return _load(arguments.folder, arguments.dry_run)
    if arguments.command == "export":
        try:
            counts = export_plan(arguments.path)
        except ValueError as error:
            print(f"{arguments.path}: {error}; nothing was written", file=sys.stderr)
            return 1
        for sheet, count in counts.items():
            print(f"{sheet:17} {count:7} rows")
        print(f"written to {arguments.path}")
        return 0
    if arguments.command == "import":
        try:
            _, changes = import_plan(
                arguments.path, arguments.dry_run, progress=sys.stderr.isatty()
            )
        except SpreadsheetError as error:
            _print_problems(arguments.path, list(error.problems))
            return 1
        _print_changes(changes, arguments.dry_run)
        return 0
    if arguments.command == "synthesize":
        if arguments.count < 0:
            parser.error("--count must not be negative")
        removed, inserted, linked = asyncio.run(
            synthesize(arguments.count, arguments.seed, arguments.remove)
        )
        print(f"synthetic initiatives: {removed} removed, {inserted} inserted, {linked} linked")
        return 0
    from app.services.synthetic import write_synthetic  # only this command needs it

    counts = write_synthetic(arguments.folder, seed=arguments.seed)
    print(", ".join(f"{count} {name}" for name, count in counts.items()))
    print(f"written to {arguments.folder} (synthetic: made-up data, for tests and benchmarks)")
    if arguments.load:
        return _load(arguments.folder, dry_run=False)
    return 0


def _load(folder: Path, dry_run: bool) -> int:
    try:
        report = asyncio.run(load_folder(folder, dry_run))
    except DatasetError as error:
        print(f"{folder}: {error}; nothing was written", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    _print_changes(report.changes, dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
