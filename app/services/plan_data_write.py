"""Writing the plan records in one transaction: upsert by code or natural key, links made those of
the file, nothing deleted, nothing written (not even a sequence) when nothing changed."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.follow_up import INDICATOR_LINKS, BudgetLine, Indicator, Milestone
from app.repositories import dataset as repository
from app.repositories.dataset import Changes
from app.services.plan_data import DEPTH, LEVELS, MODELS, PARENT_COLUMN, NodeRecord, PlanData


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
