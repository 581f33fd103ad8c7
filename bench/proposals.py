"""Throughput of public proposals (POST /v1/proposals) against the health endpoint.

Requirement: measured on one uvicorn worker with a load generator on loopback, a proposal POST
reaches at least 30% of the requests per second of GET /health of the same service, measured in
the same run.

The script recreates its database (migrated, CALL loaded, ANALYZE), starts one uvicorn worker
with the proposals' rate limit RAISED (RATE_LIMIT_PROPOSALS, see below: the bench sends
thousands of proposals a second from one address, which the default limit refuses by design),
warms both requests up, then runs wrk against health and proposals in alternation for a few
rounds. Each POST is a distinct proposal (its own title and email) with its own
Idempotency-Key, as a form client sends them, and must be answered 201. The ratio is that of
the median rps. A section is appended to bench/results/proposals.md; raw wrk output and the
server log go to bench/out/ (git-ignored).

Usage: .venv/bin/python bench/proposals.py [--duration S] [--rounds N] [--connections N]
       [--no-key]
Exit status: 0 target met, 1 target missed, 2 invalid measurement or set-up failure.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import plan_api as base

RESULTS = base.BENCH / "results" / "proposals.md"
LUA = base.BENCH / "wrk_proposals.lua"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_i5p_bench"
TARGET = 0.30
PORT = 8152
RAISED_LIMIT = "100000000/minute"


@dataclass
class Run:
    kind: str  # "health" or "proposal"
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    good: int
    bad: int
    bad_status: int
    server_ms: float
    server_cpu: float
    postgres_cpu: float

    @property
    def valid(self) -> bool:
        return self.bad == 0 and self.good > 0


def wrk(wrk_path: str, port: int, kind: str, args: argparse.Namespace, duration: int) -> list[str]:
    command = [
        wrk_path,
        "--threads=2",
        f"--connections={args.connections}",
        f"--duration={duration}s",
        f"--timeout={base.WRK_TIMEOUT}s",
    ]
    if kind == "health":
        return [*command, f"--script={base.WRK_SCRIPT}", f"http://{base.HOST}:{port}/health"]
    return [
        *command,
        f"--script={LUA}",
        f"http://{base.HOST}:{port}/v1/proposals",
        "--",
        "key" if args.key else "nokey",
    ]


def measure(
    wrk_path: str,
    port: int,
    pid: int,
    database: str,
    kind: str,
    round_: int,
    args: argparse.Namespace,
    duration: int,
) -> Run:
    command = wrk(wrk_path, port, kind, args, duration)
    cpu_before = base.process_cpu_seconds(pid)
    postgres_before = base.backends_cpu_seconds(database)
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    elapsed = time.monotonic() - started
    cpu = base.process_cpu_seconds(pid) - cpu_before
    postgres = sum(
        seconds - postgres_before.get(backend, 0)
        for backend, seconds in base.backends_cpu_seconds(database).items()
    )
    label = "warmup" if round_ == 0 else f"round{round_}"
    (base.OUT / f"proposals-{label}-{kind}.txt").write_text(result.stdout + result.stderr)
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not lines:
        raise base.BenchError(f"wrk exited {result.returncode}:\n{result.stdout}{result.stderr}")
    figures = json.loads(lines[-1].removeprefix("BENCH "))
    seconds = figures["duration_us"] / 1e6
    errors = sum(figures[f"{n}_errors"] for n in ("connect", "read", "write")) + figures["timeouts"]
    run = Run(
        kind=kind,
        round=round_,
        rps=figures["requests"] / seconds,
        p50_ms=figures["latency_p50_us"] / 1000,
        p99_ms=figures["latency_p99_us"] / 1000,
        good=figures["ok"],
        bad=figures["bad"] + errors,
        bad_status=figures["bad_status"],
        server_ms=cpu * 1000 / max(figures["requests"], 1),
        server_cpu=cpu / elapsed,
        postgres_cpu=postgres / elapsed,
    )
    print(
        f"{label:7} {kind:8} {run.rps:9.1f} rps  p50 {run.p50_ms:6.2f} ms  "
        f"uvicorn {run.server_ms:.3f} ms/req ({run.server_cpu:.2f} cores), postgres "
        f"{run.postgres_cpu:.2f} cores{'  INVALID' if not run.valid else ''}",
        flush=True,
    )
    return run


def preflight(port: int) -> None:
    """One proposal by hand: a 201 whose status link answers."""
    connection = base.http.client.HTTPConnection(base.HOST, port, timeout=10)
    body = json.dumps(
        {
            "title": "Proposition de contrôle",
            "description": "Avant la mesure.",
            "category": "4",
            "geometry": {"type": "Point", "coordinates": [2.8282, 50.4268]},
            "contact_email": "bench-preflight@example.org",
        }
    )
    try:
        connection.request(
            "POST", "/v1/proposals", body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise base.BenchError(f"POST /v1/proposals: {response.status} {answer[:300]!r}")
        status_path = urlsplit(json.loads(answer)["status_url"]).path
        connection.request("GET", status_path)
        status = connection.getresponse()
        status.read()
        if status.status != 200:
            raise base.BenchError(f"GET the status link: {status.status}")
    finally:
        connection.close()


async def count_proposals(database_url: str) -> int:
    connection = await asyncpg.connect(base.plain_url(database_url))
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM initiative WHERE status = 'submitted'")
        )
    finally:
        await connection.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--no-key", dest="key", action="store_false", help="POST without Idempotency-Key"
    )
    args = parser.parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    base.OUT.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    wrk_path = base.ensure_wrk()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        # Raised for the bench only (one address sends thousands of proposals a second).
        "RATE_LIMIT_PROPOSALS": RAISED_LIMIT,
    }
    postgres = base.prepare_database(database_url, env)
    database = urlsplit(base.plain_url(database_url)).path.lstrip("/")
    load_before = os.getloadavg()
    runs: list[Run] = []
    port = base.free_port(PORT)
    log = base.OUT / "proposals-server.log"
    with base.server(port, env, log) as process:
        preflight(port)
        for kind in ("health", "proposal"):
            measure(wrk_path, port, process.pid, database, kind, 0, args, args.warmup)
        for round_ in range(1, args.rounds + 1):
            for kind in ("health", "proposal"):
                runs.append(
                    measure(
                        wrk_path, port, process.pid, database, kind, round_, args, args.duration
                    )
                )
    stored = asyncio.run(count_proposals(database_url))
    answered = sum(r.good for r in runs if r.kind == "proposal")
    section, status = report(started, runs, args, postgres, load_before, stored, answered)
    base.append_section(RESULTS, HEADER, section)
    print(section)
    return status


HEADER = """\
# Public proposals against health

