"""Webhook delivery rate against a plain loop of concurrent POSTs to the same receiver.

Requirement: a burst of 10 000 change events is delivered to a local webhook receiver at no less
than 50% of the rate at which a plain loop of concurrent HTTP POSTs from one process feeds the
same receiver (the reference, measured in the same run), with the worker's memory bounded.

Set-up: the bench database is recreated (migrated, CALL loaded); one uvicorn worker runs the
receiver (bench/webhook_receiver.py); a key and a subscription to `indicator_values.created`
are made. Each round then alternates:
- reference: one Python process (httpx, the worker's client library, the same concurrency)
  POSTs 10 000 bodies of the size of a delivery to the receiver, as fast as it can;
- ours: `territoire webhooks` is started and left to settle, then 10 000 indicator values are
  inserted in one transaction (10 000 change-log entries), timed from there until the receiver
  has counted 10 000 deliveries (fan-out from the change log, signing, sending, recording each
  outcome); the worker's peak resident memory (VmHWM) is read before it is stopped.
Medians over the rounds; a section is appended to bench/results/webhooks.md.

Usage: .venv/bin/python bench/webhooks.py [--events 10000] [--rounds 3] [--concurrency 32]
Exit status: 0 target met, 1 missed, 2 set-up failure.
"""

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import plan_api as base

sys.path.insert(0, str(base.ROOT))

RESULTS = base.BENCH / "results" / "webhooks.md"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/territoire_i7_bench"
RECEIVER_PORT = 8176
TARGET = 0.5
MEMORY_LIMIT_MB = 200

REFERENCE = """
import asyncio, sys, time, httpx
url, count, concurrency, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
body = b'{"pad":"' + b"x" * max(size - 10, 0) + b'"}'
async def main():
    queue = iter(range(count))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        async def loop():
            for _ in queue:
                answer = await client.post(url, content=body,
                                           headers={"Content-Type": "application/json"})
                answer.raise_for_status()
        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        print(time.perf_counter() - started)
asyncio.run(main())
"""


