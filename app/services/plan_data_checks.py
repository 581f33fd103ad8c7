"""The checks that need the whole set of plan records: duplicates, orphans, unknown codes and
communes, units of percentages, ordered periods, and the excerpts found in the source text."""

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from app.models.follow_up import INDICATOR_LINKS
from app.services.plan_data import (
    DEPTH,
    LEVEL_OF_DEPTH,
    LEVELS,
    PERCENT_UNIT,
    BudgetRecord,
    Known,
    MilestoneRecord,
    NodeRecord,
    PlanData,
    Problem,
    ValueRecord,
)


def _parent_of(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def _check_nodes(data: PlanData, known: Known, problems: list[Problem]) -> dict[str, set[str]]:
    codes = {level: set(known.codes[level]) for level in LEVELS}
    seen: Counter[str] = Counter(node.code for node in data.nodes)
    for node in data.nodes:
        codes[node.level].add(node.code)
    for node in data.nodes:

        def report(message: str, node: NodeRecord = node) -> None:
            problems.append(Problem(node.file, node.where, message))

        if seen[node.code] > 1:
            report("code appears twice" if seen[node.code] == 2 else "code appears more than twice")
        depth = node.code.count(".") + 1
        if depth != DEPTH[node.level]:
            report(
                f"code {node.code} has {depth} parts; a {node.level} code has {DEPTH[node.level]}"
            )
            continue
        expected = _parent_of(node.code)
        if node.level == "axis":
            if node.parent is not None:
                report("an axis has no parent")
        elif node.parent is None:
            report(f"orphan: no parent given (expected {expected})")
        elif node.parent == node.code or node.parent.startswith(node.code + "."):
            report(f"cycle: parent {node.parent} is {node.code} itself or one of its descendants")
        elif node.parent != expected:
            report(f"code does not extend its parent's code {node.parent}")
        else:
            parent_level = LEVELS[DEPTH[node.level] - 2]
            if node.parent not in codes[parent_level]:
                report(f"orphan: parent {parent_level} {node.parent} does not exist")
        if node.level == "action":
            for insee in node.communes:
                if insee not in known.communes:
                    report(f"commune {insee} is not a member commune")
            if len(set(node.communes)) != len(node.communes):
                report("a commune is listed twice")
            if node.start_date_precision and node.start_date is None:
                report("start_date_precision without start_date")
            if node.start_date and node.end_date and node.end_date < node.start_date:
                report("end_date precedes start_date")
    return codes


def _check_indicators(
    data: PlanData, known: Known, codes: dict[str, set[str]], problems: list[Problem]
) -> dict[str, str]:
    units = dict(known.indicator_units)
    seen = Counter(indicator.code for indicator in data.indicators)
    for indicator in data.indicators:
        units[indicator.code] = indicator.unit
        if seen[indicator.code] > 1:
            problems.append(
                Problem(
                    indicator.file,
                    indicator.where,
                    f"indicator code {indicator.code} appears {seen[indicator.code]} times",
                )
            )
        for code in indicator.measures:
            level = LEVEL_OF_DEPTH.get(code.count(".") + 1)
            if level not in INDICATOR_LINKS:
                problems.append(
                    Problem(
                        indicator.file,
                        indicator.where,
                        f"measures {code}: not the code of an ambition, objective or action",
                    )
                )
            elif code not in codes[level]:
                problems.append(
                    Problem(indicator.file, indicator.where, f"measures {code}: no such {level}")
                )
        if len(set(indicator.measures)) != len(indicator.measures):
            problems.append(Problem(indicator.file, indicator.where, "a code is listed twice"))
    return units


def _check_values(
    data: PlanData, known: Known, units: dict[str, str], problems: list[Problem]
) -> None:
    keys: dict[tuple[Any, ...], str] = {}
    for value in data.values:

        def report(message: str, value: ValueRecord = value) -> None:
            problems.append(Problem(value.file, value.where, message))

        unit = units.get(value.indicator)
        if unit is None:
            report(f"unknown indicator {value.indicator}")
        elif unit == PERCENT_UNIT and not Decimal(0) <= value.value <= Decimal(100):
            report(f"value {value.value} is a percentage outside 0-100")
        if value.commune is not None and value.commune not in known.communes:
            report(f"commune {value.commune} is not a member commune")
        if value.period_start is None and value.period_label is None:
            report("no period: give period_start, or period_label for an undated period")
        if value.period_end is not None:
            if value.period_start is None:
                report("period_end without period_start")
            elif value.period_end < value.period_start:
                report(f"period_end {value.period_end} precedes period_start {value.period_start}")
        key = value.key()
        first = keys.get(key)
        if first is not None:
            report(f"the same indicator, kind, commune and period as {first}")
        else:
            keys[key] = value.where


def _check_action_records(
    records: Iterable[BudgetRecord | MilestoneRecord],
    actions: set[str],
    problems: list[Problem],
) -> None:
    keys: dict[tuple[Any, ...], str] = {}
    for record in records:
        if record.action not in actions:
            problems.append(Problem(record.file, record.where, f"unknown action {record.action}"))
        if isinstance(record, BudgetRecord):
            key: tuple[Any, ...] = (record.action, record.year, record.nature)
            what = "action, year and nature"
        else:
            key = (record.action, record.position)
            what = "action and position"
        first = keys.get(key)
        if first is not None:
            problems.append(Problem(record.file, record.where, f"the same {what} as {first}"))
        else:
            keys[key] = record.where


def check(data: PlanData, known: Known, source_text: str | None = None) -> list[Problem]:
    """Every problem of consistency: duplicates, orphans, cycles, unknown references, periods,
    percentages; with `source_text`, excerpts not found verbatim in the source document."""
    problems: list[Problem] = []
    codes = _check_nodes(data, known, problems)
    units = _check_indicators(data, known, codes, problems)
    _check_values(data, known, units, problems)
    _check_action_records(data.budget_lines, codes["action"], problems)
    _check_action_records(data.milestones, codes["action"], problems)
    if source_text is not None:
        _check_excerpts(data, source_text, problems)
    return problems


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def _check_excerpts(data: PlanData, source_text: str, problems: list[Problem]) -> None:
    records: list[Any] = [
        *data.nodes,
        *data.indicators,
        *data.values,
        *data.budget_lines,
        *data.milestones,
    ]
    for record in records:
        for name in ("source_excerpt", "status_excerpt"):
            excerpt = getattr(record, name, None)
            if excerpt and normalize_space(excerpt) not in source_text:
                problems.append(
                    Problem(
                        record.file, f"{record.where}.{name}", "not found in the source document"
                    )
                )
