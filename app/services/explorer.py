"""The explorer's pages: what each page shows, gathered from the services the JSON API uses (no
SQL of its own), and the geometry of the indicators' charts (drawn as SVG on the server, so that
a page reads without JavaScript, with a table of the same values beside each chart)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Reader
from app.repositories.indicator import IndicatorFilters, ValueFilters
from app.repositories.plan import NodeFilters
from app.schemas.indicator import IndicatorDetail, ValueOut
from app.schemas.plan import ActionDetail, ActionOut, PlanTree
from app.schemas.territory import TerritoryOut
from app.services import club, commune, indicator, initiative, plan, territory
from app.services.initiative import InitiativeFilters

# Enough for the charts of one page: a longer series is drawn from its latest values.
VALUES_PER_CHART = 500
ACTIONS_PER_COMMUNE = 500
INITIATIVES_PER_PAGE = 500
INDICATORS_PER_PAGE = 50

CHART_WIDTH = 560
CHART_HEIGHT = 220
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 56, 16, 12, 32


@dataclass
class ChartPoint:
    x: float
    y: float
    value: ValueOut


@dataclass
class Chart:
    """An indicator's series as SVG coordinates: results joined by a line, targets apart."""

    indicator: IndicatorDetail
    values: list[ValueOut]
    results: list[ChartPoint] = field(default_factory=list)
    targets: list[ChartPoint] = field(default_factory=list)
    estimates: list[ChartPoint] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT

    @property
    def result_path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.results)


def _when(value: ValueOut) -> date | None:
    return value.period_end or value.period_start


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", " ")


