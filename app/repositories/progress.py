"""What the progress roll-up and the budget totals are computed from: one query each."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

_INPUTS = text(
    """
    SELECT 4 AS depth, a.code, o.code AS parent, a.weight, a.progress,
           m.position, m.milestone_date, m.title, m.progress AS milestone_progress, a.code_path
    FROM action a
    JOIN objective o ON o.id = a.objective_id
    LEFT JOIN LATERAL (
        SELECT position, milestone_date, title, progress FROM milestone
        WHERE milestone.action_id = a.id AND reached AND progress IS NOT NULL
        ORDER BY milestone_date DESC, position DESC
        LIMIT 1
    ) m ON true
    UNION ALL
    SELECT 3, o.code, p.code, o.weight, NULL, NULL, NULL, NULL, NULL, o.code_path
    FROM objective o JOIN ambition p ON p.id = o.ambition_id
    UNION ALL
    SELECT 2, a.code, p.code, a.weight, NULL, NULL, NULL, NULL, NULL, a.code_path
    FROM ambition a JOIN axis p ON p.id = a.axis_id
    UNION ALL
    SELECT 1, code, NULL, weight, NULL, NULL, NULL, NULL, NULL, code_path FROM axis
    ORDER BY depth DESC, code_path
    """
)

_BUDGET = text(
    """
    SELECT a.code, b.nature, coalesce(sum(b.planned), 0) AS planned,
           coalesce(sum(b.actual), 0) AS actual, count(*) AS lines
    FROM budget_line b JOIN action a ON a.id = b.action_id
    GROUP BY a.code, b.nature
    """
)


async def progress_inputs(session: AsyncSession) -> Sequence[Row[Any]]:
    """Every record of the plan with its parent's code and its weight, deepest level first, each
    level in code order; actions with their set progress and latest reached milestone."""
    return (await session.execute(_INPUTS)).all()


async def budget_sums(session: AsyncSession) -> Sequence[Row[Any]]:
    """Sums of the budget lines per action and nature."""
    return (await session.execute(_BUDGET)).all()