async def insert_events(dsn: str, count: int, round_: int) -> int:
    """`count` new indicator values in one transaction; the size of one delivery's body."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                """
                INSERT INTO indicator_value (indicator_id, kind, period_start, value, comment)
                SELECT (SELECT min(id) FROM indicator), 'result',
                       date '1000-01-01' + ($2::int * $1::int + g), g,
                       'Valeur synthétique du banc d''essai des webhooks'
                FROM generate_series(0, $1 - 1) AS g
                """,
                count,
                round_,
            )
        size = None
        for _ in range(200):  # the size of a delivery's body, once the worker queued them
            size = await connection.fetchval(
                "SELECT length(payload::text) FROM webhook_delivery ORDER BY id DESC LIMIT 1"
            )
            if size:
                break
            await asyncio.sleep(0.01)
        return int(size or 600)
    finally:
        await connection.close()


def receiver_count() -> int:
    return int(httpx.get(f"http://127.0.0.1:{RECEIVER_PORT}/count", timeout=5).text)


def reset_receiver() -> None:
    httpx.post(f"http://127.0.0.1:{RECEIVER_PORT}/reset", timeout=5)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_worker(
    env: dict[str, str], dsn: str, events: int, round_: int, timeout: float
) -> tuple[float, float, int]:
    """Start the worker and let it settle, then commit `events` change events and time until
    the receiver counted them all; (seconds, peak MB, body size)."""
    reset_receiver()
    worker = subprocess.Popen(
        [str(base.VENV_BIN / "python"), "-m", "app.cli", "webhooks"],
        cwd=base.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # imports, connections: not part of delivering
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}")
        started = time.perf_counter()
        size = asyncio.run(insert_events(dsn, events, round_))
        peak = 0.0
        while receiver_count() < events:
            if time.perf_counter() - started > timeout:
                raise RuntimeError("the worker did not deliver every event in time")
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            peak = max(peak, peak_rss_mb(worker.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        peak = max(peak, peak_rss_mb(worker.pid))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    return elapsed, peak, size


def run_reference(events: int, concurrency: int, size: int) -> float:
    reset_receiver()
    output = subprocess.run(
        [
            str(base.VENV_BIN / "python"),
            "-c",
            REFERENCE,
            f"http://127.0.0.1:{RECEIVER_PORT}/hook",
            str(events),
            str(concurrency),
            str(size),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert receiver_count() == events
    return float(output.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_CONCURRENCY": str(arguments.concurrency),
        "RESPONSE_CACHE": "false",
    }
    base.OUT.mkdir(exist_ok=True)
    postgres = base.prepare_database(database_url, env)
    dsn = base.plain_url(database_url)
    secret = subprocess.run(
        [str(base.VENV_BIN / "territoire"), "keys", "create", "bench", "--scope", "editor"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()[1]

    receiver_log = (base.OUT / "webhook_receiver.log").open("wb")
    receiver = subprocess.Popen(
        [
            str(base.VENV_BIN / "uvicorn"),
            "webhook_receiver:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(RECEIVER_PORT),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=base.BENCH,
        stdout=receiver_log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                receiver_count()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        asyncio.run(subscribe(env, secret))
        references, ours, peaks = [], [], []
        for round_ in range(arguments.rounds):
            seconds, peak, size = run_worker(env, dsn, arguments.events, round_, timeout=600)
            ours.append(arguments.events / seconds)
            peaks.append(peak)
            references.append(
                arguments.events / run_reference(arguments.events, arguments.concurrency, size)
            )
            print(
                f"round {round_ + 1}: worker {ours[-1]:,.0f} events/s (peak {peak:.0f} MB), "
                f"plain loop {references[-1]:,.0f} POST/s"
            )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    reference, delivered = statistics.median(references), statistics.median(ours)
    ratio = delivered / reference
    peak = max(peaks)
    met = ratio >= TARGET and peak < MEMORY_LIMIT_MB
    lines = [
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {arguments.events:,} events, "
        f"{arguments.rounds} rounds, concurrency {arguments.concurrency}\n",
        f"- machine: {base.NPROC} cores; {postgres.split(',')[0]}",
        "- receiver: one uvicorn worker (bench/webhook_receiver.py); worker and reference on "
        "the same machine",
        "",
        "| round | worker (events/s) | plain loop (POST/s) | worker peak RSS |",
        "| --- | --- | --- | --- |",
        *(
            f"| {i + 1} | {ours[i]:,.0f} | {references[i]:,.0f} | {peaks[i]:.0f} MB |"
            for i in range(arguments.rounds)
        ),
        "",
        f"**Median: {delivered:,.0f} events/s delivered = {ratio:.0%} of the plain loop's "
        f"{reference:,.0f} POST/s** (target ≥ {TARGET:.0%}); worker peak RSS {peak:.0f} MB "
        f"(bound {MEMORY_LIMIT_MB} MB): {'met' if met else 'MISSED'}.",
        "",
    ]
    base.append_section(
        RESULTS,
        "# Webhook delivery against a plain loop of POSTs\n\n"
        "Written by `bench/webhooks.py` (see its docstring for the method).\n",
        "\n".join(lines),
    )
    print("\n".join(lines))
    return 0 if met else 1


async def subscribe(env: dict[str, str], secret: str) -> None:
    """Subscribe the receiver through the API itself (in-process), as a key holder would."""
    from app.config import Settings
    from app.main import create_app

    settings = Settings(
        database_url=env["DATABASE_URL"],  # type: ignore[arg-type]
        webhook_allow_private_targets=True,
        response_cache=False,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        answer = await client.post(
            "/v1/webhooks",
            json={
                "url": f"http://127.0.0.1:{RECEIVER_PORT}/hook",
                "event_types": ["indicator_values.created"],
            },
            headers={"Authorization": f"Bearer {secret}"},
        )
        answer.raise_for_status()
    await app.state.database.dispose()


if __name__ == "__main__":
    sys.exit(main())
