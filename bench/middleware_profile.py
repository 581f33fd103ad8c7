"""Where a request's time goes inside the service: direct ASGI calls, no server, no socket.

Builds the app as uvicorn does (response cache, metrics and the JSON access log on: the log goes
to a file in bench/out/), starts its lifespan, and times N calls of each request kind: the cached
full answer of `GET /v1/plan`, its 304 (`If-None-Match`), and `GET /health`; also an empty ASGI
app in the same harness (the harness's own cost). Then, per kind, the time spent in each layer
of the middleware stack (inclusive time of each layer minus that of the next one: a timing shim
sits between layers, its own ~0.2 µs included), and with `--profile` cProfile's top functions.

    .venv/bin/python bench/middleware_profile.py [--requests 20000] [--profile]

DATABASE_URL (or BENCH_DATABASE_URL): a database with the CALL dataset loaded; only read.
Run it under `flock /tmp/bench.lock`: it is a measurement.
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

OUT = ROOT / "bench" / "out"
Message = dict[str, Any]

HOST = [(b"host", b"127.0.0.1:19300")]  # what wrk sends: Host only


def scope_of(path: str, headers: list[tuple[bytes, bytes]]) -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 19300),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": HOST + headers,
        "state": {},
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Sink:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.size = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.size += len(message.get("body", b""))


async def empty(scope: Message, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 304, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def time_calls(app: Any, scope: Message, count: int) -> float:
    """µs per call, the best of 3 batches (other load on the machine only adds)."""
    sink = Sink()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, sink)
        best = min(best, (time.perf_counter() - started) / count * 1e6)
    return best


class Shim:
    """Between two layers: adds the inclusive time of the layer below to its counter."""

    def __init__(self, app: Any, index: int, totals: list[float]) -> None:
        self.app = app
        self.index = index
        self.totals = totals

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.totals[self.index] += time.perf_counter() - started


def layers(app: Any) -> list[Any]:
    """The middleware stack, outermost first, down to the router."""
    found = [app.middleware_stack]
    while getattr(found[-1], "app", None) is not None:
        found.append(found[-1].app)
    return found


async def breakdown(app: Any, scope: Message, count: int) -> list[tuple[str, float]]:
    """µs per call spent in each layer itself (FastAPI's own __call__ first)."""
    stack = layers(app)
    totals = [0.0] * (len(stack) + 1)
    for index, layer in enumerate(stack[:-1], start=2):
        layer.app = Shim(layer.app, index, totals)
    try:
        sink = Sink()
        started = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, sink)
        totals[0] = time.perf_counter() - started
    finally:
        for layer in stack[:-1]:
            layer.app = layer.app.app
    totals[1] = totals[0]  # no shim above the outermost layer: FastAPI.__call__ is in it
    names = ["harness + FastAPI.__call__", *[type(layer).__name__ for layer in stack]]
    rows = []
    for index, name in enumerate(names[1:], start=1):
        below = totals[index + 1] if index + 1 < len(totals) else 0.0
        rows.append((name, (totals[index] - below) / count * 1e6))
    rows[0] = (f"{names[0]} + {rows[0][0]}", rows[0][1])
    return rows


async def profile(app: Any, scope: Message, count: int) -> str:
    profiler = cProfile.Profile()
    sink = Sink()
    profiler.enable()
    for _ in range(count):
        await app(dict(scope), receive, sink)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(22)
    return text.getvalue()


async def measure(arguments: argparse.Namespace) -> None:
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ["DATABASE_URL"]
    OUT.mkdir(exist_ok=True)
    log = (OUT / "middleware_profile-access.log").open("w")
    sys.stderr, stderr = log, sys.stderr
    try:
        settings = Settings(
            database_url=database_url,
            environment="test",
            response_cache=True,
            metrics=True,
            access_log=True,
        )
        app = create_app(settings)
    finally:
        sys.stderr = stderr
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if app.state.change_listener.cache.connected:
                break
            await asyncio.sleep(0.05)
        full = scope_of("/v1/plan", [])
        sink = Sink()
        for _ in range(2):  # a miss, then a hit
            sink = Sink()
            await app(dict(full), receive, sink)
        assert dict(sink.headers).get(b"x-cache") == b"hit", sink.headers
        etag = dict(sink.headers)[b"etag"]
        kinds = {
            "cached full": full,
            "304": scope_of("/v1/plan", [(b"if-none-match", etag)]),
            "/health": scope_of("/health", []),
        }
        for name, scope in kinds.items():
            check = Sink()
            await app(dict(scope), receive, check)
            assert check.status in (200, 304), (name, check.status)
        count = arguments.requests
        print(f"harness (empty ASGI app): {await time_calls(empty, full, count):.2f} µs/call")
        for name, scope in kinds.items():
            print(f"{name}: {await time_calls(app, scope, count):.2f} µs/call")
        for name, scope in kinds.items():
            print(f"\n{name}, by layer (µs per call, exclusive):")
            for layer, value in await breakdown(app, scope, count):
                print(f"  {layer:48} {value:7.2f}")
            if arguments.profile:
                print(await profile(app, scope, count))
    log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    arguments = parser.parse_args()
    try:
        import uvloop  # as uvicorn runs the service
    except ImportError:
        asyncio.run(measure(arguments))
    else:
        uvloop.run(measure(arguments))


if __name__ == "__main__":
    main()