Requirement: measured on one uvicorn worker with a load generator on loopback, a proposal
`POST /v1/proposals` reaches at least 30% of the requests per second of `GET /health` of the
same service, measured in the same run (medians over alternating rounds). Produced by
`bench/proposals.py`.

"""


def report(
    started: datetime,
    runs: list[Run],
    args: argparse.Namespace,
    postgres: str,
    load_before: tuple[float, float, float],
    stored: int,
    answered: int,
) -> tuple[str, int]:
    invalid = [run for run in runs if not run.valid]
    health = statistics.median(r.rps for r in runs if r.kind == "health")
    posted = statistics.median(r.rps for r in runs if r.kind == "proposal")
    ratio = posted / health
    cpu_ratio = statistics.median(
        r.server_ms for r in runs if r.kind == "health"
    ) / statistics.median(r.server_ms for r in runs if r.kind == "proposal")
    met = ratio >= TARGET
    command = f".venv/bin/python bench/proposals.py {' '.join(sys.argv[1:])}".rstrip()
    lines = [
        f"## {started:%Y-%m-%d %H:%M:%S} UTC — {'PASS' if met and not invalid else 'FAIL'}",
        "",
        f"- nproc: {base.NPROC}; {postgres.split(',')[0]}; load average before "
        + ", ".join(f"{v:.2f}" for v in load_before),
        f"- command: `{command}`",
        f"- code: {base.commit()}",
        f"- one uvicorn worker on 127.0.0.1, wrk with 2 threads and {args.connections} "
        f"connections on the same machine; {args.rounds} rounds of {args.duration} s per "
        f"request after a {args.warmup} s warm-up, health and proposals alternating",
        f"- **rate limit raised for the bench**: `RATE_LIMIT_PROPOSALS={RAISED_LIMIT}` (the "
        "default, 3 a minute and 10 an hour per client, would answer 429 after three)",
        "- each POST a distinct proposal (Point geometry checked against the territory, "
        "email validated, stored with its audit row) "
        + (
            "with its own `Idempotency-Key` (claimed, and its answer sealed and stored, in the "
            "statement that inserts the proposal)"
            if args.key
            else "without `Idempotency-Key`"
        )
        + "; concurrent proposals are stored together (one statement and one commit per "
        "batch, `app/services/batching.py`); every answer checked to be a 201",
        f"- proposals stored as submitted after the run: {stored:,} (201 answers counted by "
        f"wrk in the rounds: {answered:,}; the warm-up and the preflight add theirs)",
        "",
        "| round | request | rps | p50 ms | p99 ms | 2xx/201 | bad | uvicorn ms/req | uvicorn "
        "cores | postgres cores |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run.round} | {run.kind} | {run.rps:,.1f} | {run.p50_ms:.2f} | {run.p99_ms:.2f} "
            f"| {run.good:,} | {run.bad} | {run.server_ms:.3f} | {run.server_cpu:.2f} | "
            f"{run.postgres_cpu:.2f} |"
        )
    lines += [
        "",
        "| health rps (median) | proposal rps (median) | ratio | by uvicorn CPU per request | "
        "target | verdict |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {health:,.1f} | {posted:,.1f} | {ratio:.1%} | {cpu_ratio:.1%} | ≥ {TARGET:.0%} | "
        f"{'pass' if met else 'FAIL'} |",
        "",
        "The load generator, the worker and PostgreSQL share the machine's cores: absolute rps "
        "are those of a crowded machine; the ratio, measured under the same conditions, is what "
        "the requirement judges."
        + (f" INVALID: {len(invalid)} runs had other answers or socket errors." if invalid else ""),
        "",
        "",
    ]
    status = 2 if invalid else (0 if met else 1)
    return "\n".join(lines), status


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except base.BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        sys.exit(2)
