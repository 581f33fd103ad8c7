"""Milestones and budget lines of an action; budget sums per year."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.follow_up import BudgetLine, Milestone
from app.models.plan import Action


async def _of_action(
    session: AsyncSession, model: type[Milestone | BudgetLine], action_code: str, *order: Any
) -> Sequence[RowMapping]:
    """The rows of `model` that belong to the action, in the given order."""
    query = (
        select(*model.__table__.c)
        .join(Action, Action.id == model.action_id)
        .where(Action.code == action_code)
        .order_by(*order)
    )
    return (await session.execute(query)).mappings().all()


async def milestones(session: AsyncSession, action_code: str) -> Sequence[RowMapping]:
    return await _of_action(
        session, Milestone, action_code, Milestone.milestone_date, Milestone.position
    )


async def budget_lines(session: AsyncSession, action_code: str) -> Sequence[RowMapping]:
    return await _of_action(session, BudgetLine, action_code, BudgetLine.year, BudgetLine.nature)


async def budget_sums_by_year(session: AsyncSession, year: int | None) -> Sequence[Any]:
    """Sums per action, year and nature (of one year when given)."""
    query = (
        select(
            Action.code,
            BudgetLine.year,
            BudgetLine.nature,
            func.coalesce(func.sum(BudgetLine.planned), 0).label("planned"),
            func.coalesce(func.sum(BudgetLine.actual), 0).label("actual"),
            func.count().label("lines"),
        )
        .join(Action, Action.id == BudgetLine.action_id)
        .group_by(Action.code, BudgetLine.year, BudgetLine.nature)
    )
    if year is not None:
        query = query.where(BudgetLine.year == year)
    return (await session.execute(query)).all()
