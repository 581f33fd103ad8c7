"""The OGC API – Features of initiatives against tipg, on 1 000 000 synthetic initiatives.

Requirement (ratios of requests per second, ours over tipg's, measured in the same run, the same
number of uvicorn workers each, wrk on loopback, response cache off):
    random ~500 m bbox, limit 100           >= 8, and >= 50% of PostgreSQL's own rate for the
                                               same statement (pgbench, same connections)
    first page of the collection, limit 100 >= 25
    the 5 000th page of 100 (`next` for us, `offset` for tipg) >= 100
    one feature by id                        >= 4
    a vector tile at zoom 14 over Lens       >= 4, our tile under 150 kB
and the whole collection exported as GeoJSON by following `next` with limit=10000 keeps the
server's peak memory (VmHWM) under 200 MB.

The script recreates its database, migrates it, loads data/call, generates the synthetic
initiatives with `territoire synthesize`, starts both servers, then runs wrk against each
scenario, alternating the two servers (and pgbench, for the bbox page), for a few rounds. A
section is appended to bench/results/ogc_features.md; raw output goes to bench/out/.

Usage: .venv/bin/python bench/ogc_features.py [--duration S] [--rounds N] [--workers N]
       [--port P] [--only bbox,feature] [--no-export] [--reuse-database]
Exit status: 0 all targets met, 1 one missed, 2 invalid measurement or set-up failure.
"""

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import plan_api as common  # noqa: E402  (the shared helpers: CPU accounting, wrk, processes)
from http_cache_routes import tree_cpu_seconds  # noqa: E402

ROOT = BENCH.parent
OUT = BENCH / "out"
RESULTS = BENCH / "results" / "ogc_features.md"
TIPG_VENV = BENCH / ".tipg-venv"
TIPG_VERSION = "1.6.1"
DATABASE = "territoire_i4_bench"
TIPG_INDEX = "bench_tipg_initiative_geometry"
DEFAULT_DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"
HOST = "127.0.0.1"
PORTS = {"ours": 8143, "tipg": 8144}  # --port moves both
COUNT = 1_000_000
PAGE = 100
DEEP_PAGE = 5_000
EXPORT_LIMIT = 10_000
MEMORY_LIMIT_MB = 200
# Lens, zoom 14 (WebMercatorQuad): column 8320, row 5526.
TILE = (14, 8320, 5526)
BOX_DEGREES = (0.007, 0.0045)  # about 500 m by 500 m at 50.4°N
TARGETS = {"bbox": 8.0, "first": 25.0, "deep": 100.0, "feature": 4.0, "tile": 4.0}
PGBENCH_SHARE = 0.5  # the bbox page: ours at least this share of pgbench's rate
TILE_LIMIT_BYTES = 150_000  # for a tile of about TYPICAL_POINTS points
TYPICAL_POINTS = 4_000
WRK_TIMEOUT = 60


class BenchError(Exception):
    pass


def plain(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def get(port: int, path: str, timeout: float = 120) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def shown(command: list[str]) -> str:
    return common.shown(command)


# --- set-up --------------------------------------------------------------------------------------


def prepare_database(url: str, env: dict[str, str]) -> dict[str, str]:
    python = str(common.VENV_BIN / "python")
    common.run([python, "scripts/pgtool.py", "create-db", plain(url), "--recreate"], env)
    common.run([str(common.VENV_BIN / "alembic"), "upgrade", "head"], env)
    common.run([str(common.VENV_BIN / "territoire"), "load", "data/call"], env)
    started = time.monotonic()
    command = [str(common.VENV_BIN / "territoire"), "synthesize", "--count", str(COUNT)]
    output = common.run(command, env, timeout=1800)
    seconds = time.monotonic() - started
    print(output, end="")
    return {"synthesize": shown(command), "synthesize_seconds": f"{seconds:.0f}"}


async def database_facts(url: str) -> dict[str, object]:
    connection = await asyncpg.connect(plain(url))
    try:
        # Our geometry indexes cover the published rows only (all we serve); tipg serves every
        # row, so it is given a spatial index over all of them, to be compared at its best.
        await connection.execute(
            f"CREATE INDEX IF NOT EXISTS {TIPG_INDEX} ON initiative USING gist (geometry)"
        )
        await connection.execute("VACUUM ANALYZE")
        facts: dict[str, object] = {
            "version": await connection.fetchval("SELECT version()"),
            "rows": await connection.fetchval("SELECT count(*) FROM initiative"),
            "published": await connection.fetchval(
                "SELECT count(*) FROM initiative WHERE status = 'published'"
            ),
            "size": await connection.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('initiative'))"
            ),
            # The 5 000th page of 100: what follows the 499 900th published initiative.
            "deep_after": await connection.fetchval(
                "SELECT id FROM initiative WHERE status = 'published' ORDER BY id "
                "OFFSET $1 LIMIT 1",
                (DEEP_PAGE - 1) * PAGE - 1,
            ),
            "feature": await connection.fetchval(
                "SELECT id FROM initiative WHERE status = 'published' ORDER BY id OFFSET 437000 "
                "LIMIT 1"
            ),
            "extent": list(
                await connection.fetchrow(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                    "(SELECT ST_Extent(boundary) AS e FROM commune) AS x"
                )
            ),
        }
        return facts
    finally:
        await connection.close()


