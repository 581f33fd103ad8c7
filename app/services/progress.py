"""Progress roll-up: an action's progress is set, or taken from its milestones; every level above
is the weighted mean of its children's published values.

The rule, as published with each figure:
- action: its `progress` when set (method "set"); else the progress of its latest reached
  milestone that states one, latest by date then position (method "milestones"); else none.
- objective, ambition, axis, territory: round(sum(weight x value) / sum(weight), 2) over the
  children that have a value (method "weighted_mean"); children without a value are left out
  and counted apart; when no child has a value, none.
Each level averages its children's *published* (rounded) values, so a reader recomputes every
figure exactly from the response itself.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories import progress as repository
from app.schemas.follow_up import Amounts, BudgetTotals, MilestoneInput, Progress, ProgressInput

CENT = Decimal("0.01")

SET = "set directly on the action"
MILESTONES = (
    "progress stated by the action's latest reached milestone (by date, then position), "
    "as no progress is set on the action"
)
NONE_ACTION = "no progress set on the action, and no reached milestone states one"
WEIGHTED_MEAN = (
    "round(sum(weight × value) / sum(weight), 2) over the children that have a value; "
    "children without a value are left out"
)
NONE_LEVEL = "none of the children has a value"


@dataclass(frozen=True)
class ActionInput:
    code: str
    parent: str
    weight: Decimal
    progress: Decimal | None
    # The latest reached milestone stating a progress: position, ISO date, title, progress.
    milestone: tuple[int, str, str, Decimal] | None = None


@dataclass(frozen=True)
class NodeInput:
    code: str
    parent: str | None
    weight: Decimal


def _number(value: Decimal) -> float:
    return float(value)


def action_progress(action: ActionInput) -> tuple[Decimal | None, Progress]:
    if action.progress is not None:
        value = action.progress.quantize(CENT, ROUND_HALF_UP)
        return value, Progress(value=_number(value), method="set", formula=SET)
    if action.milestone is not None:
        position, when, title, progress = action.milestone
        value = progress.quantize(CENT, ROUND_HALF_UP)
        return value, Progress(
            value=_number(value),
            method="milestones",
            formula=MILESTONES,
            milestone=MilestoneInput(
                position=position, date=when, title=title, progress=_number(progress)
            ),
        )
    return None, Progress(value=None, method="none", formula=NONE_ACTION)


def weighted_mean(
    children: Sequence[tuple[str, Decimal, Decimal | None]],
) -> tuple[Decimal | None, Progress]:
    """(code, weight, published value) of each child → the parent's value and its account."""
    counted = [(weight, value) for _, weight, value in children if value is not None]
    inputs = [
        ProgressInput(
            code=code,
            weight=_number(weight),
            value=None if value is None else _number(value),
        )
        for code, weight, value in children
    ]
    weight_counted = sum((weight for weight, _ in counted), Decimal(0))
    common = {
        "children_counted": len(counted),
        "children_without_data": len(children) - len(counted),
        "weight_counted": _number(weight_counted),
        "inputs": inputs,
    }
    if not counted:
        return None, Progress(value=None, method="none", formula=NONE_LEVEL, **common)
    total = sum((weight * value for weight, value in counted), Decimal(0))
    value = (total / weight_counted).quantize(CENT, ROUND_HALF_UP)
    return value, Progress(
        value=_number(value), method="weighted_mean", formula=WEIGHTED_MEAN, **common
    )


@dataclass(frozen=True)
class RollUp:
    """The progress of every record by code, and of the territory."""

    by_code: dict[str, Progress]
    territory: Progress


def roll_up(
    axes: Iterable[NodeInput],
    ambitions: Iterable[NodeInput],
    objectives: Iterable[NodeInput],
    actions: Iterable[ActionInput],
) -> RollUp:
    by_code: dict[str, Progress] = {}
    children: dict[str | None, list[tuple[str, Decimal, Decimal | None]]] = defaultdict(list)
    for action in actions:
        value, progress = action_progress(action)
        by_code[action.code] = progress
        children[action.parent].append((action.code, action.weight, value))
    for level in (objectives, ambitions, axes):
        for node in level:
            value, progress = weighted_mean(children.get(node.code, []))
            by_code[node.code] = progress
            children[node.parent].append((node.code, node.weight, value))
    _, territory = weighted_mean(children.get(None, []))
    return RollUp(by_code=by_code, territory=territory)


@dataclass(frozen=True)
class BudgetSum:
    action_code: str
    nature: str
    planned: Decimal
    actual: Decimal
    lines: int


def _amounts(investment: Decimal, operating: Decimal) -> Amounts:
    return Amounts(
        investment=_number(investment),
        operating=_number(operating),
        total=_number(investment + operating),
    )


def budget_totals(sums: Iterable[BudgetSum]) -> tuple[dict[str, BudgetTotals], BudgetTotals]:
    """Totals of every record that has budget lines below it (by code), and of the territory."""
    zero = Decimal(0)
    # code → [planned investment, planned operating, actual investment, actual operating, lines]
    acc: dict[str, list[Decimal]] = defaultdict(lambda: [zero, zero, zero, zero, zero])
    for line in sums:
        parts = line.action_code.split(".")
        codes = [".".join(parts[:depth]) for depth in range(1, len(parts) + 1)] + [""]
        operating = line.nature == "operating"
        for code in codes:
            figures = acc[code]
            figures[1 if operating else 0] += line.planned
            figures[3 if operating else 2] += line.actual
            figures[4] += line.lines
    totals = {
        code: BudgetTotals(
            planned=_amounts(f[0], f[1]), actual=_amounts(f[2], f[3]), lines=int(f[4])
        )
        for code, f in acc.items()
    }
    territory = totals.pop("", None) or empty_budget()
    return totals, territory


def empty_budget() -> BudgetTotals:
    zero = _amounts(Decimal(0), Decimal(0))
    return BudgetTotals(planned=zero, actual=zero, lines=0)


async def plan_roll_up(session: AsyncSession) -> RollUp:
    """The roll-up of the plan as stored."""
    levels: dict[int, list[NodeInput]] = {1: [], 2: [], 3: []}
    actions: list[ActionInput] = []
    for row in await repository.progress_inputs(session):
        if row.depth == 4:
            milestone = None
            if row.position is not None:
                milestone = (
                    row.position,
                    row.milestone_date.isoformat(),
                    row.title,
                    Decimal(row.milestone_progress),
                )
            actions.append(ActionInput(row.code, row.parent, row.weight, row.progress, milestone))
        else:
            levels[row.depth].append(NodeInput(row.code, row.parent, row.weight))
    return roll_up(levels[1], levels[2], levels[3], actions)


async def plan_budget(session: AsyncSession) -> tuple[dict[str, BudgetTotals], BudgetTotals]:
    """Budget totals of every record with lines below it (by code), and of the territory."""
    sums = [
        BudgetSum(row.code, row.nature, row.planned, row.actual, row.lines)
        for row in await repository.budget_sums(session)
    ]
    return budget_totals(sums)
