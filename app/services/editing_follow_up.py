"""Editing an action's follow-up: its budget lines (one per year and nature) and its milestones
(one per position)."""

from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ConflictError, NotFoundError
from app.repositories import editing as repository
from app.schemas.editing import (
    BudgetCreate,
    BudgetLineRecord,
    BudgetPatch,
    MilestoneCreate,
    MilestonePatch,
    MilestoneRecord,
)
from app.services.editing import ACTIONS, BUDGET, MILESTONES, check_not_null, node_row, plain_values


async def _action(session: AsyncSession, code: str) -> RowMapping:
    return await node_row(session, ACTIONS, code)


def budget_record(row: RowMapping, action: str) -> BudgetLineRecord:
    return BudgetLineRecord(
        key=row["line_key"],
        action=action,
        year=row["year"],
        nature=row["nature"],
        planned=None if row["planned"] is None else float(row["planned"]),
        actual=None if row["actual"] is None else float(row["actual"]),
        comment=row["comment"],
        source_excerpt=row["source_excerpt"],
    )


async def _budget_line(session: AsyncSession, code: str, key: str) -> RowMapping:
    action = await _action(session, code)
    found = await repository.row(
        session, BUDGET, BUDGET.c.line_key == key, BUDGET.c.action_id == action["id"]
    )
    if found is None:
        raise NotFoundError(f"The action {code} has no budget line {key}.")
    return found


async def check_budget_line(session: AsyncSession, code: str, key: str) -> None:
    """404 unless the action has this budget line (without building its record)."""
    await _budget_line(session, code, key)


async def get_budget_line(session: AsyncSession, code: str, key: str) -> BudgetLineRecord:
    return budget_record(await _budget_line(session, code, key), code)


async def create_budget_line(session: AsyncSession, code: str, body: BudgetCreate) -> str:
    action = await _action(session, code)
    values = plain_values(body.given())
    taken = await repository.exists(
        session,
        BUDGET,
        BUDGET.c.action_id == action["id"],
        BUDGET.c.year == body.year,
        BUDGET.c.nature == body.nature.value,
    )
    if taken:
        raise ConflictError(
            f"The action {code} has a {body.nature.value} line for {body.year} already: PATCH it."
        )
    # line_key is set by a trigger; a placeholder satisfies NOT NULL until then.
    created = await repository.insert_row(
        session, BUDGET, {**values, "action_id": action["id"], "line_key": ""}
    )
    return str(created["line_key"])


async def update_budget_line(session: AsyncSession, code: str, key: str, body: BudgetPatch) -> None:
    current = await _budget_line(session, code, key)
    await repository.update_row(session, BUDGET, current["id"], plain_values(body.given()))


async def delete_budget_line(session: AsyncSession, code: str, key: str, path: str) -> None:
    current = await _budget_line(session, code, key)
    mark = await repository.audit_mark(session)
    await repository.delete_rows(session, BUDGET, BUDGET.c.id == current["id"])
    await repository.record_deletion(session, mark, "budget_line", key, path)


def milestone_record(row: RowMapping, action: str) -> MilestoneRecord:
    return MilestoneRecord(
        key=row["milestone_key"],
        action=action,
        position=row["position"],
        date=row["milestone_date"],
        date_precision=row["date_precision"],
        title=row["title"],
        description=row["description"],
        status=row["status"],
        reached=row["reached"],
        progress=None if row["progress"] is None else float(row["progress"]),
        source_excerpt=row["source_excerpt"],
    )


async def _milestone(session: AsyncSession, code: str, key: str) -> RowMapping:
    action = await _action(session, code)
    found = await repository.row(
        session,
        MILESTONES,
        MILESTONES.c.milestone_key == key,
        MILESTONES.c.action_id == action["id"],
    )
    if found is None:
        raise NotFoundError(f"The action {code} has no milestone {key}.")
    return found


async def check_milestone(session: AsyncSession, code: str, key: str) -> None:
    """404 unless the action has this milestone (without building its record)."""
    await _milestone(session, code, key)


async def get_milestone(session: AsyncSession, code: str, key: str) -> MilestoneRecord:
    return milestone_record(await _milestone(session, code, key), code)


def _milestone_columns(given: dict[str, Any]) -> dict[str, Any]:
    values = plain_values(given)
    if "date" in values:
        values["milestone_date"] = values.pop("date")
    return values


async def create_milestone(session: AsyncSession, code: str, body: MilestoneCreate) -> str:
    check_not_null(body.given())
    action = await _action(session, code)
    taken = await repository.exists(
        session,
        MILESTONES,
        MILESTONES.c.action_id == action["id"],
        MILESTONES.c.position == body.position,
    )
    if taken:
        raise ConflictError(f"The action {code} has a milestone at position {body.position}.")
    created = await repository.insert_row(
        session,
        MILESTONES,
        {**_milestone_columns(body.given()), "action_id": action["id"], "milestone_key": ""},
    )
    return str(created["milestone_key"])


async def update_milestone(
    session: AsyncSession, code: str, key: str, body: MilestonePatch
) -> None:
    current = await _milestone(session, code, key)
    given = body.given()
    check_not_null(given)
    await repository.update_row(session, MILESTONES, current["id"], _milestone_columns(given))


async def delete_milestone(session: AsyncSession, code: str, key: str, path: str) -> None:
    current = await _milestone(session, code, key)
    mark = await repository.audit_mark(session)
    await repository.delete_rows(session, MILESTONES, MILESTONES.c.id == current["id"])
    await repository.record_deletion(session, mark, "milestone", key, path)
