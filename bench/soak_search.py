"""The highest rate the machine sustains with the soak's mix: the client count stepped up.

Each step runs the mix with C closed-loop clients (each sends its next request when the last one
is answered) for a fixed time on the same stack, no fault injected. A step holds when its p99
over every request stays under the limit and nothing answers 5xx or fails in transport. The
search stops at the first step that does not hold, or when a step adds less than 5% of
throughput to the previous one (the machine is saturated: more clients only queue). The
sustainable count is the smallest one whose rate is within 5% of the best step that held.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from soak_report import percentile

GAIN = 1.05


@dataclass
class Step:
    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int  # 5xx and transport errors
    holds: bool

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def search(
    measure: Callable[[int], Awaitable[tuple[Any, float]]], counts: list[int], p99_limit_ms: float
) -> tuple[list[Step], Step | None]:
    """`measure(clients)` runs one step and gives its Run and its duration."""
    steps: list[Step] = []
    for clients in counts:
        run, seconds = await measure(clients)
        values = [value for kind in run.latency.values() for value in kind]
        statuses = [item for kind in run.statuses.values() for item in kind.items()]
        failures = run.errors + sum(count for status, count in statuses if status >= 500)
        p99 = percentile(values, 0.99) * 1000
        step = Step(
            clients, len(values), seconds, percentile(values, 0.5) * 1000, p99, failures,
            holds=p99 <= p99_limit_ms and failures == 0,
        )  # fmt: skip
        steps.append(step)
        print(f"{clients} clients: {step.rps:.1f} rps, p99 {p99:.0f} ms, failures {failures}")
        if not step.holds or (len(steps) > 1 and step.rps < steps[-2].rps * GAIN):
            break
    held = [step for step in steps if step.holds]
    if not held:
        return steps, None
    best = max(step.rps for step in held)
    return steps, min((s for s in held if s.rps * GAIN >= best), key=lambda s: s.clients)


def search_lines(steps: list[Step], chosen: Step | None, p99_limit_ms: float) -> list[str]:
    lines = [
        "",
        f"Search for the sustainable rate (p99 limit {p99_limit_ms:.0f} ms over every request, "
        "no 5xx, no transport error; stop when a step does not hold or adds < 5% rps):",
        "",
        "| clients | requests | s | rps | p50 ms | p99 ms | 5xx + errors | holds |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for step in steps:
        lines.append(
            f"| {step.clients} | {step.requests:,} | {step.seconds:.0f} | {step.rps:.1f} | "
            f"{step.p50_ms:.1f} | {step.p99_ms:.1f} | {step.failures} | "
            f"{'yes' if step.holds else 'no'} |"
        )
    if chosen is None:
        lines.append("\n- no step held: the machine does not sustain the mix under the limit")
    else:
        lines.append(
            f"\n- sustainable: **{chosen.clients} clients, {chosen.rps:.1f} rps** (the fewest "
            "clients within 5% of the best rate that held)"
        )
    return [*lines, ""]
