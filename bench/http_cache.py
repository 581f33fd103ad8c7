"""What a 304 costs against a full answer: GET /v1/plan with and without a matching If-None-Match.

Requirement: a 304 answer to a conditional GET of the plan tree costs at most 30% of a full
answer's time, as a ratio of requests per second measured in the same run; measured with the
response cache on and with it off.

The script recreates its database (migrated, CALL loaded, ANALYZE), then for each cache mode
starts one uvicorn worker, takes the ETag of GET /v1/plan, warms the requests up and runs wrk
against them in alternation for a few rounds: the full answer, the 304, and GET /health (the
service's cheapest route, for reference). The cost of a 304 relative to a full answer is
rps(full) / rps(304) of the medians. Last, the same uvicorn serves a bare ASGI app that answers
the same 304 doing nothing else (bench/asgi_floor.py): the floor of any request's cost here,
hence the least a 304 can cost relative to a full answer. A section is appended to
bench/results/http_cache.md; raw wrk output and the server logs go to bench/out/ (git-ignored).

With the cache on, the same server then answers the public GETs the website and harvesters
use, each warmed in the cache, beside /health (bench/http_cache_routes.py: ≥ 80% of /health).
A full answer is also measured gzipped (`Accept-Encoding: gzip`: the cached entry is the
compressed one). `--workers N` runs uvicorn with N workers (CPU is then that of the whole
process tree), `--port P` takes the first free port from P to P + 99.

Usage: .venv/bin/python bench/http_cache.py [--duration S] [--rounds N] [--connections N]
       [--workers N] [--port P] [--route-duration S]
Exit status: 0 target met in both modes, 1 missed in a mode, 2 invalid measurement or set-up
failure.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import http_cache_routes as routes
import plan_api as base

RESULTS = base.BENCH / "results" / "http_cache.md"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_i6_bench"
PATH = "/v1/plan"
TARGET = 0.30
PORT = 8163
FLOOR = "bare ASGI"


@dataclass
class Run:
    mode: str
    kind: str  # "full" or "304"
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    good: int
    bad: int
    server_ms: float
    server_cpu: float

    @property
    def valid(self) -> bool:
        return self.bad == 0 and self.good > 0


KINDS = ("full", "gzip", "304", "health")
PATHS = {"full": PATH, "gzip": PATH, "304": PATH, "health": "/health"}
HEADERS = {"gzip": ("Accept-Encoding: gzip",)}


@contextlib.contextmanager
def floor_server(
    port: int, log_path: Path, workers: int, body_size: int
) -> Iterator[subprocess.Popen[bytes]]:
    """bench/asgi_floor.py under the service's uvicorn command, ready; stopped on the way out:
    its full answer is `body_size` bytes long."""
    command = base.uvicorn_command(port, workers)
    at = command.index("--factory")
    command[at : at + 2] = ["--app-dir", str(base.BENCH), "asgi_floor:app"]
    print(f"$ {base.shown(command)}", flush=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=base.ROOT,
            env={**os.environ, "FLOOR_BODY_BYTES": str(body_size)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base.wait_ready(process, port, log_path)
            yield process
        finally:
            base.stop(process)


def wrk(
    wrk_path: str,
    port: int,
    path: str,
    etag: str | None,
    duration: int,
    connections: int,
    headers: tuple[str, ...] = (),
) -> list[str]:
    command = [
        wrk_path,
        "--threads=2",
        f"--connections={connections}",
        f"--duration={duration}s",
        f"--timeout={base.WRK_TIMEOUT}s",
        f"--script={base.WRK_SCRIPT}",
    ]
    if etag is not None:
        command.append(f"--header=If-None-Match: {etag}")
    command += [f"--header={header}" for header in headers]
    command.append(f"http://{base.HOST}:{port}{path}")
    if etag is not None:
        command += ["--", "304"]
    return command


def measure(
    wrk_path: str,
    port: int,
    pid: int,
    mode: str,
    kind: str,
    round_: int,
    etag: str,
    args: argparse.Namespace,
    duration: int,
) -> Run:
    conditional = etag if kind == "304" else None
    path, headers = PATHS.get(kind, kind), HEADERS.get(kind, ())
    if kind.startswith("route "):
        label_, path, *headers_ = kind.split("\0")
        kind, headers = label_.removeprefix("route "), tuple(headers_)
    command = wrk(wrk_path, port, path, conditional, duration, args.connections, headers)
    cpu_before = routes.tree_cpu_seconds(pid)
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    elapsed = time.monotonic() - started
    cpu = routes.tree_cpu_seconds(pid) - cpu_before
    label = "warmup" if round_ == 0 else f"round{round_}"
    (
        base.OUT / f"http_cache-{mode}-{label}-{kind.replace(' ', '_').replace(',', '')}.txt"
    ).write_text(result.stdout + result.stderr)
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not lines:
        raise base.BenchError(f"wrk exited {result.returncode}:\n{result.stdout}{result.stderr}")
    figures = json.loads(lines[-1].removeprefix("BENCH "))
    seconds = figures["duration_us"] / 1e6
    errors = sum(figures[f"{n}_errors"] for n in ("connect", "read", "write")) + figures["timeouts"]
    run = Run(
        mode=mode,
        kind=kind,
        round=round_,
        rps=figures["requests"] / seconds,
        p50_ms=figures["latency_p50_us"] / 1000,
        p99_ms=figures["latency_p99_us"] / 1000,
        good=figures["ok"],
        bad=figures["bad"] + errors,
        server_ms=cpu * 1000 / max(figures["requests"], 1),
        server_cpu=cpu / elapsed,
    )
    print(
        f"{mode:9} {label:7} {kind:15} {run.rps:9.1f} rps  p50 {run.p50_ms:6.2f} ms  "
        f"uvicorn {run.server_ms:.3f} ms/req{'  INVALID' if not run.valid else ''}",
        flush=True,
    )
    return run


def route_measure(wrk_path: str, port: int, pid: int, args: argparse.Namespace) -> routes.Measure:
    def measured(
        name: str, path: str, headers: tuple[str, ...], round_: int, seconds: int
    ) -> tuple[float, float, bool]:
        kind = "\0".join((f"route {name}", path, *headers))
        run = measure(wrk_path, port, pid, "cache on", kind, round_, "", args, seconds)
        return run.rps, run.server_ms, run.valid

    return measured


def etag_of(port: int) -> tuple[str, int]:
    connection = base.http.client.HTTPConnection(base.HOST, port, timeout=10)
    try:
        connection.request("GET", PATH)
        response = connection.getresponse()
        body = response.read()
        etag = response.getheader("etag")
        if response.status != 200 or not etag:
            raise base.BenchError(f"GET {PATH}: {response.status}, ETag {etag!r}")
        connection.request("GET", PATH, headers={"If-None-Match": etag})
        again = connection.getresponse()
        again.read()
        if again.status != 304:
            raise base.BenchError(f"conditional GET {PATH}: {again.status}, expected 304")
        return etag, len(body)
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--route-duration", type=int, default=4)
    args = parser.parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    base.OUT.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    wrk_path = base.ensure_wrk()
    env = {**os.environ, "DATABASE_URL": database_url}
    postgres = base.prepare_database(database_url, env)
    load_before = os.getloadavg()
    runs: list[Run] = []
    route_runs: list[routes.RouteRun] = []
    body_size = 0
    for mode, cache in (("cache on", "true"), ("cache off", "false")):
        port = routes.port_in_range(args.port)
        log = base.OUT / f"http_cache-server-{cache}.log"
        server_env = {**env, "RESPONSE_CACHE": cache}
        with base.server(port, server_env, log, args.workers) as process:
            etag, body_size = etag_of(port)
            for kind in KINDS:
                measure(wrk_path, port, process.pid, mode, kind, 0, etag, args, args.warmup)
            for round_ in range(1, args.rounds + 1):
                for kind in KINDS:
                    runs.append(
                        measure(
                            wrk_path,
                            port,
                            process.pid,
                            mode,
                            kind,
                            round_,
                            etag,
                            args,
                            args.duration,
                        )
                    )
            if cache == "true":
                measured = route_measure(wrk_path, port, process.pid, args)
                route_runs = routes.run_routes(port, measured, args.rounds, args.route_duration)
    port = routes.port_in_range(args.port)
    floor_log = base.OUT / "http_cache-server-floor.log"
    with floor_server(port, floor_log, args.workers, body_size) as process:
        for kind in ("full", "304"):
            measure(wrk_path, port, process.pid, FLOOR, kind, 0, etag, args, args.warmup)
        for round_ in range(1, args.rounds + 1):
            for kind in ("full", "304"):
                run = measure(
                    wrk_path, port, process.pid, FLOOR, kind, round_, etag, args, args.duration
                )
                runs.append(run)
    section, status = report(started, runs, args, postgres, body_size, load_before)
    route_lines, routes_met = routes.report(route_runs, args.route_duration)
    if any(not run.valid for run in route_runs):
        status = 2
    elif not routes_met and status == 0:
        status = 1
    section = section.rstrip("\n") + "\n" + "\n".join(route_lines) + "\n\n"
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open("a") as results:
        results.write(section)
    print(section)
    return status


HEADER = """\
# What a 304 costs against a full answer

