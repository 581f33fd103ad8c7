"""Throughput of the plan tree and the action list, against a trivial health endpoint.

Requirement: measured on one uvicorn worker with a load generator on loopback, GET /v1/plan and
GET /v1/actions each reach at least 50% of the requests per second of GET /health of the same
service, measured in the same run.

The script creates its own database (dropped and recreated), migrates it, loads data/call, starts
one uvicorn worker, warms each endpoint up, then runs wrk against health, plan and actions in
turn for a few rounds. The median rps of each endpoint gives the two ratios. A section is appended
to bench/results/plan_api.md; raw wrk output and the server log go to bench/out/ (git-ignored).

Usage: .venv/bin/python bench/plan_api.py [--duration S] [--rounds N] [--connections N] ...
Exit status: 0 target met, 1 target missed, 2 invalid measurement or set-up failure.
"""

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import asyncpg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = ROOT / ".venv" / "bin"
OUT = BENCH / "out"
RESULTS = BENCH / "results" / "plan_api.md"
WRK_SCRIPT = BENCH / "wrk_report.lua"

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_bench"
HOST = "127.0.0.1"
ENDPOINTS = {"health": "/health", "plan": "/v1/plan", "actions": "/v1/actions"}
MEASURED = ("plan", "actions")  # each compared with health
TARGET = 0.5
PACKAGES = ("fastapi", "uvicorn", "uvloop", "httptools", "sqlalchemy", "asyncpg", "pydantic")
SETUP_TIMEOUT = 180  # seconds, for each set-up command
READY_TIMEOUT = 30
WRK_TIMEOUT = 5  # seconds before wrk counts a request as timed out
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NPROC = len(os.sched_getaffinity(0))  # cores this process may use, as nproc says
MACHINE_CORES = os.cpu_count() or NPROC  # cores /proc/stat adds up


class BenchError(Exception):
    """The bench could not produce a valid measurement."""


class BenchTimeoutError(BenchError):
    pass


# --- helpers -------------------------------------------------------------------------------------


def rel(path: Path | str) -> str:
    """A path as shown in the results: relative to the repository when it is inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def shown(command: list[str]) -> str:
    """A command line as printed and reported, with repository paths made relative."""
    return shlex.join(part.replace(f"{ROOT}{os.sep}", "") for part in command)


def run(
    command: list[str], env: dict[str, str] | None = None, timeout: float = SETUP_TIMEOUT
) -> str:
    """Run a set-up command from the repository root; its output, or BenchError with it."""
    print(f"$ {shown(command)}", flush=True)
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(
            f"{command[0]} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def plain_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def free_port(preferred: int) -> int:
    """The preferred port when nothing listens on it, else one the kernel hands out."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise BenchError("no free port")


def get(port: int, path: str, timeout: float = 5) -> tuple[int, str, bytes]:
    """One GET without following redirects: status, content type, body."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def backends_cpu_seconds(database: str) -> dict[int, float]:
    """CPU time so far of each PostgreSQL backend connected to the database, by process id."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                found[int(entry.name)] = process_cpu_seconds(int(entry.name))
    return found


