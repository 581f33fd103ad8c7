"""The Markdown sections bench/soak.py appends to bench/results/soak.md."""

import argparse
import os
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def append(path: Path, lines: list[str]) -> None:
    text = path.read_text() if path.exists() else "# Soak\n\nWritten by bench/soak.py.\n\n"
    path.write_text(text + "\n".join(lines) + "\n")
    print("\n".join(lines))


def write_results(
    arguments: argparse.Namespace,
    run: Any,
    elapsed: float,
    victim: int,
    start: dict[str, int],
    end: dict[str, int],
    report: dict[str, Any],
) -> None:
    total = sum(len(values) for values in run.latency.values())
    outside = [f for f in run.fivexx if not run.in_window(f[0], f[1])]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `.venv/bin/python bench/soak.py --duration {arguments.duration} "
        f"--workers {arguments.workers} --clients {arguments.clients} "
        f"--port-base {arguments.port_base}`",
        f"- load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores shared by the "
        "driver, uvicorn, the webhook worker and PostgreSQL",
        f"- {total:,} requests in {elapsed:.0f} s: **{total / elapsed:,.1f} rps**; "
        f"transport errors {run.errors}; the driver process (set-up included) used "
        f"{(os.times().user + os.times().system) / elapsed:.0%} of a core",
        f"- worker {victim} killed (SIGKILL) at 1/3; PostgreSQL stopped -m fast and started at "
        "2/3 (3 s down); window = event to 10 s after it",
        f"- 5xx: {len(run.fivexx) - len(outside)} inside the windows, **{len(outside)} outside**"
        + "".join(
            f"; {kind} {status} at {at - run.began:.1f} s" for at, _, kind, status in outside[:10]
        ),
        "- windows (s from start): "
        + ", ".join(f"{a - run.began:.1f}-{b - run.began:.1f}" for a, b in run.windows),
        "",
        "| kind | requests | p50 ms | p99 ms | statuses |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for kind, values in run.latency.items():
        p99 = percentile(values, 0.99)
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(run.statuses[kind].items()))
        lines.append(
            f"| {kind} | {len(values):,} | {statistics.median(values) * 1000:.1f} | "
            f"{p99 * 1000:.1f} | {statuses} |"
        )
    lines += ["", "| process | RSS after warm-up (kB) | RSS at end (kB) | growth |"]
    lines.append("| --- | ---: | ---: | ---: |")
    for name in sorted(set(start) | set(end)):
        before, after = start.get(name), end.get(name)
        growth = f"{(after - before) / before:+.1%}" if before and after else "(not both)"
        lines.append(f"| {name} | {before or '-'} | {after or '-'} | {growth} |")
    proposals, supports, titles = report["proposals"], report["supports"], report["titles"]
    lines += [
        "",
        f"- acknowledged writes lost: proposals {proposals[1]} of {proposals[0]}, supports "
        f"{supports[1]} of {supports[0]}, editors' titles {titles[1]} of {titles[0]} actions",
        f"- editors: {run.edits} edits, {run.conflicts} answered 412 and read again (one editor "
        "per action at a time, so a 412 is a precondition that moved without a change of the "
        "action's page)",
        f"- webhook: {report['deliveries']} deliveries for {report['events']} change-log entries "
        "after the subscription",
        "",
    ]
    append(Path(arguments.results), lines)
    for (kind, status), sample in run.samples.items():
        print(f"sample {kind} {status}: {sample}")
