"""Command-line tool for the service's operators.

`territoire load FOLDER [--dry-run]` loads a dataset; `territoire synthesize --count N` adds N
synthetic initiatives (for load tests and benchmarks; `--remove` takes them out again).
"""

import argparse
import asyncio
import sys
from pathlib import Path

from app.config import Settings, get_settings
from app.db import create_database
from app.repositories import synthetic
from app.services.dataset import DatasetError, LoadReport, load_dataset, read_dataset


async def load_folder(folder: Path, dry_run: bool, settings: Settings | None = None) -> LoadReport:
    """Check the folder, then load it in one transaction (rolled back on any error)."""
    dataset = read_dataset(folder)
    database = create_database(settings or get_settings())
    try:
        async with database.sessionmaker() as session, session.begin():
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
            removed = await synthetic.remove(session)
            if remove_only:
                return removed, 0, 0
            inserted, linked = await synthetic.generate(session, count, seed)
        return removed, inserted, linked
    finally:
        await database.dispose()


def _print_report(report: LoadReport, dry_run: bool) -> None:
    verb = "would change" if dry_run else "changed"
    for table, changes in report.changes.items():
        print(
            f"{table:15} {changes.created:5} created {changes.updated:5} updated "
            f"{changes.deleted:5} deleted {changes.unchanged:5} unchanged"
        )
    print(f"{'dry run: ' if dry_run else ''}{verb if report.changed else 'nothing changed'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="territoire", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="check a dataset folder and load it in one transaction")
    load.add_argument("folder", type=Path)
    load.add_argument(
        "--dry-run", action="store_true", help="report what would change, write nothing"
    )
    generator = commands.add_parser(
        "synthesize", help="replace the synthetic initiatives (load tests, benchmarks)"
    )
    generator.add_argument("--count", type=int, default=1_000_000)
    generator.add_argument("--seed", type=int, default=42)
    generator.add_argument("--remove", action="store_true", help="only remove them")
    arguments = parser.parse_args(argv)

    if arguments.command == "load":
        try:
            report = asyncio.run(load_folder(arguments.folder, arguments.dry_run))
        except DatasetError as error:
            print(f"{arguments.folder}: {error}; nothing was written", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        _print_report(report, arguments.dry_run)
    elif arguments.command == "synthesize":
        if arguments.count < 0:
            parser.error("--count must not be negative")
        removed, inserted, linked = asyncio.run(
            synthesize(arguments.count, arguments.seed, arguments.remove)
        )
        print(f"synthetic initiatives: {removed} removed, {inserted} inserted, {linked} linked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