def machine_ticks() -> tuple[int, int, int]:
    """CPU ticks of the whole machine so far, all cores added up (from /proc/stat): busy (neither
    idle nor stolen), stolen by the hypervisor, and in all."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    busy = user + nice + system + irq + softirq  # guest time is already counted in user
    return busy, steal, busy + steal + idle + iowait


def cores_used(before: tuple[int, int, int], after: tuple[int, int, int]) -> tuple[float, float]:
    """Between two machine_ticks(): cores kept busy, and the share of the time stolen."""
    busy, steal, total = (a - b for a, b in zip(after, before, strict=True))
    total = max(total, 1)
    return busy / total * MACHINE_CORES, steal / total


def background_cores(seconds: float = 2) -> float:
    """Cores busy while the bench itself does nothing: other work on the machine."""
    before = machine_ticks()
    time.sleep(seconds)
    return cores_used(before, machine_ticks())[0]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- set-up --------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError("wrk is missing: install it (Debian: apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], env=env)
    run(["apt-get", "install", "-y", "wrk"], env=env)
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return wrk


def prepare_database(database_url: str, env: dict[str, str], synthetic: bool = False) -> str:
    """Recreate, migrate, load and analyse the bench database; PostgreSQL's version string.
    With `synthetic`, the plan is the synthetic full-size one (`territoire synthetic`)."""
    python = str(VENV_BIN / "python")
    run([python, "scripts/pgtool.py", "create-db", plain_url(database_url), "--recreate"], env)
    run([str(VENV_BIN / "alembic"), "upgrade", "head"], env)
    dataset = "data/call"
    if synthetic:
        dataset = str(OUT / "synthetic")
        run([str(VENV_BIN / "territoire"), "synthetic", dataset], env)
    run([str(VENV_BIN / "territoire"), "load", dataset], env, timeout=600)

    async def analyse() -> str:
        # Fresh tables have no statistics; ANALYZE now so autovacuum does not change query plans
        # in the middle of the measurement.
        connection = await asyncpg.connect(plain_url(database_url), timeout=10)
        try:
            await connection.execute("ANALYZE")
            return str(await connection.fetchval("SELECT version()"))
        finally:
            await connection.close()

    return asyncio.run(analyse())


def uvicorn_command(port: int, workers: int = 1) -> list[str]:
    # The loop and HTTP parser are left to uvicorn's "auto": uvloop and httptools, both installed.
    return [
        str(VENV_BIN / "uvicorn"),
        "--factory",
        "app.main:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def server(
    port: int, env: dict[str, str], log_path: Path, workers: int = 1
) -> Iterator[subprocess.Popen[bytes]]:
    """uvicorn (one worker unless told), ready; stopped on the way out whatever happens."""
    command = uvicorn_command(port, workers)
    print(f"$ {shown(command)}", flush=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_ready(process, port, log_path)
            yield process
        finally:
            stop(process)


def wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"uvicorn exited {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(OSError):
            if get(port, "/ready", timeout=2)[0] == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"uvicorn not ready after {READY_TIMEOUT} s:\n{log_path.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- measurement ---------------------------------------------------------------------------------


@dataclass
class Measure:
    endpoint: str
    round: int  # 0 for the warm-up
    requests: int
    duration_s: float
    ok: int
    bad: int
    bad_status: int
    socket_errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    megabytes: float
    # CPU use over the run, in cores (1.0 = one core kept busy): the uvicorn worker, wrk, the
    # PostgreSQL backends serving the bench database, and the rest of the machine.
    server_cpu: float
    wrk_cpu: float
    postgres_cpu: float
    others_cpu: float
    steal: float  # share of the machine's time the hypervisor took
    server_ms: float  # CPU the uvicorn worker spent per request, in milliseconds
    problems: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Target:
    """What a measure needs: the load generator's settings and the server under test."""

    wrk: str
    threads: int
    connections: int
    port: int
    server_pid: int
    database: str


def wrk_command(target: Target, endpoint: str, duration: int) -> list[str]:
    return [
        target.wrk,
        f"--threads={target.threads}",
        f"--connections={target.connections}",
        f"--duration={duration}s",
        f"--timeout={WRK_TIMEOUT}s",
        f"--script={WRK_SCRIPT}",
        f"http://{HOST}:{target.port}{ENDPOINTS[endpoint]}",
    ]