def ensure_tipg() -> Path:
    uvicorn = TIPG_VENV / "bin" / "uvicorn"
    if uvicorn.exists():
        return uvicorn
    common.run([sys.executable, "-m", "venv", str(TIPG_VENV)])
    pip = str(TIPG_VENV / "bin" / "pip")
    common.run([pip, "install", "--quiet", f"tipg=={TIPG_VERSION}", "uvicorn[standard]==0.54.0"])
    return uvicorn


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path, ready: tuple[int, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    print(f"$ {shown(command)}", flush=True)
    with log.open("wb") as handle:
        started = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if started.poll() is not None:
                    raise BenchError(f"{command[0]} exited:\n{log.read_text()}")
                with contextlib.suppress(OSError):
                    if get(ready[0], ready[1], timeout=5)[0] == 200:
                        break
                if time.monotonic() > deadline:
                    raise BenchError(f"{command[0]} not ready:\n{log.read_text()}")
                time.sleep(0.3)
            yield started
        finally:
            common.stop(started)


def uvicorn_args(port: int, workers: int) -> list[str]:
    return [
        "--host", HOST, "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


# --- scenarios -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    ours: str  # a path, or a path template for the bbox script
    tipg: str
    duration_factor: float = 1.0
    connections: int | None = None  # fewer for a slow scenario, the same for both servers


def follow_next(limit: int, pages: int) -> tuple[str, float]:
    """The path of page `pages` + 1, reached by following `next` links from the first page."""
    path = f"/ogc/collections/initiatives/items?limit={limit}"
    started = time.monotonic()
    for _ in range(pages):
        status, _, body = get(PORTS["ours"], path)
        if status != 200:
            raise BenchError(f"GET {path}: {status}")
        links = [x for x in json.loads(body)["links"] if x["rel"] == "next"]
        if not links:
            raise BenchError("the collection ended before the deep page")
        parts = urlsplit(links[0]["href"])
        path = f"{parts.path}?{parts.query}"
    return path, time.monotonic() - started


def scenarios(facts: dict[str, object], deep_path: str) -> list[Scenario]:
    ours_items = "/ogc/collections/initiatives/items"
    tipg_items = "/collections/public.initiative/items"
    z, x, y = TILE
    feature = facts["feature"]
    return [
        Scenario(
            "bbox",
            "random ~500 m bbox, limit 100",
            ours_items + f"?limit={PAGE}&bbox=%.6f,%.6f,%.6f,%.6f",
            tipg_items + f"?limit={PAGE}&bbox=%.6f,%.6f,%.6f,%.6f",
        ),
        Scenario(
            "first",
            "first page, limit 100",
            f"{ours_items}?limit={PAGE}",
            f"{tipg_items}?limit={PAGE}",
        ),
        Scenario(
            "deep",
            "5 000th page of 100 (`next` for us, `offset` for tipg)",
            deep_path,
            f"{tipg_items}?limit={PAGE}&offset={(DEEP_PAGE - 1) * PAGE}",
            duration_factor=2.0,
            connections=4,
        ),
        Scenario(
            "feature", "one feature by id", f"{ours_items}/{feature}", f"{tipg_items}/{feature}"
        ),
        Scenario(
            "tile",
            "vector tile z14 over Lens",
            f"/ogc/collections/initiatives/tiles/WebMercatorQuad/{z}/{y}/{x}",
            f"/collections/public.initiative/tiles/WebMercatorQuad/{z}/{x}/{y}",
        ),
    ]


@dataclass
class Run:
    scenario: str
    server: str
    round: int
    measure: common.Measure


def wrk(
    wrk_path: str,
    scenario: Scenario,
    server: str,
    port: int,
    duration: int,
    threads: int,
    connections: int,
    extent: list[float],
) -> list[str]:
    path = scenario.ours if server == "ours" else scenario.tipg
    base = [
        wrk_path,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration}s",
        f"--timeout={WRK_TIMEOUT}s",
    ]
    if scenario.name == "bbox":
        args = [str(v) for v in (*extent, *BOX_DEGREES)]
        return [
            *base,
            f"--script={BENCH / 'wrk_bbox.lua'}",
            f"http://{HOST}:{port}/",
            "--",
            path,
            *args,
        ]
    return [*base, f"--script={common.WRK_SCRIPT}", f"http://{HOST}:{port}{path}"]


async def _active_queries(url: str, cancel: bool) -> int:
    connection = await asyncpg.connect(plain(url))
    try:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row["pid"] for row in await connection.fetch(query, DATABASE)]
        if cancel:
            for pid in pids:
                await connection.execute("SELECT pg_cancel_backend($1)", pid)
        return len(pids)
    finally:
        await connection.close()


