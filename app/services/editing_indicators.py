"""Editing indicators and their values: an indicator's code is permanent, what it measures are
codes of the plan, a value is one per indicator, kind, commune and period."""

from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ConflictError, InvalidBodyError, NotFoundError
from app.models.follow_up import INDICATOR_LINKS, VALUE_POINT
from app.repositories import dataset as dataset_repository
from app.repositories import editing as repository
from app.schemas.editing import (
    IndicatorCreate,
    IndicatorPatch,
    IndicatorValueOut,
    ValueCreate,
    ValuePatch,
)
from app.services.editing import (
    BY_DEPTH,
    INDICATORS,
    VALUES,
    check_code_not_reused,
    check_not_null,
    plain_values,
)
from app.services.plan_data import PERCENT_UNIT

INDICATOR_COLUMNS = (
    "name",
    "description",
    "unit",
    "direction",
    "frequency",
    "source_producer",
    "source_method",
    "source_limits",
    "source_url",
    "source_excerpt",
)


async def _indicator(session: AsyncSession, code: str) -> RowMapping:
    found = await repository.row(session, INDICATORS, INDICATORS.c.code == code)
    if found is None:
        raise NotFoundError(f"No indicator with code '{code}'.")
    return found


async def check_indicator(session: AsyncSession, code: str) -> None:
    """404 unless the indicator exists (without building its detail: series, communes)."""
    await _indicator(session, code)


async def _sync_measures(session: AsyncSession, indicator_id: int, codes: list[str]) -> None:
    wanted: dict[str, set[tuple[int, Any]]] = {name: set() for name in INDICATOR_LINKS}
    unknown: list[str] = []
    for code in dict.fromkeys(codes):
        level = BY_DEPTH[code.count(".") + 1]
        if level.name not in INDICATOR_LINKS:
            unknown.append(f"{code} (an axis is measured through its ambitions)")
            continue
        node = await repository.row(session, level.table, level.table.c.code == code)
        if node is None:
            unknown.append(code)
        else:
            wanted[level.name].add((indicator_id, node["id"]))
    if unknown:
        raise InvalidBodyError(
            {"measures": f"no ambition, objective or action {', '.join(unknown)}"}
        )
    for name, link in INDICATOR_LINKS.items():
        await dataset_repository.sync_links(
            session, link, "indicator_id", f"{name}_id", [indicator_id], wanted[name]
        )


async def create_indicator(session: AsyncSession, body: IndicatorCreate) -> str:
    given = body.given()
    values = plain_values({k: v for k, v in given.items() if k in INDICATOR_COLUMNS})
    if await repository.exists(session, INDICATORS, INDICATORS.c.code == body.code):
        raise ConflictError(f"The indicator {body.code} exists already; codes are never reused.")
    await check_code_not_reused(session, "indicator", body.code)
    created = await repository.insert_row(session, INDICATORS, {"code": body.code, **values})
    await _sync_measures(session, created["id"], body.measures or [])
    return body.code


async def update_indicator(session: AsyncSession, code: str, body: IndicatorPatch) -> None:
    current = await _indicator(session, code)
    given = body.given()
    check_not_null(given)
    if "code" in given and given["code"] != code:
        raise InvalidBodyError({"code": "codes are permanent: create a new indicator instead"})
    values = plain_values({k: v for k, v in given.items() if k in INDICATOR_COLUMNS})
    if values.get("unit") == PERCENT_UNIT and current["unit"] != PERCENT_UNIT:
        outside = await repository.exists(
            session, VALUES, VALUES.c.indicator_id == current["id"], ~VALUES.c.value.between(0, 100)
        )
        if outside:
            raise InvalidBodyError({"unit": "'%' needs every value between 0 and 100"})
    await repository.update_row(session, INDICATORS, current["id"], values)
    if "measures" in given:
        await _sync_measures(session, current["id"], given["measures"] or [])