def measure(target: Target, endpoint: str, round_: int, duration: int) -> Measure:
    command = wrk_command(target, endpoint, duration)
    server_before = process_cpu_seconds(target.server_pid)
    postgres_before = backends_cpu_seconds(target.database)
    wrk_before = children_cpu_seconds()
    ticks_before = machine_ticks()
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    elapsed = time.monotonic() - started
    busy, steal = cores_used(ticks_before, machine_ticks())
    wrk_cpu = (children_cpu_seconds() - wrk_before) / elapsed
    server_seconds = process_cpu_seconds(target.server_pid) - server_before
    server_cpu = server_seconds / elapsed
    postgres_cpu = (
        sum(
            seconds - postgres_before.get(pid, 0)
            for pid, seconds in backends_cpu_seconds(target.database).items()
        )
        / elapsed
    )

    label = "warm-up" if round_ == 0 else f"round {round_}"
    (OUT / f"plan_api-{label.replace(' ', '')}-{endpoint}.txt").write_text(
        result.stdout + result.stderr
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"wrk exited {result.returncode}:\n{result.stdout}{result.stderr}")
    figures = json.loads(lines[-1].removeprefix("BENCH "))
    seconds = figures["duration_us"] / 1e6
    socket_errors = {name: figures[f"{name}_errors"] for name in ("connect", "read", "write")} | {
        "timeout": figures["timeouts"]
    }
    found = Measure(
        endpoint=endpoint,
        round=round_,
        requests=figures["requests"],
        duration_s=seconds,
        ok=figures["ok"],
        bad=figures["bad"],
        bad_status=figures["bad_status"],
        socket_errors=socket_errors,
        p50_ms=figures["latency_p50_us"] / 1000,
        p99_ms=figures["latency_p99_us"] / 1000,
        max_ms=figures["latency_max_us"] / 1000,
        megabytes=figures["bytes"] / 1e6,
        server_cpu=server_cpu,
        wrk_cpu=wrk_cpu,
        postgres_cpu=postgres_cpu,
        others_cpu=max(busy - server_cpu - wrk_cpu - postgres_cpu, 0),
        steal=steal,
        server_ms=server_seconds * 1000 / max(figures["requests"], 1),
    )
    if found.requests == 0:
        found.problems.append("no request completed")
    if found.bad:
        found.problems.append(f"{found.bad} responses not 2xx (e.g. {found.bad_status})")
    if found.ok + found.bad != found.requests:
        found.problems.append(f"{found.ok + found.bad} responses checked of {found.requests}")
    if any(socket_errors.values()):
        found.problems.append(f"socket errors {socket_errors}")
    print(
        f"{label:8} {endpoint:8} {found.rps:9.1f} rps  p50 {found.p50_ms:7.2f} ms  "
        f"p99 {found.p99_ms:7.2f} ms  cores: uvicorn {found.server_cpu:.2f} wrk "
        f"{found.wrk_cpu:.2f} postgres {found.postgres_cpu:.2f} others {found.others_cpu:.2f}"
        f"{'  INVALID: ' + '; '.join(found.problems) if found.problems else ''}",
        flush=True,
    )
    return found


def preflight(port: int) -> dict[str, int]:
    """Each endpoint answers 200 with JSON (no redirect); the size of each body."""
    sizes = {}
    for endpoint, path in ENDPOINTS.items():
        status, content_type, body = get(port, path)
        if status != 200 or not content_type.startswith("application/json"):
            raise BenchError(f"GET {path}: {status} {content_type}, expected 200 JSON")
        sizes[endpoint] = len(body)
    return sizes


# --- report --------------------------------------------------------------------------------------


@dataclass
class Facts:
    started: datetime
    command: str
    cache: bool
    server_command: str
    wrk_command: str
    postgres: str
    wrk_version: str
    body_sizes: dict[str, int]
    background: float  # cores busy before the server started
    load_before: tuple[float, float, float]


