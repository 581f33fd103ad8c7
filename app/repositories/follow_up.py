"""Milestones and budget lines of an action; budget sums per year."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.follow_up import BudgetLine, Milestone
from app.models.plan import Action


async def milestones(session: AsyncSession, action_code: str) -> Sequence[RowMapping]:
    query = (
        select(*Milestone.__table__.c)
        .join(Action, Action.id == Milestone.action_id)
        .where(Action.code == action_code)
        .order_by(Milestone.milestone_date, Milestone.position)
    )
    return (await session.execute(query)).mappings().all()


async def budget_lines(session: AsyncSession, action_code: str) -> Sequence[RowMapping]:
    query = (
        select(*BudgetLine.__table__.c)
        .join(Action, Action.id == BudgetLine.action_id)
        .where(Action.code == action_code)
        .order_by(BudgetLine.year, BudgetLine.nature)
    )
    return (await session.execute(query)).mappings().all()


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
