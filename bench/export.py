"""Throughput and memory of a bulk CSV export: the API against `psql \\copy` of the same query.

Requirement: exporting 1 000 000 rows as CSV reaches at least 50% of the throughput of
`psql \\copy` of the same columns to a file, measured in the same run, and the server stays under
200 MB of memory.

Generic over the datasets of the registry: a dataset and a synthetic row generator
(GENERATORS). The issue asks for 1 000 000 initiatives (`--dataset initiatives`: the generator of
`territoire synthesize`, random points in the communes, about one in eight not published, so not
exported); the default, 1 000 000 synthetic actions, measures a plan-level dataset.

The script recreates its database (migrated, CALL loaded), adds the synthetic rows in one
transaction, VACUUM ANALYZE, starts one uvicorn worker, downloads the export once (the first
download after a change also computes its size and checksum), then alternates `psql \\copy` and
`curl` of the export, each writing the same bytes to a file (checked by SHA-256), while sampling
the worker's resident memory. A section is appended to bench/results/export.md.

Usage: .venv/bin/python bench/export.py [--dataset actions|initiatives] [--rows 1000000]
       [--rounds 3]
Exit status: 0 targets met, 1 a target missed, 2 invalid measurement or set-up failure.
"""

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import plan_api as base
from pydantic import PostgresDsn
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

sys.path.insert(0, str(base.ROOT))
from app.cli import synthesize
from app.config import Settings
from app.repositories.publication_formats import csv_statement
from app.services.registry import REGISTRY

RESULTS = base.BENCH / "results" / "export.md"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_i6_bench"
PORT = 8164
THROUGHPUT_TARGET = 0.5
MEMORY_TARGET_MB = 200


async def synthetic_actions(connection: asyncpg.Connection, rows: int) -> None:
    """`rows` actions spread over the plan's objectives, each concerning one commune."""
    await connection.execute(
        """
        INSERT INTO action (code, title, description, objective_id, status, lead, partners,
                            start_date, start_date_precision, source_excerpt)
        SELECT o.code || '.' || (1000 + g / o.count),
               'Action synthétique n° ' || g || ', objectif ' || o.code,
               'Description de l''action synthétique n° ' || g || ' : rénovation, mobilité, '
                   || 'emploi et cadre de vie, pour mesurer un export de grande taille.',
               o.id,
               (ARRAY['planned', 'in_progress', 'done', 'paused', 'abandoned', 'blocked',
                      'late', 'to_discuss'])[1 + g % 8],
               'Porteur ' || (g % 97),
               ARRAY['Partenaire ' || (g % 13), 'Région Hauts-de-France'],
               date '2020-01-01' + (g % 2000),
               'day',
               'Extrait n° ' || g
        FROM generate_series(0, $1 - 1) AS g
        JOIN (SELECT id, code, row_number() OVER (ORDER BY code_path) - 1 AS position,
                     count(*) OVER () AS count
              FROM objective) AS o ON o.position = g % o.count
        """,
        rows,
    )
    # In the same transaction as the inserts, touching each new action again for its commune
    # would rewrite a million rows for nothing: the touch trigger is off while linking them.
    await connection.execute("ALTER TABLE action_commune DISABLE TRIGGER trg_action_commune_touch")
    await connection.execute(
        """
        INSERT INTO action_commune (action_id, commune_insee)
        SELECT a.id, c.insee
        FROM action AS a
        JOIN (SELECT insee, row_number() OVER (ORDER BY insee) - 1 AS position,
                     count(*) OVER () AS count FROM commune) AS c
          ON c.position = a.id % c.count
        WHERE a.title LIKE 'Action synthétique%'
        """
    )
    await connection.execute("ALTER TABLE action_commune ENABLE TRIGGER trg_action_commune_touch")


async def synthetic_initiatives(database_url: str, rows: int) -> None:
    """`rows` initiatives, generated as `territoire synthesize --count rows` does (one
    transaction, change-log triggers on); the published ones (about 7 in 8) are exported."""
    settings = Settings(database_url=PostgresDsn(database_url))
    _, inserted, linked = await synthesize(rows, seed=1, remove_only=False, settings=settings)
    print(f"synthesize: {inserted:,} initiatives, {linked:,} action links", flush=True)


async def in_one_transaction(
    generator: Callable[[asyncpg.Connection, int], Awaitable[None]], database_url: str, rows: int
) -> None:
    connection = await asyncpg.connect(base.plain_url(database_url), timeout=10)
    try:
        async with connection.transaction():
            await generator(connection, rows)
    finally:
        await connection.close()


GENERATORS: dict[str, Callable[[str, int], Awaitable[None]]] = {
    "actions": lambda url, rows: in_one_transaction(synthetic_actions, url, rows),
    "initiatives": synthetic_initiatives,
}