def commit() -> str:
    """The code measured, as `git describe` names it (dirty when changed), else "unknown"."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip() or "unknown"


def machine_lines(facts: Facts) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    before = ", ".join(f"{value:.2f}" for value in facts.load_before)
    after = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"- nproc: {NPROC} ({cpu}); {platform.system()} {platform.release()}",
        f"- other work on the machine: {facts.background:.2f} cores busy in the 2 s before the "
        f"server started; load average {before} before the run, {after} after",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); {versions}",
        "- uvicorn loop/http: auto, which picks uvloop and httptools when importable (both are)",
        f"- {facts.postgres.split(',')[0]} on the same machine; {facts.wrk_version}",
        f"- code: {commit()}",
        "- plan: "
        + (
            "synthetic full-size (`territoire synthetic`: 5 axes, 23 ambitions, 51 objectives, "
            "124 actions, 200 indicators, budgets, milestones)"
            if RESULTS.name == "plan_rollup.md"
            else "data/call"
        ),
        f"- command: `{facts.command}`",
        "- response cache: "
        + (
            "on (repeated GETs served from memory until a change is committed)"
            if facts.cache
            else "off (every request reads the database)"
        ),
        f"- server: `{facts.server_command}`",
        f"- load generator: `{facts.wrk_command}`",
        "- response bodies: "
        + ", ".join(f"{name} {size:,} B" for name, size in facts.body_sizes.items()),
    ]


def report(
    facts: Facts, arguments: argparse.Namespace, warmups: list[Measure], rounds: list[Measure]
) -> tuple[str, int]:
    """The results section in Markdown, and the exit status."""
    medians = {
        name: statistics.median(m.rps for m in rounds if m.endpoint == name) for name in ENDPOINTS
    }
    ratios = {name: medians[name] / medians["health"] for name in MEASURED}
    invalid = [m for m in warmups + rounds if not m.valid]
    met = all(ratio >= TARGET for ratio in ratios.values())
    if invalid:
        verdict, status = "INVALID (see the problems below)", 2
    elif met:
        verdict, status = "PASS", 0
    else:
        verdict, status = "FAIL", 1

    lines = [
        f"## {facts.started:%Y-%m-%d %H:%M:%S} UTC — {verdict}",
        "",
        *machine_lines(facts),
        f"- warm-up: {arguments.warmup} s per endpoint, then {arguments.rounds} rounds of "
        f"{arguments.duration} s per endpoint in the order {', '.join(ENDPOINTS)}",
        "",
        f"The load generator (wrk, {arguments.threads} threads), the uvicorn worker and "
        f"PostgreSQL share these {NPROC} cores, so absolute rps are those of a crowded machine "
        "and say little about a server with cores to spare; the ratios, measured under the same "
        "conditions, are what the requirement judges.",
        "",
        "| round | endpoint | rps | p50 ms | p99 ms | max ms | MB | 2xx | not 2xx | socket errors "
        "| uvicorn | wrk | postgres | others | steal | uvicorn ms/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for m in warmups + rounds:
        errors = sum(m.socket_errors.values())
        lines.append(
            f"| {m.round or 'warm-up'} | {m.endpoint} | {m.rps:,.1f} | {m.p50_ms:.2f} | "
            f"{m.p99_ms:.2f} | {m.max_ms:.1f} | {m.megabytes:,.1f} | {m.ok:,} | {m.bad} | "
            f"{errors} | {m.server_cpu:.2f} | {m.wrk_cpu:.2f} | {m.postgres_cpu:.2f} | "
            f"{m.others_cpu:.2f} | "
            f"{m.steal:.0%} | {m.server_ms:.2f} |"
        )
    lines += [
        "",
        "uvicorn, wrk, postgres, others: CPU used during the run, in cores (1.00 = one core "
        "busy all the time); postgres is the backends serving the bench database, others the "
        "rest of the machine (other work running meanwhile). steal: share of the machine's time "
        "the hypervisor took. uvicorn ms/req: CPU time the worker spent per request.",
        "",
        "| endpoint | rps per round | median rps | ratio to health | target | verdict "
        "| uvicorn ms/req, median | health's ms/req over this |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    cost = {
        name: statistics.median(m.server_ms for m in rounds if m.endpoint == name)
        for name in ENDPOINTS
    }
    for name in ENDPOINTS:
        per_round = ", ".join(f"{m.rps:,.1f}" for m in rounds if m.endpoint == name)
        if name == "health":
            lines.append(
                f"| {name} | {per_round} | {medians[name]:,.1f} | 1 | | reference "
                f"| {cost[name]:.3f} | 1 |"
            )
            continue
        ok = "pass" if ratios[name] >= TARGET else "fail"
        lines.append(
            f"| {name} | {per_round} | {medians[name]:,.1f} | {ratios[name]:.1%} | "
            f"≥ {TARGET:.0%} | {ok} | {cost[name]:.3f} | {cost['health'] / cost[name]:.1%} |"
        )
    lines += [
        "",
        "The last column is a cross-check that other work on the machine disturbs less: while "
        "the worker is the bottleneck (about 1.00 core), the rps ratio tends to the ratio of CPU "
        "spent per request.",
    ]
    per_round_ratios = []
    for round_ in range(1, arguments.rounds + 1):
        rps = {m.endpoint: m.rps for m in rounds if m.round == round_}
        per_round_ratios.append(
            f"round {round_}: "
            + ", ".join(f"{name}/health {rps[name] / rps['health']:.1%}" for name in MEASURED)
        )
    lines += ["", "Ratios within each round: " + "; ".join(per_round_ratios) + "."]
    if invalid:
        lines += ["", "Problems:"]
        lines += [
            f"- {m.endpoint}, {'warm-up' if m.round == 0 else f'round {m.round}'}: "
            + "; ".join(m.problems)
            for m in invalid
        ]
    else:
        lines += [
            "",
            "Every response of the warm-up and of the rounds was checked: all 2xx, no socket "
            f"error, no timeout ({WRK_TIMEOUT} s).",
        ]
    return "\n".join(lines) + "\n", status


RESULTS_HEADER = """\
# Plan API throughput

