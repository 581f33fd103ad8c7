"""Importing 100 000 indicator values, against PostgreSQL's own COPY of the same rows.

Requirement: `territoire import` of a CSV file of 100 000 indicator values reaches at least 30%
of the rows per second of PostgreSQL's COPY of the same rows into the same table, measured in
the same run; the import's peak resident memory stays under 300 MB.

The script recreates its database, migrates it, writes the synthetic full-size plan
(`territoire synthetic`) and loads it, which gives the 200 indicators and the 100 000 values;
it then dumps those values as COPY input (indicator ids resolved: COPY gets the easier job).
Each round empties indicator_value, runs a CHECKPOINT, and times
- COPY: `COPY indicator_value (...) FROM STDIN (FORMAT csv)` of that dump, sent by asyncpg
  from this process (the time of the statement, as the client sees it);
- import: the whole `territoire import FOLDER` command in a fresh process (interpreter start,
  reading and checking every row, the transaction), wall time, and its peak RSS (wait4).
The two alternate, round after round; the medians give the ratio. A last run imports the same
file again into the full table (nothing to change: every row is compared), for information.
A section is appended to bench/results/import_values.md; raw output goes to bench/out/.

Usage: .venv/bin/python bench/import_values.py [--rounds N]
Exit status: 0 targets met, 1 a target missed, 2 invalid measurement or set-up failure.
"""

import argparse
import asyncio
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from plan_api import (
    OUT,
    ROOT,
    VENV_BIN,
    BenchError,
    append_section,
    background_cores,
    commit,
    plain_url,
    rel,
    run,
    shown,
)

RESULTS = ROOT / "bench" / "results" / "import_values.md"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_i3_bench"
RATIO_TARGET = 0.30
MEMORY_TARGET_MB = 300
ROWS = 100_000
COLUMNS = (
    "indicator_id",
    "kind",
    "period_start",
    "period_end",
    "period_label",
    "value",
    "commune_insee",
    "comment",
    "source",
    "source_excerpt",
)


@dataclass
class Run:
    what: str
    round: int
    seconds: float
    rows: int
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


