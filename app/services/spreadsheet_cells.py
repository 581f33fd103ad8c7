"""Reading one cell of a spreadsheet: text, codes, numbers, dates, choices and lists, each refused
with a message that says what to write instead."""

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.models.follow_up import INDICATOR_CODE_PATTERN
from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import INSEE_PATTERN, code_pattern
from app.services.spreadsheet_sheets import LIMIT, LIST_SEPARATOR, MAX_TEXT


class CellError(ValueError):
    """What is wrong with one cell."""


def parse_text(cell: Any) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, bool | datetime | date):
        raise CellError(f"expected text, got {cell!r}")
    text = str(cell).strip() if isinstance(cell, str) else str(cell)
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise CellError(f"longer than {MAX_TEXT} characters")
    if CONTROL_CHARACTERS.search(text):
        raise CellError("control characters are not allowed")
    return text


def _code_text(cell: Any) -> str | None:
    if isinstance(cell, float):
        raise CellError(
            f"{cell!r} is a number: write codes as text (a number loses its trailing zeros)"
        )
    if isinstance(cell, int) and not isinstance(cell, bool):
        cell = str(cell)
    return parse_text(cell)


def _matching(pattern: str, what: str) -> Callable[[Any], str | None]:
    compiled = re.compile(pattern)

    def parse(cell: Any) -> str | None:
        text = _code_text(cell)
        if text is not None and not compiled.match(text):
            raise CellError(f"{text[:60]!r} is not {what}")
        return text

    return parse


NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_SPECIAL = re.compile(r"^\s*[+-]?(nan|snan|inf|infinity)\s*$", re.IGNORECASE)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def parse_decimal(cell: Any) -> Decimal | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, bool) or not isinstance(cell, str | int | float | Decimal):
        raise CellError(f"{cell!r} is not a number")
    if isinstance(cell, str) and not NUMBER.match(cell.strip()) and not _SPECIAL.match(cell):
        raise CellError(f"{cell.strip()[:60]!r} is not a number (use '.' for decimals)")
    try:
        number = Decimal(cell.strip() if isinstance(cell, str) else repr(cell))
    except InvalidOperation:
        raise CellError(f"{str(cell)[:60]!r} is not a number (use '.' for decimals)") from None
    if not number.is_finite():
        raise CellError(f"{cell!r} is not a finite number")
    if abs(number) >= LIMIT:
        raise CellError(f"{number} is too large (at most 15 digits before the point)")
    return number


def _bounded(
    low: Decimal | None, high: Decimal | None, what: str, places: int | None = None
) -> Callable[[Any], Decimal | None]:
    def parse(cell: Any) -> Decimal | None:
        number = parse_decimal(cell)
        if number is None:
            return None
        if (low is not None and number < low) or (high is not None and number > high):
            raise CellError(f"{number} is {what}")
        if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
            raise CellError(f"{number} has more than {places} decimals")
        return number

    return parse


parse_percent = _bounded(Decimal(0), Decimal(100), "a percentage outside 0-100", places=2)
parse_amount = _bounded(
    Decimal(0), Decimal("999999999999.99"), "a negative amount, or too large", 2
)


def parse_weight(cell: Any) -> Decimal:
    number = _bounded(None, Decimal("999999"), "too large", places=4)(cell)
    if number is None:
        return Decimal(1)
    if number <= 0:
        raise CellError(f"{number}: a weight is more than 0")
    return number


def parse_integer(low: int, high: int) -> Callable[[Any], int | None]:
    def parse(cell: Any) -> int | None:
        number = parse_decimal(cell)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise CellError(f"{number} is not a whole number")
        if not low <= number <= high:
            raise CellError(f"{number} is outside {low}-{high}")
        return int(number)

    return parse


def parse_date(cell: Any) -> date | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, datetime):
        if cell.time() != datetime.min.time():
            raise CellError(f"{cell} has a time of day; a date is expected")
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = str(cell).strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise CellError(f"{text[:60]!r} is not an ISO 8601 date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CellError(f"{text!r}: {error}") from None


def parse_bool(cell: Any) -> bool:
    if cell is None or cell == "":
        return False
    if isinstance(cell, bool):
        return cell
    text = str(cell).strip().lower()
    if text in {"true", "1", "yes", "oui", "vrai"}:
        return True
    if text in {"false", "0", "no", "non", "faux"}:
        return False
    raise CellError(f"{str(cell)[:60]!r} is not true or false")


def parse_choice(values: Iterable[str]) -> Callable[[Any], str | None]:
    allowed = tuple(values)

    def parse(cell: Any) -> str | None:
        text = parse_text(cell)
        if text is not None and text not in allowed:
            raise CellError(f"{text[:60]!r} is not one of: {', '.join(allowed)}")
        return text

    return parse


def parse_list(item: Callable[[Any], str | None]) -> Callable[[Any], list[str]]:
    def parse(cell: Any) -> list[str]:
        text = _code_text(cell) if item is not parse_text else parse_text(cell)
        if text is None:
            return []
        found = []
        for part in text.split(LIST_SEPARATOR):
            value = item(part.strip())
            if value is not None:
                found.append(value)
        return found

    return parse


parse_plan_code = _matching(r"^[1-9][0-9]{0,5}(\.[1-9][0-9]{0,5}){0,3}$", "a code of the plan")
parse_insee = _matching(INSEE_PATTERN, "an INSEE code (5 characters)")
parse_indicator_code = _matching(INDICATOR_CODE_PATTERN, "an indicator code")
parse_status = parse_choice(s.value for s in ActionStatus)
parse_precision = parse_choice(p.value for p in DatePrecision)


def parse_level_code(depth: int) -> Callable[[Any], str | None]:
    return _matching(code_pattern(depth), f"a code of {depth} dot-separated numbers")
