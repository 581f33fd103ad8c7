"""A small plan computed by hand, written over the CALL plan inside the test's transaction."""

from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import plan_data_write
from app.services.plan_data import BudgetRecord, MilestoneRecord, NodeRecord, PlanData

# Everything that hangs on the plan, children first.
FOLLOW_UP_TABLES = (
    "initiative_action",
    "initiative",
    "milestone",
    "budget_line",
    "indicator_value",
    "indicator_ambition",
    "indicator_objective",
    "indicator_action",
    "indicator",
    "action_commune",
    "action",
    "objective",
    "ambition",
    "axis",
)


async def clear_plan(session: AsyncSession) -> None:
    for table in FOLLOW_UP_TABLES:
        await session.execute(text(f"DELETE FROM {table}"))


def node(code: str, weight: str = "1", progress: str | None = None) -> NodeRecord:
    level = ("axis", "ambition", "objective", "action")[code.count(".")]
    return NodeRecord(
        level=level,
        code=code,
        parent=code.rsplit(".", 1)[0] if "." in code else None,
        title=f"{level} {code}",
        file="test",
        where=code,
        weight=Decimal(weight),
        progress=None if progress is None else Decimal(progress),
    )


def milestone(
    action: str, position: int, day: str, progress: str | None, reached: bool
) -> MilestoneRecord:
    return MilestoneRecord(
        action=action,
        position=position,
        milestone_date=date.fromisoformat(day),
        title=f"step {position}",
        file="test",
        where=f"{action}/{position}",
        reached=reached,
        progress=None if progress is None else Decimal(progress),
        status="in_progress",
    )


def budget(
    action: str, year: int, nature: str, planned: str | None, actual: str | None
) -> BudgetRecord:
    return BudgetRecord(
        action=action,
        year=year,
        nature=nature,
        planned=None if planned is None else Decimal(planned),
        actual=None if actual is None else Decimal(actual),
        file="test",
        where=f"{action}/{year}/{nature}",
    )


def hand_tree() -> PlanData:
    """Weights, set progress, milestones, missing data; the expected figures are in the tests."""
    return PlanData(
        nodes=[
            node("1"),
            node("1.1", weight="2"),
            node("1.1.1"),
            node("1.1.1.1", progress="50"),
            node("1.1.1.2", weight="3", progress="10"),
            node("1.1.2"),
            node("1.1.2.1"),  # from its milestones
            node("1.1.2.2"),  # no data
            node("1.2"),
            node("1.2.1"),
            node("1.2.1.1", progress="100"),  # set: wins over its milestone
            node("2", weight="0.5"),
            node("2.1"),
            node("2.1.1"),
            node("2.1.1.1", progress="33.33"),
            node("2.1.1.2", progress="66.67"),
            node("2.1.1.3", progress="0"),
            node("2.1.2"),  # no action
            node("3"),  # no ambition
        ],
        milestones=[
            milestone("1.1.2.1", 1, "2024-01-01", "25", reached=True),
            milestone("1.1.2.1", 2, "2024-06-01", "40", reached=True),
            milestone("1.1.2.1", 3, "2025-01-01", "100", reached=False),
            milestone("1.1.2.1", 4, "2024-03-01", None, reached=True),
            milestone("1.1.2.2", 1, "2024-01-01", None, reached=True),
            milestone("1.2.1.1", 1, "2024-01-01", "10", reached=True),
        ],
        budget_lines=[
            budget("1.1.1.1", 2024, "investment", "1000.50", "800"),
            budget("1.1.1.1", 2024, "operating", "200", None),
            budget("1.2.1.1", 2025, "investment", "5000", "5000"),
        ],
    )


async def write_hand_tree(session: AsyncSession) -> None:
    await clear_plan(session)
    await plan_data_write.write(session, hand_tree())
    await session.flush()