def build_chart(detail: IndicatorDetail, values: Sequence[ValueOut]) -> Chart:
    chart = Chart(indicator=detail, values=list(values))
    dated = [v for v in values if _when(v) is not None]
    if not dated:
        return chart
    days = [_when(v).toordinal() for v in dated]  # type: ignore[union-attr]
    low_x, high_x = min(days), max(days)
    numbers = [v.value for v in dated]
    low_y, high_y = min(0.0, *numbers), max(numbers)
    if high_y == low_y:
        high_y = low_y + 1
    inner_w = CHART_WIDTH - _PAD_LEFT - _PAD_RIGHT
    inner_h = CHART_HEIGHT - _PAD_TOP - _PAD_BOTTOM

    def x_of(day: int) -> float:
        if high_x == low_x:
            return _PAD_LEFT + inner_w / 2
        return _PAD_LEFT + (day - low_x) / (high_x - low_x) * inner_w

    def y_of(number: float) -> float:
        return _PAD_TOP + (high_y - number) / (high_y - low_y) * inner_h

    for value, day in zip(dated, days, strict=True):
        point = ChartPoint(x_of(day), y_of(value.value), value)
        {"result": chart.results, "target": chart.targets}.get(value.kind, chart.estimates).append(
            point
        )
    chart.y_ticks = [
        (y_of(low_y + (high_y - low_y) * step / 4), _number(low_y + (high_y - low_y) * step / 4))
        for step in range(5)
    ]
    years = sorted({date.fromordinal(day).year for day in days})
    stride = max(1, len(years) // 6)
    chart.x_ticks = [
        (x_of(max(low_x, date(year, 1, 1).toordinal())), str(year)) for year in years[::stride]
    ]
    return chart


async def _charts(session: AsyncSession, codes: Sequence[str], commune: str | None) -> list[Chart]:
    charts = []
    filters = ValueFilters(commune=commune, territory_only=commune is None)
    for code in codes:
        detail = await indicator.get_indicator(session, code)
        # The series in chronological pages, of which the latest values are kept.
        values: list[ValueOut] = []
        cursor = None
        while True:
            page = await indicator.list_values(session, code, filters, cursor, VALUES_PER_CHART)
            values = (values + page.items)[-VALUES_PER_CHART:]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        charts.append(build_chart(detail, values))
    return charts


async def _initiatives(
    request: Request, reader: Reader, filters: InitiativeFilters
) -> list[dict[str, Any]]:
    result = await initiative.list_initiatives(request, reader, filters, None, INITIATIVES_PER_PAGE)
    features: list[dict[str, Any]] = orjson.loads(result.body)["features"]
    return features


@dataclass
class HomePage:
    territory: TerritoryOut
    tree: PlanTree


async def home(session: AsyncSession) -> HomePage:
    return HomePage(
        territory=await territory.get_territory(session), tree=await plan.plan_tree(session)
    )


async def territory_summary(session: AsyncSession) -> TerritoryOut:
    return await territory.get_territory(session)


@dataclass
class ActionPage:
    action: ActionDetail
    charts: list[Chart]
    initiatives: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    ratings: dict[str, Any]


async def action_page(
    session: AsyncSession, reader: Reader, request: Request, code: str
) -> ActionPage:
    action = await plan.get_action(session, code)
    return ActionPage(
        action=action,
        charts=await _charts(session, [i.code for i in action.indicators], None),
        initiatives=await _initiatives(request, reader, InitiativeFilters(action=code)),
        comments=await club.thread(session, code),
        ratings=await club.rating_summary(session, code),
    )


@dataclass
class CommunePage:
    commune: dict[str, Any]
    actions: list[ActionOut]
    initiatives: list[dict[str, Any]]
    charts: list[Chart]


async def commune_page(
    session: AsyncSession, reader: Reader, request: Request, insee: str
) -> CommunePage:
    feature = await commune.get_commune(session, insee)
    actions = await plan.list_actions(
        session, NodeFilters(commune=insee), None, ACTIONS_PER_COMMUNE
    )
    indicators = await indicator.list_indicators(
        session, IndicatorFilters(commune=insee), None, INDICATORS_PER_PAGE
    )
    return CommunePage(
        commune=feature,
        actions=actions.items,
        initiatives=await _initiatives(request, reader, InitiativeFilters(commune=insee)),
        charts=await _charts(session, [i.code for i in indicators.items], insee),
    )


async def communes(session: AsyncSession) -> list[dict[str, Any]]:
    """Name and INSEE code of every member commune (the geometry is left out)."""
    collection = await commune.list_communes(session, None)
    return [f["properties"] for f in collection["features"]]


async def map_initiatives(
    session: AsyncSession,
    reader: Reader,
    request: Request,
    axis: str | None,
    commune_insee: str | None,
) -> list[dict[str, Any]]:
    """The initiatives listed under the map (its text alternative), with the map's filters."""
    return await _initiatives(
        request, reader, InitiativeFilters(category=axis, commune=commune_insee)
    )


async def map_actions(
    session: AsyncSession, axis: str | None, commune_insee: str | None, status: str | None
) -> list[ActionOut]:
    """The actions the map's filters keep (listed beside the map: its status filter, in text)."""
    filters = NodeFilters(
        axis=axis, commune=commune_insee, statuses=[status] if status is not None else None
    )
    return (await plan.list_actions(session, filters, None, ACTIONS_PER_COMMUNE)).items


def explorer_path(dataset: str, key: str) -> str | None:
    """The explorer's page of a search hit, when it has one."""
    if dataset == "actions" or dataset == "milestones":
        return f"/action/{key.rsplit('-', 1)[0]}"
    if dataset == "communes":
        return f"/commune/{key}"
    if dataset == "initiatives":
        return f"/map#initiative-{key}"
    if dataset in ("axes", "ambitions", "objectives"):
        return f"/#node-{key}"
    return None


async def action_card(session: AsyncSession, code: str) -> ActionDetail:
    return await plan.get_action(session, code)


@dataclass
class CommuneCard:
    commune: dict[str, Any]
    actions: list[ActionOut]
    statuses: list[tuple[str | None, int]]


async def commune_card(session: AsyncSession, insee: str) -> CommuneCard:
    feature = await commune.get_commune(session, insee)
    actions = await plan.list_actions(
        session, NodeFilters(commune=insee), None, ACTIONS_PER_COMMUNE
    )
    counts: dict[str | None, int] = {}
    for item in actions.items:
        key = item.status.value if item.status else None
        counts[key] = counts.get(key, 0) + 1
    return CommuneCard(
        commune=feature,
        actions=actions.items,
        statuses=sorted(counts.items(), key=lambda pair: -pair[1]),
    )
