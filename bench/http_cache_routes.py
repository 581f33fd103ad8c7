"""The public GETs the website and harvesters use, each warmed in the response cache, against
`GET /health` of the same server in the same run (bench/http_cache.py runs it with the cache on).

Requirement: every cached public GET answers at least 80% of /health's requests per second.
Rounds alternate /health and every route, so that slow drifts of the machine fall on all alike.
"""

import contextlib
import http.client
import socket
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import plan_api as base

TARGET = 0.80
# name, path, request headers: those of the clients that use it.
ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("plan", "/v1/plan", ()),
    ("actions", "/v1/actions", ()),
    ("communes", "/v1/communes", ()),
    ("indicators", "/v1/indicators", ()),
    ("territory", "/v1/territory", ()),
    ("DCAT catalog", "/v1/catalog.jsonld", ()),
    ("plan, gzip", "/v1/plan", ("Accept-Encoding: gzip",)),
    ("OGC collections", "/ogc/collections", ()),
    ("explorer home", "/", ("Accept: text/html",)),
)


def port_in_range(first: int) -> int:
    """The first free port from `first` to `first + 99`."""
    for port in range(first, first + 100):
        with socket.socket() as sock:
            try:
                sock.bind((base.HOST, port))
            except OSError:
                continue
            return port
    raise base.BenchError(f"no free port in {first}-{first + 99}")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time so far of a process and of its children (uvicorn's workers)."""
    total = base.process_cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    return total


@dataclass
class RouteRun:
    name: str
    round: int
    rps: float
    server_ms: float
    cache: str  # X-Cache of the answer after warming: hit, miss or none
    valid: bool


def x_cache(port: int, path: str, headers: tuple[str, ...]) -> tuple[int, str]:
    """Status and X-Cache of the route, asked twice (the first one fills the cache)."""
    fields = dict(header.split(": ", 1) for header in headers)
    connection = http.client.HTTPConnection(base.HOST, port, timeout=10)
    try:
        for _ in range(2):
            connection.request("GET", path, headers=fields)
            response = connection.getresponse()
            response.read()
        return response.status, response.getheader("x-cache") or "none"
    finally:
        connection.close()


Measure = Callable[[str, str, tuple[str, ...], int, int], tuple[float, float, bool]]


def run_routes(port: int, measure: Measure, rounds: int, duration: int) -> list[RouteRun]:
    """`measure(label, path, headers, round, duration)` gives rps, CPU ms/request, validity."""
    runs: list[RouteRun] = []
    states = {}
    for name, path, headers in ROUTES:
        status, cache = x_cache(port, path, headers)
        if status != 200:
            raise base.BenchError(f"GET {path}: {status}")
        states[name] = cache
        measure(name, path, headers, 0, 2)
    measure("health", "/health", (), 0, 2)
    for round_ in range(1, rounds + 1):
        for name, path, headers in (("health", "/health", ()), *ROUTES):
            rps, server_ms, valid = measure(name, path, headers, round_, duration)
            runs.append(RouteRun(name, round_, rps, server_ms, states.get(name, "none"), valid))
    return runs


def report(runs: list[RouteRun], duration: int) -> tuple[list[str], bool]:
    def median(name: str, field: str = "rps") -> float:
        return statistics.median(getattr(r, field) for r in runs if r.name == name)

    health = median("health")
    lines = [
        "",
        f"Cached public GETs against `/health`, same server, same run ({duration} s per route "
        "and round, alternated; medians):",
        "",
        "| route | path | X-Cache | rps | uvicorn ms/req | / health rps | target | verdict |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
        f"| /health | `/health` | none | {health:,.1f} | {median('health', 'server_ms'):.3f} "
        "| 100% | | |",
    ]
    met = True
    for name, path, headers in ROUTES:
        ratio = median(name) / health
        met = met and ratio >= TARGET
        shown = f"`{path}`" + "".join(f" ({h})" for h in headers)
        cache = next(r.cache for r in runs if r.name == name)
        lines.append(
            f"| {name} | {shown} | {cache} | {median(name):,.1f} | "
            f"{median(name, 'server_ms'):.3f} | {ratio:.0%} | ≥ {TARGET:.0%} | "
            f"{'pass' if ratio >= TARGET else 'FAIL'} |"
        )
    return lines, met