Requirement: a 304 answer to a conditional GET of the plan tree (`GET /v1/plan` with a matching
`If-None-Match`) costs at most 30% of a full answer's time, as the ratio of requests per second
measured in the same run, with the response cache on and off. Produced by `bench/http_cache.py`.

"""


def commit() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=base.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip() or "unknown"


def report(
    started: datetime,
    runs: list[Run],
    args: argparse.Namespace,
    postgres: str,
    body_size: int,
    load_before: tuple[float, float, float],
) -> tuple[str, int]:
    invalid = [run for run in runs if not run.valid]
    lines = [
        f"## {started:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"- nproc: {base.NPROC}; {postgres.split(',')[0]}; load average before "
        + ", ".join(f"{v:.2f}" for v in load_before),
        f"- command: `.venv/bin/python bench/http_cache.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"- code: {commit()}",
        f"- uvicorn with {args.workers} worker(s) on 127.0.0.1 (port {args.port} or the next "
        "free one), wrk with 2 threads and "
        f"{args.connections} connections on the same machine; {args.rounds} rounds of "
        f"{args.duration} s per request kind after a {args.warmup} s warm-up",
        f"- full answer: `GET {PATH}`, {body_size:,} B of JSON (no Accept-Encoding: not "
        "compressed); gzip: the same with `Accept-Encoding: gzip`; 304: the same as full with "
        "`If-None-Match` set to its ETag",
        "",
        "| cache | round | request | rps | p50 ms | p99 ms | good | bad | uvicorn ms/req |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run.mode} | {run.round} | {run.kind} | {run.rps:,.1f} | {run.p50_ms:.2f} | "
            f"{run.p99_ms:.2f} | {run.good:,} | {run.bad} | {run.server_ms:.3f} |"
        )

    def median(mode: str, kind: str, field: str = "rps") -> float:
        return statistics.median(
            getattr(r, field) for r in runs if r.mode == mode and r.kind == kind
        )

    floor = median(FLOOR, "304")
    lines += [
        "",
        "| cache | full rps | gzip rps | 304 rps | /health rps | 304 cost / full cost (rps) | "
        "by uvicorn CPU per request | 304 / gzip (rps) | least possible: bare 304 / full (rps) "
        "| (CPU) | target | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    floor_cpu = median(FLOOR, "304", "server_ms")
    met = True
    for mode in ("cache on", "cache off"):
        full, cheap = median(mode, "full"), median(mode, "304")
        ratio = full / cheap
        cpu = median(mode, "304", "server_ms") / median(mode, "full", "server_ms")
        met = met and ratio <= TARGET
        lines.append(
            f"| {mode} | {full:,.1f} | {median(mode, 'gzip'):,.1f} | {cheap:,.1f} | "
            f"{median(mode, 'health'):,.1f} | {ratio:.1%} | {cpu:.1%} | "
            f"{median(mode, 'gzip') / cheap:.1%} | {full / floor:.1%} | "
            f"{floor_cpu / median(mode, 'full', 'server_ms'):.1%} | ≤ {TARGET:.0%} | "
            f"{'pass' if ratio <= TARGET else 'FAIL'} |"
        )
    lines += [
        "",
        f"Medians over the rounds. The bare ASGI app (bench/asgi_floor.py: the same 304, nothing "
        f"else, same uvicorn) answers {floor:,.1f} rps, {floor_cpu:.3f} "
        "ms of uvicorn CPU per request: no 304 can cost less than that here, so a full answer "
        "that costs little more than it (cached) cannot be answered with a 304 for much less.",
        "",
        f"The physical limit: the same bare app answering {body_size:,} B without "
        f"If-None-Match does {median(FLOOR, 'full'):,.1f} rps, "
        f"{median(FLOOR, 'full', 'server_ms'):.3f} ms of uvicorn CPU per request; bare 304 / "
        f"bare full: {median(FLOOR, 'full') / floor:.1%} by rps, "
        f"{floor_cpu / median(FLOOR, 'full', 'server_ms'):.1%} by CPU. No server here, "
        "whatever it does per request, can show a cached full answer and its 304 further apart.",
    ]
    lines += [
        "",
        "Every response was checked by wrk_report.lua: the full answers and /health must be "
        "200, the conditional ones 304."
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
