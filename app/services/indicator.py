"""Indicators as published: pages, details, series of values (JSON and CSV), progress to target.

Progress towards the target, as published with each figure:
- the latest result is the result dated last (undated results come before dated ones);
- the current target is the first target dated on or after the latest result, else the target
  dated last; undated targets count only when no target is dated;
- the baseline is the earliest result, when the series has two results or more;
- with a baseline: round(100 × (latest − baseline) / (target − baseline), 2);
- without one (a single result, or a baseline equal to the target): for "higher is better"
  round(100 × latest / target, 2), for "lower is better" round(100 × target / latest, 2).
"""

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.models.follow_up import Direction, Frequency, ValueKind
from app.repositories import indicator as repository
from app.repositories.indicator import IndicatorFilters, ValueFilters
from app.schemas.common import Page
from app.schemas.indicator import (
    IndicatorDetail,
    IndicatorOut,
    IndicatorProgress,
    IndicatorSource,
    Measures,
    ValueOut,
)
from app.services.pagination import (
    decode_indicator_cursor,
    decode_value_cursor,
    encode_indicator_cursor,
    encode_value_cursor,
)
from app.services.spreadsheet_sheets import SHEETS

CENT = Decimal("0.01")
RULE = (
    "latest result: the result dated last (undated results before dated ones); current target: "
    "the first target dated on or after the latest result, else the target dated last (undated "
    "targets only when none is dated); baseline: the earliest result, when there are two or more"
)
BASELINE_FORMULA = "round(100 × (latest − baseline) / (target − baseline), 2)"
RATIO_FORMULA = {
    Direction.higher_is_better: "round(100 × latest / target, 2)",
    Direction.lower_is_better: "round(100 × target / latest, 2)",
}
# The series CSV has the columns of the spreadsheet's sheet of values (a dataset may load it).
CSV_COLUMNS = SHEETS["indicator_values"]


def indicator_out(row: RowMapping) -> IndicatorOut:
    return IndicatorOut(
        code=row["code"],
        name=row["name"],
        description=row["description"],
        unit=row["unit"],
        direction=Direction(row["direction"]) if row["direction"] else None,
        frequency=Frequency(row["frequency"]) if row["frequency"] else None,
        source=IndicatorSource(
            producer=row["source_producer"],
            method=row["source_method"],
            limits=row["source_limits"],
            url=row["source_url"],
        ),
        source_excerpt=row["source_excerpt"],
        measures=Measures(
            ambitions=list(row["ambitions"]),
            objectives=list(row["objectives"]),
            actions=list(row["actions"]),
        ),
        value_count=row["value_count"],
        updated_at=row["updated_at"],
    )


