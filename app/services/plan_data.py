"""The plan and its follow-up as flat records, whatever file they come from (the dataset's YAML,
a spreadsheet): the checks that need the whole set, and the idempotent write in one transaction.

Readers parse their format into these records (types, ranges and enumerations are their job);
`check` then finds every problem of consistency at once; `write` upserts by code (or by the
natural key of a value, a budget line, a milestone) and never deletes a record. Links (the
communes of an action, what an indicator measures) are made exactly those of the file, for the
actions and indicators the file holds.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.follow_up import INDICATOR_LINKS, BudgetLine, Indicator, Milestone
from app.models.plan import Action, Ambition, Axis, Objective
from app.repositories import dataset as repository
from app.repositories.dataset import Changes

LEVELS = ("axis", "ambition", "objective", "action")
MODELS = {"axis": Axis, "ambition": Ambition, "objective": Objective, "action": Action}
PARENT_COLUMN = {"ambition": "axis_id", "objective": "ambition_id", "action": "objective_id"}
DEPTH = {level: depth for depth, level in enumerate(LEVELS, start=1)}
LEVEL_OF_DEPTH = {depth: level for level, depth in DEPTH.items()}
PERCENT_UNIT = "%"


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


@dataclass(slots=True)
class NodeRecord:
    level: str
    code: str
    parent: str | None
    title: str
    file: str
    where: str
    description: str | None = None
    source_excerpt: str | None = None
    weight: Decimal = Decimal(1)
    # Actions only.
    status: str | None = None
    status_excerpt: str | None = None
    lead: str | None = None
    partners: list[str] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    start_date: date | None = None
    start_date_precision: str | None = None
    end_date: date | None = None
    progress: Decimal | None = None


@dataclass(slots=True)
class IndicatorRecord:
    code: str
    name: str
    unit: str
    file: str
    where: str
    description: str | None = None
    direction: str | None = None
    frequency: str | None = None
    source_producer: str | None = None
    source_method: str | None = None
    source_limits: str | None = None
    source_url: str | None = None
    source_excerpt: str | None = None
    # Codes of the ambitions, objectives and actions it measures.
    measures: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ValueRecord:
    indicator: str
    kind: str
    period_start: date | None
    period_end: date | None
    period_label: str | None
    value: Decimal
    commune: str | None
    comment: str | None
    source: str | None
    source_excerpt: str | None
    file: str
    where: str

    def key(self) -> tuple[Any, ...]:
        return (
            self.indicator,
            self.kind,
            self.commune,
            self.period_start,
            self.period_end,
            self.period_label,
        )


@dataclass(slots=True)
class BudgetRecord:
    action: str
    year: int
    nature: str
    planned: Decimal | None
    actual: Decimal | None
    file: str
    where: str
    comment: str | None = None
    source_excerpt: str | None = None


@dataclass(slots=True)
class MilestoneRecord:
    action: str
    position: int
    milestone_date: date
    title: str
    file: str
    where: str
    date_precision: str | None = None
    description: str | None = None
    status: str | None = None
    reached: bool = False
    progress: Decimal | None = None
    source_excerpt: str | None = None


@dataclass
class PlanData:
    nodes: list[NodeRecord] = field(default_factory=list)
    indicators: list[IndicatorRecord] = field(default_factory=list)
    values: list[ValueRecord] = field(default_factory=list)
    budget_lines: list[BudgetRecord] = field(default_factory=list)
    milestones: list[MilestoneRecord] = field(default_factory=list)


@dataclass
class Known:
    """What the records may refer to besides themselves (what the database already holds)."""

    codes: dict[str, set[str]] = field(default_factory=lambda: {level: set() for level in LEVELS})
    indicator_units: dict[str, str] = field(default_factory=dict)
    communes: set[str] = field(default_factory=set)


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


# --- writing -----------------------------------------------------------------------------------


def _node_row(node: NodeRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": node.code,
        "title": node.title,
        "description": node.description,
        "source_excerpt": node.source_excerpt,
        "weight": node.weight,
    }
    if node.level == "action":
        row |= {
            "status": node.status,
            "status_excerpt": node.status_excerpt,
            "lead": node.lead,
            "partners": list(node.partners),
            "start_date": node.start_date,
            "start_date_precision": node.start_date_precision,
            "end_date": node.end_date,
            "progress": node.progress,
        }
    return row


async def _ids(session: AsyncSession, level: str, codes: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(codes))
    return await repository.ids_by_code(session, MODELS[level], wanted) if wanted else {}


async def write(session: AsyncSession, data: PlanData) -> dict[str, Changes]:
    """Upsert checked records; the caller owns the transaction."""
    changes: dict[str, Changes] = {}
    for level in LEVELS:
        nodes = [node for node in data.nodes if node.level == level]
        parents = (
            await _ids(session, LEVELS[DEPTH[level] - 2], (n.parent for n in nodes if n.parent))
            if level != "axis"
            else {}
        )
        rows = []
        for node in nodes:
            row = _node_row(node)
            if node.parent is not None:
                row[PARENT_COLUMN[level]] = parents[node.parent]
            rows.append(row)
        changes[level] = await repository.upsert(session, MODELS[level], "code", rows)
    actions = [node for node in data.nodes if node.level == "action"]
    action_ids = await _ids(session, "action", (a.code for a in actions))
    changes["action_commune"] = await repository.sync_action_communes(
        session,
        list(action_ids.values()),
        {(action_ids[a.code], insee) for a in actions for insee in a.communes},
    )
    changes["indicator"] = await repository.upsert(
        session,
        Indicator,
        "code",
        [
            {
                "code": i.code,
                "name": i.name,
                "description": i.description,
                "unit": i.unit,
                "direction": i.direction,
                "frequency": i.frequency,
                "source_producer": i.source_producer,
                "source_method": i.source_method,
                "source_limits": i.source_limits,
                "source_url": i.source_url,
                "source_excerpt": i.source_excerpt,
            }
            for i in data.indicators
        ],
    )
    indicator_ids = await repository.ids_by_code(
        session,
        Indicator,
        sorted({i.code for i in data.indicators} | {v.indicator for v in data.values}),
    )
    links = Changes()
    for level, table in INDICATOR_LINKS.items():
        depth = DEPTH[level]
        targets = await _ids(
            session,
            level,
            (c for i in data.indicators for c in i.measures if c.count(".") + 1 == depth),
        )
        found = await repository.sync_links(
            session,
            table,
            "indicator_id",
            f"{level}_id",
            [indicator_ids[i.code] for i in data.indicators],
            {
                (indicator_ids[i.code], targets[c])
                for i in data.indicators
                for c in i.measures
                if c in targets
            },
        )
        links = _add(links, found)
    changes["indicator_link"] = links
    changes["indicator_value"] = await repository.upsert_values(
        session,
        [
            (
                indicator_ids[v.indicator],
                v.kind,
                v.period_start,
                v.period_end,
                v.period_label,
                v.value,
                v.commune,
                v.comment,
                v.source,
                v.source_excerpt,
            )
            for v in data.values
        ],
    )
    owners = await _ids(
        session,
        "action",
        [b.action for b in data.budget_lines] + [m.action for m in data.milestones],
    )
    changes["budget_line"] = await repository.upsert(
        session,
        BudgetLine,
        ("action_id", "year", "nature"),
        [
            {
                "action_id": owners[b.action],
                "year": b.year,
                "nature": b.nature,
                "planned": b.planned,
                "actual": b.actual,
                "comment": b.comment,
                "source_excerpt": b.source_excerpt,
            }
            for b in data.budget_lines
        ],
    )
    changes["milestone"] = await repository.upsert(
        session,
        Milestone,
        ("action_id", "position"),
        [
            {
                "action_id": owners[m.action],
                "position": m.position,
                "milestone_date": m.milestone_date,
                "date_precision": m.date_precision,
                "title": m.title,
                "description": m.description,
                "status": m.status,
                "reached": m.reached,
                "progress": m.progress,
                "source_excerpt": m.source_excerpt,
            }
            for m in data.milestones
        ],
    )
    return changes


def _add(a: Changes, b: Changes) -> Changes:
    return Changes(
        created=a.created + b.created,
        updated=a.updated + b.updated,
        unchanged=a.unchanged + b.unchanged,
        deleted=a.deleted + b.deleted,
    )