async def delete_indicator(session: AsyncSession, code: str, path: str) -> None:
    current = await _indicator(session, code)
    mark = await repository.audit_mark(session)
    for link in INDICATOR_LINKS.values():
        await repository.delete_rows(session, link, link.c.indicator_id == current["id"])
    await repository.delete_rows(session, VALUES, VALUES.c.indicator_id == current["id"])
    await repository.delete_rows(session, INDICATORS, INDICATORS.c.id == current["id"])
    await repository.record_deletion(session, mark, "indicator", code, path)


def value_record(row: RowMapping, indicator: str) -> IndicatorValueOut:
    return IndicatorValueOut(
        id=row["id"],
        indicator=indicator,
        kind=row["kind"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        period_label=row["period_label"],
        value=float(row["value"]),
        commune=row["commune_insee"],
        comment=row["comment"],
        source=row["source"],
        source_excerpt=row["source_excerpt"],
    )


async def _value(session: AsyncSession, code: str, value_id: int) -> tuple[RowMapping, RowMapping]:
    indicator = await _indicator(session, code)
    found = await repository.row(
        session, VALUES, VALUES.c.id == value_id, VALUES.c.indicator_id == indicator["id"]
    )
    if found is None:
        raise NotFoundError(f"The indicator {code} has no value {value_id}.")
    return indicator, found


async def check_value(session: AsyncSession, code: str, value_id: int) -> None:
    """404 unless the indicator has this value (without building its record)."""
    await _value(session, code, value_id)


async def get_value(session: AsyncSession, code: str, value_id: int) -> IndicatorValueOut:
    _, found = await _value(session, code, value_id)
    return value_record(found, code)


async def _value_columns(
    session: AsyncSession, indicator: RowMapping, given: dict[str, Any], current: RowMapping | None
) -> dict[str, Any]:
    values = plain_values({("commune_insee" if k == "commune" else k): v for k, v in given.items()})

    def merged(name: str) -> Any:
        return values[name] if name in values else (current[name] if current else None)

    problems: dict[str, str] = {}
    start, end, label = merged("period_start"), merged("period_end"), merged("period_label")
    if start is None and label is None:
        problems["period_start"] = "give a date (period_start) or a period_label"
    if end is not None and start is None:
        problems["period_end"] = "a period_end needs a period_start"
    elif end is not None and end < start:
        problems["period_end"] = f"{end} precedes period_start {start}"
    commune = values.get("commune_insee")
    if commune is not None and commune not in await repository.member_communes(session):
        problems["commune"] = f"{values['commune_insee']} is not a member commune"
    value = merged("value")
    if indicator["unit"] == PERCENT_UNIT and value is not None and not 0 <= value <= 100:
        problems["value"] = "the unit is '%': a value from 0 to 100"
    if problems:
        raise InvalidBodyError(problems)
    return values


async def _same_point_taken(
    session: AsyncSession, values: dict[str, Any], skip: int | None
) -> None:
    conditions = [VALUES.c[name].is_not_distinct_from(values.get(name)) for name in VALUE_POINT]
    if skip is not None:
        conditions.append(VALUES.c.id != skip)
    if await repository.exists(session, VALUES, *conditions):
        raise ConflictError("The series has a value for this kind, commune and period already.")


async def create_value(session: AsyncSession, code: str, body: ValueCreate) -> int:
    indicator = await _indicator(session, code)
    values = await _value_columns(session, indicator, body.given(), None)
    values["indicator_id"] = indicator["id"]
    await _same_point_taken(session, values, None)
    created = await repository.insert_row(session, VALUES, values)
    return int(created["id"])


async def update_value(session: AsyncSession, code: str, value_id: int, body: ValuePatch) -> None:
    indicator, current = await _value(session, code, value_id)
    given = body.given()
    check_not_null(given)
    values = await _value_columns(session, indicator, given, current)
    await _same_point_taken(session, {**dict(current), **values}, value_id)
    await repository.update_row(session, VALUES, value_id, values)


async def delete_value(session: AsyncSession, code: str, value_id: int, path: str) -> None:
    _, current = await _value(session, code, value_id)
    mark = await repository.audit_mark(session)
    await repository.delete_rows(session, VALUES, VALUES.c.id == current["id"])
    await repository.record_deletion(session, mark, "indicator_value", str(value_id), path)
