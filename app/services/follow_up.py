"""An action's timeline and budget lines; budget totals per level of the plan."""

from collections import defaultdict
from decimal import Decimal
from typing import Literal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.models.follow_up import BudgetNature
from app.models.plan import ACTION_STATUS_LABELS_FR, Action, ActionStatus, PlanNodeMixin
from app.repositories import follow_up as repository
from app.repositories import indicator as indicator_repository
from app.repositories import plan as plan_repository
from app.schemas.follow_up import (
    ActionBudget,
    BudgetLineOut,
    BudgetReport,
    LevelBudget,
    MilestoneOut,
    Timeline,
)
from app.schemas.indicator import IndicatorRef
from app.services.progress import BudgetSum, budget_totals, empty_budget

Level = Literal["axis", "ambition", "objective", "action"]
LEVEL_DEPTH: dict[str, int] = {"axis": 1, "ambition": 2, "objective": 3, "action": 4}


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def milestone_out(row: RowMapping) -> MilestoneOut:
    status = ActionStatus(row["status"]) if row["status"] else None
    return MilestoneOut(
        position=row["position"],
        date=row["milestone_date"],
        date_precision=row["date_precision"],
        title=row["title"],
        description=row["description"],
        status=status,
        status_label_fr=ACTION_STATUS_LABELS_FR[status] if status else None,
        reached=row["reached"],
        progress=_float(row["progress"]),
        source_excerpt=row["source_excerpt"],
    )


def budget_line_out(row: RowMapping) -> BudgetLineOut:
    return BudgetLineOut(
        year=row["year"],
        nature=BudgetNature(row["nature"]),
        planned=_float(row["planned"]),
        actual=_float(row["actual"]),
        comment=row["comment"],
        source_excerpt=row["source_excerpt"],
    )


async def milestones(session: AsyncSession, action_code: str) -> list[MilestoneOut]:
    return [milestone_out(row) for row in await repository.milestones(session, action_code)]


async def budget_lines(session: AsyncSession, action_code: str) -> list[BudgetLineOut]:
    return [budget_line_out(row) for row in await repository.budget_lines(session, action_code)]


async def indicators_of(
    session: AsyncSession, model: type[PlanNodeMixin], code: str
) -> list[IndicatorRef]:
    level = str(model.__table__.name)  # type: ignore[attr-defined]
    if level not in indicator_repository.LEVEL_MODELS:
        return []
    rows = await indicator_repository.indicators_measuring(session, level, code)
    return [IndicatorRef(code=r["code"], name=r["name"], unit=r["unit"]) for r in rows]


async def _existing_action(session: AsyncSession, code: str) -> None:
    if not await plan_repository.titles(session, Action, [code]):
        raise NotFoundError(f"No action with code '{code}'.")


async def timeline(session: AsyncSession, code: str) -> Timeline:
    await _existing_action(session, code)
    return Timeline(action=code, milestones=await milestones(session, code))


async def action_budget(session: AsyncSession, code: str) -> ActionBudget:
    await _existing_action(session, code)
    rows = await repository.budget_lines(session, code)
    zero = Decimal(0)
    sums = [
        BudgetSum(code, row["nature"], row["planned"] or zero, row["actual"] or zero, 1)
        for row in rows
    ]
    totals, _ = budget_totals(sums)
    return ActionBudget(
        action=code,
        lines=[budget_line_out(row) for row in rows],
        totals=totals.get(code) or empty_budget(),
    )


async def budget_report(session: AsyncSession, level: Level, year: int | None) -> BudgetReport:
    """Totals for every record of a level, all years together or for one year."""
    depth = LEVEL_DEPTH[level]
    rows = await repository.budget_sums_by_year(session, year)
    by_node: dict[str, list[BudgetSum]] = defaultdict(list)
    every: list[BudgetSum] = []
    for row in rows:
        line = BudgetSum(row.code, row.nature, row.planned, row.actual, row.lines)
        every.append(line)
        by_node[".".join(row.code.split(".")[:depth])].append(line)
    model = plan_repository.MODELS[level]
    titles = await plan_repository.titles(session, model, sorted(by_node))
    items: list[LevelBudget] = []
    for code in sorted(by_node, key=lambda c: [int(p) for p in c.split(".")]):
        totals, _ = budget_totals(by_node[code])
        items.append(LevelBudget(code=code, title=titles[code], year=year, totals=totals[code]))
    _, territory = budget_totals(every)
    return BudgetReport(level=level, year=year, items=items, territory=territory)