Written by `bench/plan_api.py` (see `bench/README.md`); each run appends a section.

Requirement: measured on one uvicorn worker with a load generator on loopback, the plan tree
(`GET /v1/plan`) and the action list (`GET /v1/actions`) each reach at least 50% of the requests
per second of a trivial health endpoint (`GET /health`) of the same service, in the same run.
The ratios below are those of the median rps of each endpoint over the rounds.
"""


def append_section(results: Path, header: str, section: str) -> None:
    """Append a run's section to its results file, begun with the file's header when new."""
    results.parent.mkdir(parents=True, exist_ok=True)
    if not results.exists():
        results.write_text(header)
    with results.open("a") as out:
        out.write(section)


def append_results(section: str) -> None:
    append_section(RESULTS, RESULTS_HEADER, "\n" + section)


# --- main ----------------------------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the three endpoints")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--port", type=int, default=8123, help="preferred port for uvicorn")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="the synthetic full-size plan (5 axes, 23 ambitions, 51 objectives, 124 actions, "
        "with progress roll-up and budgets) instead of data/call; compares GET /v1/plan alone "
        "with /health against a 30%% target, in results/plan_rollup.md",
    )
    parser.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="run the server without its response cache (every request reads the database)",
    )
    arguments = parser.parse_args(argv)
    if min(arguments.duration, arguments.warmup, arguments.rounds, arguments.threads) < 1:
        parser.error("durations, rounds and threads must be at least 1")
    if arguments.connections < arguments.threads:
        parser.error("wrk needs at least one connection per thread")
    return arguments


def on_alarm(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeoutError("the bench ran past its time budget")


def on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, which stop the server


def bench(arguments: argparse.Namespace, wrk: str) -> int:
    started = datetime.now(UTC)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RESPONSE_CACHE": "true" if arguments.cache else "false",
    }
    OUT.mkdir(exist_ok=True)
    postgres = prepare_database(database_url, env, synthetic=arguments.synthetic)
    load_before = os.getloadavg()
    background = background_cores()
    port = free_port(arguments.port)
    log_path = OUT / "plan_api-server.log"

    with server(port, env, log_path) as process:
        target = Target(
            wrk=wrk,
            threads=arguments.threads,
            connections=arguments.connections,
            port=port,
            server_pid=process.pid,
            database=urlsplit(plain_url(database_url)).path.lstrip("/"),
        )
        body_sizes = preflight(port)
        warmups = [measure(target, name, 0, arguments.warmup) for name in ENDPOINTS]
        rounds = [
            measure(target, name, round_, arguments.duration)
            for round_ in range(1, arguments.rounds + 1)
            for name in ENDPOINTS
        ]
        if process.poll() is not None or get(port, "/ready")[0] != 200:
            raise BenchError(f"the server did not survive the run:\n{log_path.read_text()}")

    wrk_version = subprocess.run(
        [wrk, "--version"], capture_output=True, text=True, check=False
    ).stdout.split("Copyright")[0]
    python = os.path.relpath(sys.executable, Path.cwd())
    facts = Facts(
        started=started,
        cache=arguments.cache,
        command=shlex.join([python, os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]]),
        server_command=shown(uvicorn_command(port)),
        wrk_command=shown(wrk_command(replace(target, wrk="wrk"), "health", arguments.duration))
        + " (and "
        + ", ".join(path for name, path in ENDPOINTS.items() if name != "health")
        + ")",
        postgres=postgres,
        wrk_version=wrk_version.strip(),
        body_sizes=body_sizes,
        background=background,
        load_before=load_before,
    )
    section, status = report(facts, arguments, warmups, rounds)
    append_results(section)
    print("\n" + section)
    print(f"appended to {rel(RESULTS)}")
    return status


ROLLUP_HEADER = """\
# Plan tree with progress roll-up, on the synthetic full-size plan