async def generate(database_url: str, dataset: str, rows: int) -> int:
    """Generate the rows, VACUUM ANALYZE; the number of rows the export holds."""
    await GENERATORS[dataset](database_url, rows)
    connection = await asyncpg.connect(base.plain_url(database_url), timeout=10)
    try:
        await connection.execute("VACUUM ANALYZE")
        return await exported_rows(connection, dataset)
    finally:
        await connection.close()


async def exported_rows(connection: asyncpg.Connection, dataset: str) -> int:
    """The rows of the dataset's export (e.g. published initiatives only)."""
    spec = REGISTRY.get(dataset)
    assert spec is not None
    statement = select(func.count()).select_from(spec.rows().subquery())
    sql = str(statement.compile(dialect=asyncpg_dialect(), compile_kwargs={"literal_binds": True}))
    return int(await connection.fetchval(sql))


async def count_rows(database_url: str, dataset: str) -> int:
    spec = REGISTRY.get(dataset)
    assert spec is not None
    try:
        connection = await asyncpg.connect(base.plain_url(database_url), timeout=10)
    except (OSError, asyncpg.PostgresError):
        return 0
    try:
        # Of the table: with initiatives, the unpublished ones count as generated.
        return int(await connection.fetchval(f"SELECT count(*) FROM {spec.tables[0]}"))
    except asyncpg.PostgresError:
        return 0
    finally:
        await connection.close()


async def server_version(database_url: str, dataset: str) -> tuple[str, int]:
    """PostgreSQL's version string, and the rows of the dataset's export."""
    connection = await asyncpg.connect(base.plain_url(database_url), timeout=10)
    try:
        version = str(await connection.fetchval("SELECT version()"))
        return version, await exported_rows(connection, dataset)
    finally:
        await connection.close()


def export_sql(dataset: str) -> str:
    spec = REGISTRY.get(dataset)
    if spec is None:
        raise base.BenchError(f"no dataset {dataset!r}")
    statement = csv_statement(spec.rows, spec.csv_columns())
    sql = str(statement.compile(dialect=asyncpg_dialect(), compile_kwargs={"literal_binds": True}))
    return " ".join(sql.split())


class MemorySampler(threading.Thread):
    """The worker's resident memory every 20 ms; its peak (VmHWM) at the end."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss_kb = 0
        self.running = True

    def field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        return 0

    def run(self) -> None:
        while self.running:
            self.peak_rss_kb = max(self.peak_rss_kb, self.field("VmRSS"))
            time.sleep(0.02)


@dataclass
class Timing:
    tool: str
    round: int
    seconds: float
    size: int
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def psql_copy(database_url: str, sql: str, target: Path, round_: int) -> Timing:
    command = [
        "psql",
        base.plain_url(database_url),
        "--no-psqlrc",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        f"\\copy ({sql}) TO '{target}' WITH (FORMAT csv, HEADER)",
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PGCLIENTENCODING": "UTF8"},
        timeout=600,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise base.BenchError(f"psql exited {result.returncode}: {result.stderr}")
    return Timing("psql \\copy", round_, seconds, target.stat().st_size, sha256_of(target))


def curl(port: int, dataset: str, target: Path, round_: int) -> Timing:
    url = f"http://{base.HOST}:{port}/v1/datasets/{dataset}.csv"
    command = ["curl", "--silent", "--fail", "--output", str(target), url]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise base.BenchError(f"curl exited {result.returncode}: {result.stderr}")
    return Timing("API (curl)", round_, seconds, target.stat().st_size, sha256_of(target))


def announced(port: int, dataset: str) -> tuple[int, str]:
    connection = base.http.client.HTTPConnection(base.HOST, port, timeout=600)
    try:
        connection.request("HEAD", f"/v1/datasets/{dataset}.csv")
        response = connection.getresponse()
        response.read()
        return int(response.getheader("content-length", "0")), response.getheader("repr-digest", "")
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="actions", choices=sorted(GENERATORS))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="reuse the bench database when it already holds the rows (no recreation)",
    )
    args = parser.parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    base.OUT.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    env = {**os.environ, "DATABASE_URL": database_url}
    existing = asyncio.run(count_rows(database_url, args.dataset)) if args.keep_data else 0
    if existing >= args.rows:
        postgres, total = asyncio.run(server_version(database_url, args.dataset))
        generation = 0.0
        print(f"reusing {existing:,} rows of {args.dataset}, {total:,} exported", flush=True)
    else:
        postgres = base.prepare_database(database_url, env)
        print(f"generating {args.rows:,} synthetic {args.dataset}", flush=True)
        generation_started = time.monotonic()
        total = asyncio.run(generate(database_url, args.dataset, args.rows))
        generation = time.monotonic() - generation_started
        print(f"{total:,} rows exported in {args.dataset} ({generation:.0f} s)", flush=True)
    sql = export_sql(args.dataset)
    port = base.free_port(PORT)
    log = base.OUT / "export-server.log"
    timings: list[Timing] = []
    with base.server(port, env, log) as process:
        sampler = MemorySampler(process.pid)
        sampler.start()
        rss_idle_kb = sampler.field("VmRSS")
        first_started = time.monotonic()
        size, digest = announced(port, args.dataset)  # computes size and checksum
        first_figures = time.monotonic() - first_started
        for round_ in range(1, args.rounds + 1):
            timings.append(psql_copy(database_url, sql, base.OUT / "export-psql.csv", round_))
            timings.append(curl(port, args.dataset, base.OUT / "export-api.csv", round_))
            for timing in timings[-2:]:
                print(
                    f"round {round_} {timing.tool:12} {timing.seconds:6.2f} s "
                    f"{timing.size / timing.seconds / 1e6:7.1f} MB/s",
                    flush=True,
                )
        sampler.running = False
        sampler.join()
        peak_kb = max(sampler.peak_rss_kb, sampler.field("VmHWM"))
    section, status = report(
        started,
        args,
        postgres,
        total,
        generation,
        timings,
        size,
        digest,
        first_figures,
        rss_idle_kb,
        peak_kb,
    )
    base.append_section(RESULTS, HEADER, section)
    print(section)
    return status


HEADER = """\
# Bulk CSV export against psql \\copy

