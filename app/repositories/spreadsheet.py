"""Reads for the spreadsheet export, and what an import may refer to."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

# Every column the spreadsheet holds, in its order, with the parent's code; rows in code order.
_EXPORTS = {
    "axes": """
        SELECT code, title, description, weight, source_excerpt FROM axis ORDER BY code_path
    """,
    "ambitions": """
        SELECT a.code, p.code AS axis_code, a.title, a.description, a.weight, a.source_excerpt
        FROM ambition a JOIN axis p ON p.id = a.axis_id ORDER BY a.code_path
    """,
    "objectives": """
        SELECT o.code, p.code AS ambition_code, o.title, o.description, o.weight, o.source_excerpt
        FROM objective o JOIN ambition p ON p.id = o.ambition_id ORDER BY o.code_path
    """,
    "actions": """
        SELECT a.code, p.code AS objective_code, a.title, a.description, a.weight, a.status,
               a.status_excerpt, a.progress, a.lead, a.partners,
               coalesce((SELECT array_agg(commune_insee ORDER BY commune_insee)
                         FROM action_commune WHERE action_id = a.id), '{}') AS communes,
               a.start_date, a.start_date_precision, a.end_date, a.source_excerpt
        FROM action a JOIN objective p ON p.id = a.objective_id ORDER BY a.code_path
    """,
    "indicators": """
        SELECT i.code, i.name, i.description, i.unit, i.direction, i.frequency,
               i.source_producer, i.source_method, i.source_limits, i.source_url,
               array(
                   SELECT code FROM (
                       SELECT m.code, m.code_path FROM indicator_ambition l
                       JOIN ambition m ON m.id = l.ambition_id WHERE l.indicator_id = i.id
                       UNION ALL
                       SELECT m.code, m.code_path FROM indicator_objective l
                       JOIN objective m ON m.id = l.objective_id WHERE l.indicator_id = i.id
                       UNION ALL
                       SELECT m.code, m.code_path FROM indicator_action l
                       JOIN action m ON m.id = l.action_id WHERE l.indicator_id = i.id
                   ) linked ORDER BY code_path
               ) AS measures,
               i.source_excerpt
        FROM indicator i ORDER BY i.code COLLATE "C"
    """,
    "indicator_values": """
        SELECT i.code AS indicator_code, v.kind, v.period_start, v.period_end, v.period_label,
               v.value, v.commune_insee AS commune, v.comment, v.source, v.source_excerpt
        FROM indicator_value v JOIN indicator i ON i.id = v.indicator_id
        ORDER BY i.code COLLATE "C", v.sort_date, v.id
    """,
    "budget_lines": """
        SELECT a.code AS action_code, b.year, b.nature, b.planned, b.actual, b.comment,
               b.source_excerpt
        FROM budget_line b JOIN action a ON a.id = b.action_id
        ORDER BY a.code_path, b.year, b.nature
    """,
    "milestones": """
        SELECT a.code AS action_code, m.position, m.milestone_date AS date, m.date_precision,
               m.title, m.description, m.status, m.reached, m.progress, m.source_excerpt
        FROM milestone m JOIN action a ON a.id = m.action_id
        ORDER BY a.code_path, m.position
    """,
}


async def export_rows(session: AsyncSession, sheet: str) -> Sequence[Row[Any]]:
    result = await session.execute(text(_EXPORTS[sheet]))
    return result.all()


async def plan_codes(session: AsyncSession) -> dict[str, set[str]]:
    codes: dict[str, set[str]] = {}
    for level in ("axis", "ambition", "objective", "action"):
        result = await session.execute(text(f"SELECT code FROM {level}"))  # noqa: S608
        codes[level] = set(result.scalars())
    return codes


async def indicator_units(session: AsyncSession) -> dict[str, str]:
    result = await session.execute(text("SELECT code, unit FROM indicator"))
    return {row.code: row.unit for row in result}


async def commune_codes(session: AsyncSession) -> set[str]:
    return set((await session.execute(text("SELECT insee FROM commune"))).scalars())