Written by `bench/plan_api.py --synthetic` (see `bench/README.md`); each run appends a section.

Requirement: measured on one uvicorn worker with a load generator on loopback, the plan tree
with its progress roll-up and budget totals (`GET /v1/plan`) on the synthetic full-size plan
(5 axes, 23 ambitions, 51 objectives, 124 actions; `territoire synthetic`) reaches at least 30%
of the requests per second of `GET /health` of the same service, in the same run. Runs with the
response cache (`RESPONSE_CACHE=true`, the default) and without it (`--no-cache`) are both
reported: the cache serves repeated reads from memory until the database notifies a change.
"""


def use_synthetic_plan() -> None:
    """The roll-up variant: its own results file and target, and only the plan against health."""
    global RESULTS, TARGET, RESULTS_HEADER, MEASURED, ENDPOINTS
    RESULTS = BENCH / "results" / "plan_rollup.md"
    TARGET = 0.3
    RESULTS_HEADER = ROLLUP_HEADER
    MEASURED = ("plan",)
    ENDPOINTS = {"health": "/health", "plan": "/v1/plan"}


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    if arguments.synthetic:
        use_synthetic_plan()
    try:
        wrk = ensure_wrk()
    except (BenchError, subprocess.TimeoutExpired) as error:
        print(f"plan_api: {error}", file=sys.stderr)
        return 2
    # A hard bound on the whole run: set-up, warm-up, rounds, with a margin for each wrk start.
    runs = len(ENDPOINTS) * (arguments.rounds + 1)
    seconds = len(ENDPOINTS) * (arguments.warmup + arguments.rounds * arguments.duration)
    budget = 2 * SETUP_TIMEOUT + READY_TIMEOUT + seconds + 15 * runs
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(budget)
    try:
        return bench(arguments, wrk)
    except (BenchError, subprocess.TimeoutExpired, OSError) as error:
        print(f"plan_api: {error}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