Requirement: exporting 1 000 000 rows as CSV reaches at least 50% of the throughput of
`psql \\copy` of the same columns to a file, in the same run, with the server under 200 MB of
memory. Produced by `bench/export.py`.

"""


def report(
    started: datetime,
    args: argparse.Namespace,
    postgres: str,
    total: int,
    generation: float,
    timings: list[Timing],
    size: int,
    digest: str,
    first_figures: float,
    rss_idle_kb: int,
    peak_kb: int,
) -> tuple[str, int]:
    psql = [t for t in timings if t.tool.startswith("psql")]
    api = [t for t in timings if t.tool.startswith("API")]
    same = {t.sha256 for t in timings}
    problems = []
    if len(same) != 1:
        problems.append("psql and the API did not write the same bytes")
    if any(t.size != size for t in api):
        problems.append("the download's size differs from its Content-Length")
    psql_s = statistics.median(t.seconds for t in psql)
    api_s = statistics.median(t.seconds for t in api)
    ratio = psql_s / api_s
    peak_mb = peak_kb / 1024
    met = ratio >= THROUGHPUT_TARGET and peak_mb < MEMORY_TARGET_MB
    verdict = "INVALID" if problems else ("PASS" if met else "FAIL")
    lines = [
        f"## {started:%Y-%m-%d %H:%M:%S} UTC — {verdict}",
        "",
        f"- nproc: {base.NPROC}; {postgres.split(',')[0]} on the same machine",
        f"- command: `.venv/bin/python bench/export.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"- code: {base.commit()}",
        f"- dataset: {args.dataset}, {total:,} rows exported ({args.rows:,} synthetic"
        + (
            f", generated in {generation:.0f} s with the change-log triggers on"
            if generation
            else ", generated by an earlier run (--keep-data)"
        )
        + f"); file: {size:,} B, {digest}",
        f"- first download after the change (HEAD, which computes size and checksum by "
        f"streaming the export once): {first_figures:.2f} s",
        f"- one uvicorn worker (port {PORT} or a free one); `curl` and `psql` write to a file "
        "on the same disk; both files are byte-identical (SHA-256 checked)",
        "",
        "| round | tool | seconds | MB/s |",
        "| --- | --- | ---: | ---: |",
        *(
            f"| {t.round} | {t.tool} | {t.seconds:.2f} | {t.size / t.seconds / 1e6:.1f} |"
            for t in timings
        ),
        "",
        "| measure | value | target | verdict |",
        "| --- | ---: | ---: | --- |",
        f"| API throughput / psql \\copy throughput (medians) | {ratio:.1%} | ≥ 50% | "
        f"{'pass' if ratio >= THROUGHPUT_TARGET else 'FAIL'} |",
        f"| worker resident memory, peak over the run (idle: {rss_idle_kb / 1024:.0f} MB) | "
        f"{peak_mb:.0f} MB | < {MEMORY_TARGET_MB} MB | "
        f"{'pass' if peak_mb < MEMORY_TARGET_MB else 'FAIL'} |",
        "",
        *(f"INVALID: {problem}" for problem in problems),
        "",
    ]
    return "\n".join(lines), 2 if problems else (0 if met else 1)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except base.BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        sys.exit(2)