def wait_idle(url: str, limit: float = 300) -> float:
    """Wait until no statement runs on the bench database: a server whose client went away
    may still be running its queries (tipg does not cancel them), which would load the next run.
    Seconds waited; queries still running after `limit` are cancelled."""
    started = time.monotonic()
    while asyncio.run(_active_queries(url, cancel=False)):
        if time.monotonic() - started > limit:
            asyncio.run(_active_queries(url, cancel=True))
            break
        time.sleep(0.5)
    return time.monotonic() - started


def measure(command: list[str], label: str, pid: int) -> common.Measure:
    """One wrk run, with the CPU of each party, as bench/plan_api.py measures it."""
    waited = wait_idle(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    if waited > 1:
        print(f"  (waited {waited:.0f} s for the database to finish earlier queries)", flush=True)
    server_before = tree_cpu_seconds(pid) if pid else 0.0
    postgres_before = common.backends_cpu_seconds(DATABASE)
    wrk_before = common.children_cpu_seconds()
    ticks_before = common.machine_ticks()
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    elapsed = time.monotonic() - started
    busy, steal = common.cores_used(ticks_before, common.machine_ticks())
    server_seconds = (tree_cpu_seconds(pid) if pid else 0.0) - server_before
    postgres = sum(
        seconds - postgres_before.get(p, 0)
        for p, seconds in common.backends_cpu_seconds(DATABASE).items()
    )
    (OUT / f"ogc_features-{label}.txt").write_text(result.stdout + result.stderr)
    if command[0].endswith("pgbench"):
        figures = pgbench_figures(result, label)
    else:
        lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
        if result.returncode != 0 or not lines:
            raise BenchError(f"wrk exited {result.returncode}:\n{result.stdout}{result.stderr}")
        figures = json.loads(lines[-1].removeprefix("BENCH "))
    socket_errors = {name: figures[f"{name}_errors"] for name in ("connect", "read", "write")}
    socket_errors["timeout"] = figures["timeouts"]
    wrk_cpu = (common.children_cpu_seconds() - wrk_before) / elapsed
    found = common.Measure(
        endpoint=label,
        round=0,
        requests=figures["requests"],
        duration_s=figures["duration_us"] / 1e6,
        ok=figures["ok"],
        bad=figures["bad"],
        bad_status=figures["bad_status"],
        socket_errors=socket_errors,
        p50_ms=figures["latency_p50_us"] / 1000,
        p99_ms=figures["latency_p99_us"] / 1000,
        max_ms=figures["latency_max_us"] / 1000,
        megabytes=figures["bytes"] / 1e6,
        server_cpu=server_seconds / elapsed,
        wrk_cpu=wrk_cpu,
        postgres_cpu=postgres / elapsed,
        others_cpu=max(busy - server_seconds / elapsed - wrk_cpu - postgres / elapsed, 0),
        steal=steal,
        server_ms=server_seconds * 1000 / max(figures["requests"], 1),
    )
    if found.requests == 0:
        found.problems.append("no request completed")
    if found.bad:
        found.problems.append(f"{found.bad} responses not 2xx (e.g. {found.bad_status})")
    if any(socket_errors.values()):
        found.problems.append(f"socket errors {socket_errors}")
    print(
        f"{label:28} {found.rps:9.1f} rps  p50 {found.p50_ms:8.2f} ms  p99 {found.p99_ms:8.2f} ms"
        f"  uvicorn {found.server_cpu:.2f} postgres {found.postgres_cpu:.2f}"
        f"{'  INVALID: ' + '; '.join(found.problems) if found.problems else ''}",
        flush=True,
    )
    return found


# --- PostgreSQL alone: the bbox page's statement under pgbench -----------------------------------


def pgbench_script(extent: list[float]) -> str:
    """The statement the service runs for a random ~500 m bbox page of 100, built by the
    service's own code (app.services.features, app.repositories.features), its parameters drawn
    by pgbench as wrk_bbox.lua draws them."""
    sys.path.insert(0, str(ROOT))
    from app.repositories.collections import COLLECTIONS
    from app.repositories.features import page_sql
    from app.services.crs import crs
    from app.services.features import build_query

    collection = COLLECTIONS["initiatives"]
    query = build_query(collection, output=crs(None, "crs"), limit=PAGE, bbox="0,0,1,1")
    sql = page_sql(
        collection,
        query.output.output,
        query.conditions,
        query.params,
        after=None,
        offset=0,
        limit=query.limit,
    )
    if len(query.params.values) != 5:
        raise BenchError(f"the bbox page has {len(query.params.values)} parameters, not 5")
    xmin, ymin, xmax, ymax = extent
    width, height = BOX_DEGREES
    span_x = int((xmax - xmin - width) * 1e6)
    span_y = int((ymax - ymin - height) * 1e6)
    lines = [
        f"\\set p1 {xmin} + random(0, {span_x}) * 0.000001",
        f"\\set p2 {ymin} + random(0, {span_y}) * 0.000001",
        f"\\set p3 :p1 + {width}",
        f"\\set p4 :p2 + {height}",
        f"\\set p5 {query.limit}",
        re.sub(r"\$(\d+)", r":p\1", sql) + ";",
    ]
    return "\n".join(lines) + "\n"


def pgbench_command(
    script: Path, database_url: str, connections: int, threads: int, duration: int, label: str
) -> list[str]:
    parts = urlsplit(plain(database_url))
    return [
        "pgbench", "--no-vacuum", "--protocol=prepared", f"--client={connections}",
        f"--jobs={threads}", f"--time={duration}", f"--file={script}", "--log",
        f"--log-prefix={OUT / ('pgbench-' + label)}", f"--host={parts.hostname}",
        f"--port={parts.port or 5432}", f"--username={parts.username or 'postgres'}",
        parts.path.lstrip("/"),
    ]  # fmt: skip


def pgbench_figures(result: subprocess.CompletedProcess[str], label: str) -> dict[str, Any]:
    """wrk_report.lua's figures, from pgbench's summary and its per-transaction logs."""
    if result.returncode != 0:
        raise BenchError(f"pgbench exited {result.returncode}:\n{result.stdout}{result.stderr}")
    done = re.search(r"number of transactions actually processed: (\d+)", result.stdout)
    tps = re.search(r"tps = ([0-9.]+)", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    if not done or not tps:
        raise BenchError(f"pgbench printed no figures:\n{result.stdout}")
    latencies: list[int] = []
    for log in OUT.glob(f"pgbench-{label}.*"):
        latencies += [int(line.split()[2]) for line in log.read_text().splitlines() if line]
        log.unlink()
    latencies.sort()
    requests = int(done.group(1))

    def quantile(q: float) -> int:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0

    return {
        "requests": requests,
        "duration_us": requests / max(float(tps.group(1)), 1e-9) * 1e6,
        "ok": requests,
        "bad": int(failed.group(1)) if failed else 0,
        "bad_status": 0,
        "connect_errors": 0,
        "read_errors": 0,
        "write_errors": 0,
        "timeouts": 0,
        "latency_p50_us": quantile(0.5),
        "latency_p99_us": quantile(0.99),
        "latency_max_us": latencies[-1] if latencies else 0,
        "bytes": 0,
    }


async def tile_points(url: str) -> dict[str, object]:
    """How many published initiatives the benchmarked tile holds, and the z14 tile whose count
    is nearest to TYPICAL_POINTS (the size target's tile)."""
    z, x, y = TILE
    connection = await asyncpg.connect(plain(url))
    try:
        points = await connection.fetchval(
            "SELECT count(*) FROM initiative WHERE status = 'published' AND ST_Intersects("
            "ST_Transform(geometry, 3857), ST_TileEnvelope($1, $2, $3))",
            z,
            x,
            y,
        )
        side = 40075016.685578488 / 2**z
        typical = await connection.fetchrow(
            "SELECT tx, ty, count(*) AS n FROM (SELECT "
            "floor((ST_X(ST_Centroid(geometry_mercator)) + 20037508.342789244) / $1)::int AS tx, "
            "floor((20037508.342789244 - ST_Y(ST_Centroid(geometry_mercator))) / $1)::int AS ty "
            "FROM initiative WHERE status = 'published') AS cells "
            "GROUP BY tx, ty ORDER BY abs(count(*) - $2) LIMIT 1",
            side,
            TYPICAL_POINTS,
        )
        return {
            "points": int(points),
            "typical": (int(typical["tx"]), int(typical["ty"]), int(typical["n"])),
        }
    finally:
        await connection.close()


def tile_answers(plan: list[Scenario], typical: tuple[int, int, int]) -> dict[str, object]:
    """Our tile's size plain and gzipped, its validator, and its 304; the size of the tile of
    about TYPICAL_POINTS points, plain and gzipped."""
    (scenario,) = [s for s in plan if s.name == "tile"]
    column, row, _ = typical
    typical_path = f"/ogc/collections/initiatives/tiles/WebMercatorQuad/{TILE[0]}/{row}/{column}"
    connection = http.client.HTTPConnection(HOST, PORTS["ours"], timeout=120)
    try:
        connection.request("GET", typical_path)
        typical_body = connection.getresponse().read()
        connection.request("GET", typical_path, headers={"Accept-Encoding": "gzip"})
        typical_packed = connection.getresponse().read()
        connection.request("GET", scenario.ours)
        plain_answer = connection.getresponse()
        body = plain_answer.read()
        tag = plain_answer.getheader("ETag") or ""
        connection.request("GET", scenario.ours, headers={"Accept-Encoding": "gzip"})
        packed = connection.getresponse()
        packed_body = packed.read()
        connection.request("GET", scenario.ours, headers={"If-None-Match": tag})
        revalidated = connection.getresponse()
        revalidated.read()
    finally:
        connection.close()
    return {
        "typical_path": typical_path,
        "typical_bytes": len(typical_body),
        "typical_gzip_bytes": len(typical_packed),
        "bytes": len(body),
        "gzip_bytes": len(packed_body) if packed.getheader("Content-Encoding") == "gzip" else 0,
        "etag": tag,
        "strong": tag.startswith('"'),
        "not_modified": revalidated.status == 304,
    }


def peak_memory_mb(pid: int) -> float:
    """The highest VmHWM of the process and of its children (uvicorn's workers)."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                peak = max(peak, peak_memory_mb(int(child)))
    return peak


def export_everything(pid: int) -> dict[str, float]:
    """Follow `next` with limit=10000 to the end, counting features, under the peak-RSS gauge."""
    before = peak_memory_mb(pid)
    path = f"/ogc/collections/initiatives/items?limit={EXPORT_LIMIT}"
    features = pages = 0
    size = 0
    started = time.monotonic()
    while path:
        status, _, body = get(PORTS["ours"], path)
        if status != 200:
            raise BenchError(f"GET {path}: {status}")
        document = json.loads(body)
        features += len(document["features"])
        size += len(body)
        pages += 1
        links = [x for x in document["links"] if x["rel"] == "next"]
        path = ""
        if links:
            parts = urlsplit(links[0]["href"])
            path = f"{parts.path}?{parts.query}"
    return {
        "features": features,
        "pages": pages,
        "megabytes": size / 1e6,
        "seconds": time.monotonic() - started,
        "peak_before_mb": before,
        "peak_after_mb": peak_memory_mb(pid),
    }


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, both servers")
    parser.add_argument(
        "--port", type=int, default=PORTS["ours"], help="ours; tipg takes the next one"
    )
    parser.add_argument("--only", default="", help="comma-separated scenarios (default: all)")
    parser.add_argument("--no-export", action="store_true", help="skip the whole-export check")
    parser.add_argument(
        "--reuse-database",
        action="store_true",
        help="keep the bench database if it already holds the synthetic initiatives",
    )
    arguments = parser.parse_args()
    PORTS.update(ours=arguments.port, tipg=arguments.port + 1)
    OUT.mkdir(exist_ok=True)
    started_at = datetime.now(UTC)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = {**os.environ, "DATABASE_URL": database_url, "RESPONSE_CACHE": "false"}
    wrk_path = common.ensure_wrk()
    tipg_uvicorn = ensure_tipg()
    setup: dict[str, str] = {}
    if not arguments.reuse_database:
        setup = prepare_database(database_url, env)
    facts = asyncio.run(database_facts(database_url))
    if int(str(facts["rows"])) < COUNT:
        raise BenchError(f"the bench database holds {facts['rows']} initiatives, not {COUNT}")
    load_before = os.getloadavg()
    background = common.background_cores()

    ours_command = [
        str(common.VENV_BIN / "uvicorn"),
        "--factory",
        "app.main:create_app",
        *uvicorn_args(PORTS["ours"], arguments.workers),
    ]
    tipg_env = {
        **os.environ,
        "DATABASE_URL": plain(database_url),
        "TIPG_DB_TABLES": '["public.initiative"]',
    }
    tipg_command = [
        str(tipg_uvicorn), "tipg.main:app", *uvicorn_args(PORTS["tipg"], arguments.workers)
    ]  # fmt: skip
    runs: list[Run] = []
    with (
        process(
            ours_command, env, OUT / "ogc_features-ours.log", (PORTS["ours"], "/ready"), ROOT
        ) as ours,
        process(
            tipg_command,
            tipg_env,
            OUT / "ogc_features-tipg.log",
            (PORTS["tipg"], "/healthz"),
            BENCH,
        ) as tipg,
    ):
        wanted = arguments.only.split(",") if arguments.only else list(TARGETS)
        deep_path, deep_seconds = "", 0.0
        if "deep" in wanted:
            deep_path, deep_seconds = follow_next(PAGE, DEEP_PAGE - 1)
            _, _, deep_body = get(PORTS["ours"], deep_path)
            first_id = json.loads(deep_body)["features"][0]["id"]
            expected_after = int(str(facts["deep_after"]))
            check = asyncio.run(_first_after(database_url, expected_after))
            if first_id != check:
                raise BenchError(f"page {DEEP_PAGE} starts at {first_id}, SQL says {check}")
        plan = [scenario for scenario in scenarios(facts, deep_path) if scenario.name in wanted]
        pids = {"ours": ours.pid, "tipg": tipg.pid, "pgbench": 0}
        ports = dict(PORTS)
        sizes: dict[str, int] = {}
        for scenario in plan:
            for server in ("ours", "tipg"):
                path = scenario.ours if server == "ours" else scenario.tipg
                if scenario.name == "bbox":
                    path = path % (2.82, 50.42, 2.827, 50.4245)
                status, _headers, body = get(ports[server], path)
                if status != 200:
                    raise BenchError(f"{server} GET {path}: {status} {body[:200]!r}")
                sizes[f"{scenario.name} {server}"] = len(body)
        extent = [float(v) for v in facts["extent"]]  # type: ignore[attr-defined]
        tile_facts = asyncio.run(tile_points(database_url)) if "tile" in wanted else {}
        if "tile" in wanted:
            tile_facts.update(tile_answers(plan, tile_facts["typical"]))  # type: ignore[arg-type]
        script = OUT / "ogc_features-bbox.pgbench"
        script.write_text(pgbench_script(extent))

        def command_for(scenario: Scenario, server: str, duration: int, label: str) -> list[str]:
            connections = scenario.connections or arguments.connections
            if server == "pgbench":
                return pgbench_command(
                    script, database_url, connections, arguments.threads, duration, label
                )
            return wrk(
                wrk_path,
                scenario,
                server,
                ports[server],
                duration,
                arguments.threads,
                connections,
                extent,
            )

        def parties(scenario: Scenario, round_: int) -> tuple[str, ...]:
            order = ("ours", "tipg") if round_ % 2 else ("tipg", "ours")
            return (*order, "pgbench") if scenario.name == "bbox" else order

        for scenario in plan:
            for server in parties(scenario, 1):
                label = f"warmup-{scenario.name}-{server}"
                command = command_for(scenario, server, arguments.warmup, label)
                measure(command, label, pids[server])
        for round_ in range(1, arguments.rounds + 1):
            for scenario in plan:
                duration = round(arguments.duration * scenario.duration_factor)
                for server in parties(scenario, round_):
                    label = f"round{round_}-{scenario.name}-{server}"
                    command = command_for(scenario, server, duration, label)
                    runs.append(
                        Run(scenario.name, server, round_, measure(command, label, pids[server]))
                    )
        export = {} if arguments.no_export else export_everything(ours.pid)
        commands = {
            name: shown(
                wrk(
                    wrk_path,
                    scenario,
                    name,
                    ports[name],
                    arguments.duration,
                    arguments.threads,
                    scenario.connections or arguments.connections,
                    extent,
                )
            )
            for scenario in plan[:1]
            for name in ("ours", "tipg")
        }
        if "bbox" in wanted:
            commands["pgbench"] = shown(
                command_for(plan[0], "pgbench", arguments.duration, "bbox-pgbench")
            )
    text, status = report(
        started_at,
        arguments,
        facts,
        setup,
        plan,
        runs,
        export,
        sizes,
        commands,
        (ours_command, tipg_command),
        tile_facts,
        deep_seconds,
        background,
        load_before,
    )
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open("a") as handle:
        handle.write("\n" + text)
    print(text)
    return status


async def _first_after(url: str, after: int) -> int:
    connection = await asyncpg.connect(plain(url))
    try:
        return int(
            await connection.fetchval(
                "SELECT id FROM initiative WHERE status = 'published' AND id > $1 ORDER BY id "
                "LIMIT 1",
                after,
            )
        )
    finally:
        await connection.close()


HEADER = """# OGC API – Features of initiatives, against tipg

Written by `bench/ogc_features.py` (see `bench/README.md`); each run appends a section.
"""


def report(
    started_at: datetime,
    arguments: argparse.Namespace,
    facts: dict[str, object],
    setup: dict[str, str],
    plan: list[Scenario],
    runs: list[Run],
    export: dict[str, float],
    sizes: dict[str, int],
    commands: dict[str, str],
    servers: tuple[list[str], list[str]],
    tile_facts: dict[str, object],
    deep_seconds: float,
    background: float,
    load_before: tuple[float, float, float],
) -> tuple[str, int]:
    invalid = [r for r in runs if not r.measure.valid]
    ratios: dict[str, float] = {}
    medians: dict[tuple[str, str], float] = {}
    for scenario in plan:
        for server in ("ours", "tipg", "pgbench"):
            found = [
                r.measure.rps for r in runs if r.scenario == scenario.name and r.server == server
            ]
            if found:
                medians[(scenario.name, server)] = statistics.median(found)
        ratios[scenario.name] = medians[(scenario.name, "ours")] / max(
            medians[(scenario.name, "tipg")], 1e-9
        )
    share = (
        medians[("bbox", "ours")] / max(medians[("bbox", "pgbench")], 1e-9)
        if ("bbox", "pgbench") in medians
        else None
    )
    memory_ok = not export or export["peak_after_mb"] < MEMORY_LIMIT_MB
    complete = not export or int(export["features"]) == int(str(facts["published"]))
    tile_ok = not tile_facts or (
        int(str(tile_facts["typical_bytes"])) < TILE_LIMIT_BYTES
        and bool(tile_facts["strong"])
        and bool(tile_facts["not_modified"])
        and int(str(tile_facts["gzip_bytes"])) > 0
    )
    met = (
        all(ratios[name] >= TARGETS[name] for name in ratios)
        and (share is None or share >= PGBENCH_SHARE)
        and memory_ok
        and complete
        and tile_ok
    )
    verdict, status = ("INVALID", 2) if invalid else (("PASS", 0) if met else ("FAIL", 1))
    commit = common.commit()
    lines = [
        f"## {started_at:%Y-%m-%d %H:%M:%S} UTC — {verdict}",
        "",
        f"- machine: {common.NPROC} cores, shared by wrk, the server under test and PostgreSQL; "
        f"{background:.2f} cores busy with other work before the run; load average "
        + ", ".join(f"{v:.2f}" for v in load_before),
        f"- {str(facts['version']).split(',')[0]}; code {commit}; tipg {TIPG_VERSION} in "
        "bench/.tipg-venv (same uvicorn, uvloop and httptools versions)",
        f"- data: {facts['rows']:,} initiatives ({facts['published']:,} published), "
        f"table and indexes {facts['size']}"
        + (
            f"; generated by `{setup['synthesize']}` in {setup['synthesize_seconds']} s"
            if setup
            else " (database reused)"
        ),
        "- command: `.venv/bin/python bench/ogc_features.py " + " ".join(sys.argv[1:]) + "`",
        f"- {arguments.workers} uvicorn worker(s) for each server",
        f"- ours: `{shown(servers[0])}` with `RESPONSE_CACHE=false` (every request reads the "
        "database: the comparison is of query paths)",
        f"- tipg: `{shown(servers[1])}` with `TIPG_DB_TABLES='[\"public.initiative\"]'`, "
        "serving the same table from the same database (all rows: it knows nothing of "
        "moderation, so it pages over 1 000 000 rows where we page over the published ones; "
        f"given its own spatial index over all rows, `{TIPG_INDEX}`)",
        f"- wrk: {arguments.threads} threads, {arguments.connections} connections (4 for the "
        "deep page, on both servers), "
        f"{arguments.duration} s per run ({arguments.duration * 2} s for the deep page), "
        f"{arguments.warmup} s warm-up each, {arguments.rounds} rounds alternating the servers; "
        f"e.g. `{commands['ours']}` and `{commands['tipg']}`",
        "- between two runs the bench waits until no statement runs on the database (tipg's "
        "abandoned queries would otherwise load the next run)",
        (
            f"- deep page: reached by following `next` {DEEP_PAGE - 1} times with limit={PAGE} "
            f"({deep_seconds:.1f} s); its first feature checked against SQL (OFFSET "
            f"{(DEEP_PAGE - 1) * PAGE} over the published rows)"
            if deep_seconds
            else "- deep page: not run"
        ),
        (
            f"- pgbench: the bbox page's statement, built by the service's code "
            f"(`app.repositories.features.page_sql`), random boxes drawn as wrk's: "
            f"`{commands['pgbench']}` (script in bench/out/ogc_features-bbox.pgbench)"
            if "pgbench" in commands
            else "- pgbench: not run"
        ),
        "- bodies (bytes): " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()),
        "",
        "| scenario | our path | tipg's path |",
        "| --- | --- | --- |",
        *(f"| {scenario.name} | `{scenario.ours}` | `{scenario.tipg}` |" for scenario in plan),
        "",
        "(The bbox paths are templates: `wrk_bbox.lua` fills a new random box in every request.)",
        "",
        "| scenario | server | round | rps | p50 ms | p99 ms | 2xx | not 2xx | errors "
        "| uvicorn cores | postgres cores | uvicorn ms/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        m = r.measure
        lines.append(
            f"| {r.scenario} | {r.server} | {r.round} | {m.rps:,.1f} | {m.p50_ms:.1f} | "
            f"{m.p99_ms:.1f} | {m.ok:,} | {m.bad} | {sum(m.socket_errors.values())} | "
            f"{m.server_cpu:.2f} | {m.postgres_cpu:.2f} | {m.server_ms:.2f} |"
        )
    lines += [
        "",
        "| scenario | ours, median rps | tipg, median rps | ratio | target | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for scenario in plan:
        ratio = ratios[scenario.name]
        target = TARGETS[scenario.name]
        lines.append(
            f"| {scenario.title} | {medians[(scenario.name, 'ours')]:,.1f} | "
            f"{medians[(scenario.name, 'tipg')]:,.1f} | {ratio:,.1f}× | ≥ {target}× | "
            f"{'pass' if ratio >= target else 'fail'} |"
        )
    if share is not None:
        lines.append(
            f"| bbox page, ours against PostgreSQL alone (pgbench, same statement) | "
            f"{medians[('bbox', 'ours')]:,.1f} | pgbench {medians[('bbox', 'pgbench')]:,.1f} tps "
            f"| {share:.0%} | ≥ {PGBENCH_SHARE:.0%} | "
            f"{'pass' if share >= PGBENCH_SHARE else 'fail'} |"
        )
    if tile_facts:
        lines += [
            "",
            f"Tile z{TILE[0]}/{TILE[2]}/{TILE[1]}: {tile_facts['points']:,} published "
            f"initiatives; {int(str(tile_facts['bytes'])):,} bytes, gzip "
            f"{int(str(tile_facts['gzip_bytes'])):,} bytes when asked. The tile of about "
            f"{TYPICAL_POINTS:,} points, `{tile_facts['typical_path']}` "
            f"({tile_facts['typical'][2]:,} points): "  # type: ignore[index]
            f"{int(str(tile_facts['typical_bytes'])):,} bytes (target < {TILE_LIMIT_BYTES:,}), "
            f"gzip {int(str(tile_facts['typical_gzip_bytes'])):,} bytes. "
            f"ETag {tile_facts['etag']} "
            f"({'strong' if tile_facts['strong'] else 'weak'}), If-None-Match answered "
            f"{'304' if tile_facts['not_modified'] else 'NOT 304'}: "
            f"{'pass' if tile_ok else 'fail'}.",
        ]
    if not export:
        lines += ["", "Export: not run (`--no-export`)."]
    lines += (
        []
        if not export
        else [
            "",
            f"Export: the whole collection followed through `next` with limit={EXPORT_LIMIT}: "
            f"{int(export['features']):,} features (published in the database: "
            f"{facts['published']:,}; {'complete' if complete else 'INCOMPLETE'}) in "
            f"{int(export['pages'])} pages, {export['megabytes']:,.0f} MB of GeoJSON, "
            f"{export['seconds']:.0f} s. Server peak resident memory (VmHWM, since its start, "
            f"all the benchmarks included): {export['peak_before_mb']:.0f} MB before the export, "
            f"{export['peak_after_mb']:.0f} MB after; target < {MEMORY_LIMIT_MB} MB: "
            f"{'pass' if memory_ok else 'fail'}.",
        ]
    )
    if invalid:
        lines += ["", "Invalid runs:"] + [
            f"- {r.scenario} {r.server} round {r.round}: {'; '.join(r.measure.problems)}"
            for r in invalid
        ]
    return "\n".join(lines) + "\n", status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, common.BenchError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        sys.exit(2)
