"""What metrics and the JSON access log cost: rps of the same routes, METRICS and ACCESS_LOG on
against off, two uvicorn servers of the same code side by side, loaded in turn with wrk.

Every server has the outermost middleware (the request id is always given); `off` skips the
counters, the histogram and the log line. The access log goes to a file (bench/out/). Four
servers: both on, metrics only, log only, both off.

    .venv/bin/python bench/observability.py [--duration 5] [--rounds 3] [--connections 32]
        [--port 18150]  (the four servers listen on PORT to PORT + 3)

BENCH_DATABASE_URL: the database both servers read (default: DATABASE_URL); it is only read.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results" / "observability.md"
SERVERS = ("on", "metrics", "log", "off")
PORTS = {name: 18150 + index for index, name in enumerate(SERVERS)}  # --port moves them
# (METRICS, ACCESS_LOG) of each server.
FLAGS = {"on": ("true", "true"), "metrics": ("true", "false"), "log": ("false", "true"),
         "off": ("false", "false")}  # fmt: skip
ROUTES = ("/health", "/v1/axes")


def start(name: str, database_url: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "METRICS": FLAGS[name][0],
        "ACCESS_LOG": FLAGS[name][1],
        "ENVIRONMENT": "test",
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (OUT / f"observability-{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host",
         "127.0.0.1", "--port", str(PORTS[name]), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=environment, stdout=log, stderr=log,
    )  # fmt: skip
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{PORTS[name]}/ready").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server {name} did not start; see {log.name}")


def wrk(url: str, duration: int, connections: int) -> float:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    assert found, result.stdout
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=18150, help="first of four ports")
    arguments = parser.parse_args()
    PORTS.update({name: arguments.port + index for index, name in enumerate(SERVERS)})
    OUT.mkdir(exist_ok=True)
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ["DATABASE_URL"]
    servers = {name: start(name, database_url) for name in PORTS}
    rps: dict[tuple[str, str], list[float]] = {}
    try:
        for route in ROUTES:  # warm both (the response cache fills)
            for name in PORTS:
                wrk(f"http://127.0.0.1:{PORTS[name]}{route}", 1, arguments.connections)
        for _ in range(arguments.rounds):
            for route in ROUTES:
                for name in PORTS:  # in turn: never both loaded at once
                    url = f"http://127.0.0.1:{PORTS[name]}{route}"
                    value = wrk(url, arguments.duration, arguments.connections)
                    rps.setdefault((route, name), []).append(value)
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=20)
    lines = [
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`.venv/bin/python bench/observability.py --duration {arguments.duration} "
        f"--rounds {arguments.rounds} --connections {arguments.connections} "
        f"--port {arguments.port}` — one uvicorn "
        f"worker each, wrk -t2 -c{arguments.connections}, median of {arguments.rounds} rounds "
        "taken in turn.",
        "",
        "| route | both on (rps) | METRICS only | ACCESS_LOG only | both off | on / off |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for route in ROUTES:
        median = {name: statistics.median(rps[(route, name)]) for name in PORTS}
        cells = " | ".join(f"{median[name]:,.0f}" for name in ("on", "metrics", "log", "off"))
        lines.append(f"| `GET {route}` | {cells} | {median['on'] / median['off']:.1%} |")
    text = "\n".join(lines) + "\n"
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Observability overhead\n\nrps with the request metrics and the JSON access log, "
            "against the same server without (bench/observability.py).\n",
            encoding="utf-8",
        )
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write(text)
    print(text)


if __name__ == "__main__":
    main()