def format_decimal(value: Decimal) -> str:
    """A plain decimal ("0.5", "1200"): never an exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


def value_out(row: RowMapping) -> ValueOut:
    return ValueOut(
        kind=ValueKind(row["kind"]),
        period_start=row["period_start"],
        period_end=row["period_end"],
        period_label=row["period_label"],
        value=float(row["value"]),
        commune=row["commune"],
        comment=row["comment"],
        source=row["source"],
        source_excerpt=row["source_excerpt"],
    )


async def _indicator(session: AsyncSession, code: str) -> RowMapping:
    row = await repository.get_indicator(session, code)
    if row is None:
        raise NotFoundError(f"No indicator with code '{code}'.")
    return row


async def list_indicators(
    session: AsyncSession, filters: IndicatorFilters, cursor: str | None, limit: int
) -> Page[IndicatorOut]:
    after = decode_indicator_cursor(cursor) if cursor else None
    rows = await repository.list_indicators(session, filters, after=after, limit=limit + 1)
    next_cursor = encode_indicator_cursor(rows[limit - 1]["code"]) if len(rows) > limit else None
    return Page(items=[indicator_out(row) for row in rows[:limit]], next_cursor=next_cursor)


def _dated(row: RowMapping) -> bool:
    return row["period_start"] is not None


def pick(
    rows: Sequence[RowMapping],
) -> tuple[RowMapping | None, RowMapping | None, RowMapping | None]:
    """Baseline, latest result and current target of one series in chronological order."""
    results = [row for row in rows if row["kind"] == "result"]
    targets = [row for row in rows if row["kind"] == "target"]
    latest = results[-1] if results else None
    baseline = results[0] if len(results) >= 2 else None
    dated_targets = [row for row in targets if _dated(row)] or targets
    target = None
    if dated_targets:
        target = dated_targets[-1]
        if latest is not None and _dated(latest):
            after = [t for t in dated_targets if t["sort_date"] >= latest["sort_date"]]
            if after:
                target = after[0]
    return baseline, latest, target


def progress_to_target(
    direction: Direction | None,
    baseline: RowMapping | None,
    latest: RowMapping | None,
    target: RowMapping | None,
) -> tuple[Decimal | None, bool | None, str, str, str | None]:
    """Value, achieved, method, formula, reason."""
    if latest is None or target is None:
        missing = "result" if latest is None else "target"
        return None, None, "none", "no progress without a result and a target", f"no {missing}"
    if direction is None:
        return None, None, "none", "no progress without a direction", "no direction"
    result, aim = Decimal(latest["value"]), Decimal(target["value"])
    achieved = result >= aim if direction == Direction.higher_is_better else result <= aim
    try:
        if baseline is not None and Decimal(baseline["value"]) != aim:
            start = Decimal(baseline["value"])
            value = Decimal(100) * (result - start) / (aim - start)
            method, formula = "baseline", BASELINE_FORMULA
        else:
            if direction == Direction.higher_is_better:
                value = Decimal(100) * result / aim
            else:
                value = Decimal(100) * aim / result
            method, formula = "ratio", RATIO_FORMULA[direction]
    except (ZeroDivisionError, InvalidOperation):
        return None, achieved, "none", "no progress: division by zero", "division by zero"
    return value.quantize(CENT, ROUND_HALF_UP), achieved, method, formula, None


async def get_indicator(session: AsyncSession, code: str) -> IndicatorDetail:
    row = await _indicator(session, code)
    series = await repository.series_for_progress(session, row["id"], None)
    _, latest, target = pick(series)
    return IndicatorDetail(
        **dict(indicator_out(row)),
        latest_result=value_out(latest) if latest else None,
        current_target=value_out(target) if target else None,
        communes=await repository.value_communes(session, row["id"]),
    )


async def indicator_progress(
    session: AsyncSession, code: str, commune: str | None
) -> IndicatorProgress:
    row = await _indicator(session, code)
    direction = Direction(row["direction"]) if row["direction"] else None
    series = await repository.series_for_progress(session, row["id"], commune)
    baseline, latest, target = pick(series)
    value, achieved, method, formula, reason = progress_to_target(
        direction, baseline, latest, target
    )
    return IndicatorProgress(
        indicator=code,
        commune=commune,
        direction=direction,
        baseline=value_out(baseline) if baseline else None,
        latest_result=value_out(latest) if latest else None,
        current_target=value_out(target) if target else None,
        value=None if value is None else float(value),
        achieved=achieved,
        method=method,
        formula=formula,
        rule=RULE,
        reason=reason,
    )


async def list_values(
    session: AsyncSession, code: str, filters: ValueFilters, cursor: str | None, limit: int
) -> Page[ValueOut]:
    row = await _indicator(session, code)
    after = decode_value_cursor(cursor) if cursor else None
    rows = await repository.list_values(session, row["id"], filters, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_value_cursor(last["sort_date"], last["id"])
    return Page(items=[value_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


async def values_csv(session: AsyncSession, code: str, filters: ValueFilters) -> str:
    """The whole filtered series as CSV: UTF-8, comma, ISO dates, '.' decimals."""
    row = await _indicator(session, code)
    rows = await repository.list_values(session, row["id"], filters)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for value in rows:
        writer.writerow(
            [code, *(_cell(value[c]) for c in CSV_COLUMNS[1:6]), _cell(value["commune"])]
            + [_cell(value[c]) for c in CSV_COLUMNS[7:]]
        )
    return out.getvalue()
