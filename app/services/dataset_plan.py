"""The plan of a dataset (plan.yaml, indicators.yaml) turned into the records that the plan data
checks and writes."""

from collections.abc import Iterator

from app.schemas.dataset import ActionFile, IndicatorsFile, NodeFile, PlanFile
from app.services.dataset_files import INDICATORS_FILE, PLAN_FILE
from app.services.plan_data import (
    BudgetRecord,
    IndicatorRecord,
    MilestoneRecord,
    NodeRecord,
    PlanData,
    ValueRecord,
)


def plan_nodes(plan: PlanFile) -> Iterator[tuple[str, NodeFile, str | None]]:
    """Every node of the plan with its level name and its parent's code."""
    for axis in plan.axes:
        yield "axis", axis, None
        for ambition in axis.ambitions:
            yield "ambition", ambition, axis.code
            for objective in ambition.objectives:
                yield "objective", objective, ambition.code
                for action in objective.actions:
                    yield "action", action, objective.code


def _node_record(level: str, node: NodeFile, parent: str | None) -> NodeRecord:
    record = NodeRecord(
        level=level,
        code=node.code,
        parent=parent,
        title=node.title,
        file=PLAN_FILE,
        where=f"{level} {node.code}",
        description=node.description,
        source_excerpt=node.source_excerpt,
        weight=node.weight,
    )
    if isinstance(node, ActionFile):
        record.status = node.status.value if node.status else None
        record.status_excerpt = node.status_excerpt
        record.lead = node.lead
        record.partners = list(node.partners)
        record.communes = list(node.communes)
        record.start_date = node.start_date
        record.start_date_precision = (
            node.start_date_precision.value if node.start_date_precision else None
        )
        record.end_date = node.end_date
        record.progress = node.progress
    return record


def plan_records(plan: PlanFile, indicators: IndicatorsFile | None) -> PlanData:
    """The records the files describe, each with where it comes from."""
    data = PlanData()
    for level, node, parent in plan_nodes(plan):
        data.nodes.append(_node_record(level, node, parent))
        if not isinstance(node, ActionFile):
            continue
        for index, milestone in enumerate(node.milestones):
            data.milestones.append(
                MilestoneRecord(
                    action=node.code,
                    position=milestone.position,
                    milestone_date=milestone.date,
                    title=milestone.title,
                    file=PLAN_FILE,
                    where=f"action {node.code} milestones[{index}]",
                    date_precision=milestone.date_precision.value
                    if milestone.date_precision
                    else None,
                    description=milestone.description,
                    status=milestone.status.value if milestone.status else None,
                    reached=milestone.reached,
                    progress=milestone.progress,
                    source_excerpt=milestone.source_excerpt,
                )
            )
        for index, line in enumerate(node.budget):
            data.budget_lines.append(
                BudgetRecord(
                    action=node.code,
                    year=line.year,
                    nature=line.nature.value,
                    planned=line.planned,
                    actual=line.actual,
                    file=PLAN_FILE,
                    where=f"action {node.code} budget[{index}]",
                    comment=line.comment,
                    source_excerpt=line.source_excerpt,
                )
            )
    for indicator in indicators.indicators if indicators else []:
        where = f"indicator {indicator.code}"
        data.indicators.append(
            IndicatorRecord(
                code=indicator.code,
                name=indicator.name,
                unit=indicator.unit,
                file=INDICATORS_FILE,
                where=where,
                description=indicator.description,
                direction=indicator.direction.value if indicator.direction else None,
                frequency=indicator.frequency.value if indicator.frequency else None,
                source_producer=indicator.source.producer,
                source_method=indicator.source.method,
                source_limits=indicator.source.limits,
                source_url=indicator.source.url,
                source_excerpt=indicator.source_excerpt,
                measures=list(indicator.measures),
            )
        )
        for index, value in enumerate(indicator.values):
            data.values.append(
                ValueRecord(
                    indicator=indicator.code,
                    kind=value.kind.value,
                    period_start=value.period_start,
                    period_end=value.period_end,
                    period_label=value.period_label,
                    value=value.value,
                    commune=value.commune,
                    comment=value.comment,
                    source=value.source,
                    source_excerpt=value.source_excerpt,
                    file=INDICATORS_FILE,
                    where=f"{where} values[{index}]",
                )
            )
    return data