async def _execute(dsn: str, *statements: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _dump_values(dsn: str, path: Path) -> int:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.copy_from_query(
            f"SELECT {', '.join(COLUMNS)} FROM indicator_value ORDER BY id",
            output=str(path),
            format="csv",
        )
        return int(await connection.fetchval("SELECT count(*) FROM indicator_value"))
    finally:
        await connection.close()


async def _count(dsn: str) -> int:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM indicator_value"))
    finally:
        await connection.close()


async def _copy(dsn: str, path: Path) -> float:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        started = time.perf_counter()
        await connection.copy_to_table(
            "indicator_value", source=str(path), columns=COLUMNS, format="csv"
        )
        return time.perf_counter() - started
    finally:
        await connection.close()


def empty_table(dsn: str) -> None:
    asyncio.run(_execute(dsn, "TRUNCATE indicator_value", "CHECKPOINT"))


def measure_copy(dsn: str, path: Path, round_: int) -> Run:
    empty_table(dsn)
    seconds = asyncio.run(_copy(dsn, path))
    rows = asyncio.run(_count(dsn))
    if rows != ROWS:
        raise BenchError(f"COPY stored {rows} rows, not {ROWS}")
    found = Run("COPY", round_, seconds, rows)
    print(f"round {round_}: COPY   {found.seconds:6.2f} s {found.rows_per_second:9,.0f} rows/s")
    return found


def import_command(folder: Path) -> list[str]:
    return [str(VENV_BIN / "territoire"), "import", str(folder)]


def measure_import(dsn: str, folder: Path, env: dict[str, str], round_: int, empty: bool) -> Run:
    if empty:
        empty_table(dsn)
    else:
        asyncio.run(_execute(dsn, "CHECKPOINT"))
    log = OUT / f"import_values-round{round_}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            import_command(folder), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text()
    if process.returncode != 0:
        raise BenchError(f"territoire import exited {process.returncode}:\n{output}")
    expected = (
        f"indicator_value {ROWS} created"
        if empty
        else "indicator_value     0 created     0 updated"
    )
    if expected not in output:
        raise BenchError(f"territoire import did not report {expected!r}:\n{output}")
    rows = asyncio.run(_count(dsn))
    if rows != ROWS:
        raise BenchError(f"the import left {rows} rows, not {ROWS}")
    found = Run(
        "import" if empty else "re-import",
        round_,
        seconds,
        ROWS,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )
    print(
        f"round {round_}: {found.what:9} {found.seconds:6.2f} s "
        f"{found.rows_per_second:9,.0f} rows/s, peak RSS {found.peak_rss_mb:.0f} MB"
    )
    return found


def prepare(database_url: str, env: dict[str, str]) -> tuple[Path, Path, str]:
    """The database with the synthetic plan loaded; the folder to import; the COPY input."""
    python = str(VENV_BIN / "python")
    run([python, "scripts/pgtool.py", "create-db", plain_url(database_url), "--recreate"], env)
    run([str(VENV_BIN / "alembic"), "upgrade", "head"], env)
    synthetic = OUT / "synthetic"
    run([str(VENV_BIN / "territoire"), "synthetic", str(synthetic)], env)
    run([str(VENV_BIN / "territoire"), "load", str(synthetic)], env, timeout=600)
    folder = OUT / "import_values"
    folder.mkdir(exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    (folder / "indicator_values.csv").write_bytes((synthetic / "indicator_values.csv").read_bytes())
    copy_input = OUT / "import_values-copy.csv"
    dsn = plain_url(database_url)
    if asyncio.run(_dump_values(dsn, copy_input)) != ROWS:
        raise BenchError(f"the synthetic plan does not hold {ROWS} values")

    async def version() -> str:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.execute("ANALYZE")
            return str(await connection.fetchval("SELECT version()"))
        finally:
            await connection.close()

    return folder, copy_input, asyncio.run(version())


def report(
    started: datetime,
    arguments: argparse.Namespace,
    postgres: str,
    background: float,
    copies: list[Run],
    imports: list[Run],
    again: Run,
) -> tuple[str, int]:
    copy_rps = statistics.median(r.rows_per_second for r in copies)
    import_rps = statistics.median(r.rows_per_second for r in imports)
    ratio = import_rps / copy_rps
    peak = max(r.peak_rss_mb or 0 for r in [*imports, again])
    met = ratio >= RATIO_TARGET and peak < MEMORY_TARGET_MB
    python = os.path.relpath(sys.executable, Path.cwd())
    command = shlex.join([python, os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])
    lines = [
        f"## {started:%Y-%m-%d %H:%M:%S} UTC — {'PASS' if met else 'FAIL'}",
        "",
        f"- nproc: {len(os.sched_getaffinity(0))}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}",
        f"- other work on the machine: {background:.2f} cores busy in the 2 s before the run; "
        f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())} after it",
        f"- {postgres.split(',')[0]} on the same machine",
        f"- code: {commit()}",
        f"- command: `{command}`",
        f"- import: `{shown(import_command(OUT / 'import_values'))}` (a folder holding only "
        "indicator_values.csv, 100 000 rows, 6.9 MB), into an empty indicator_value table",
        "- COPY: `COPY indicator_value (indicator_id, kind, period_start, period_end, "
        "period_label, value, commune_insee, comment, source, source_excerpt) FROM STDIN "
        "(FORMAT csv)` of the same 100 000 rows (ids already resolved), sent by asyncpg",
        f"- {arguments.rounds} rounds, each: TRUNCATE + CHECKPOINT, COPY; TRUNCATE + "
        "CHECKPOINT, import",
        "",
        "| round | what | seconds | rows/s | peak RSS MB | CPU s (import process) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for found in sorted([*copies, *imports, again], key=lambda r: (r.round, r.what)):
        rss = f"{found.peak_rss_mb:.0f}" if found.peak_rss_mb is not None else ""
        cpu = f"{found.cpu_seconds:.2f}" if found.cpu_seconds is not None else ""
        lines.append(
            f"| {found.round} | {found.what} | {found.seconds:.2f} | "
            f"{found.rows_per_second:,.0f} | {rss} | {cpu} |"
        )
    lines += [
        "",
        "| measure | value | target | verdict |",
        "| --- | ---: | ---: | --- |",
        f"| COPY, median rows/s | {copy_rps:,.0f} | | reference |",
        f"| import, median rows/s | {import_rps:,.0f} | | |",
        f"| import / COPY | {ratio:.1%} | ≥ {RATIO_TARGET:.0%} | "
        f"{'pass' if ratio >= RATIO_TARGET else 'fail'} |",
        f"| import, peak RSS | {peak:.0f} MB | < {MEMORY_TARGET_MB} MB | "
        f"{'pass' if peak < MEMORY_TARGET_MB else 'fail'} |",
        "",
        "The import's time is the whole command: interpreter start, reading and checking every "
        "row (and the indicator codes, communes and periods against the database), a COPY into "
        "a temporary table, then one UPDATE and one INSERT in the same transaction. COPY "
        "pays the same index, foreign-key and trigger costs on indicator_value. The re-import "
        "row is the same file into the full table: every row is compared, none is written.",
    ]
    ratios = [
        f"round {i.round}: {i.rows_per_second / c.rows_per_second:.1%}"
        for c, i in zip(copies, imports, strict=True)
    ]
    lines += ["", "Ratios within each round: " + "; ".join(ratios) + "."]
    return "\n".join(lines) + "\n", 0 if met else 1


HEADER = """\
# Importing indicator values

Written by `bench/import_values.py` (see `bench/README.md`); each run appends a section.

Requirement: `territoire import` of 100 000 indicator values reaches at least 30% of the rows per
second of PostgreSQL's own COPY of the same rows into the same table, measured in the same run,
and its peak memory stays under 300 MB.
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    started = datetime.now(UTC)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = {**os.environ, "DATABASE_URL": database_url}
    OUT.mkdir(exist_ok=True)
    dsn = plain_url(database_url)
    try:
        folder, copy_input, postgres = prepare(database_url, env)
        background = background_cores()
        copies, imports = [], []
        for round_ in range(1, arguments.rounds + 1):
            copies.append(measure_copy(dsn, copy_input, round_))
            imports.append(measure_import(dsn, folder, env, round_, empty=True))
        again = measure_import(dsn, folder, env, arguments.rounds + 1, empty=False)
    except (BenchError, subprocess.TimeoutExpired, OSError, asyncpg.PostgresError) as error:
        print(f"import_values: {error}", file=sys.stderr)
        return 2
    section, status = report(started, arguments, postgres, background, copies, imports, again)
    append_section(RESULTS, HEADER, "\n" + section)
    print("\n" + section)
    print(f"appended to {rel(RESULTS)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
