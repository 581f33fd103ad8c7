"""The whole plan as a spreadsheet, and back: XLSX (one sheet per table) or a folder of CSV files
(UTF-8, comma, `"` quoting, ISO 8601 dates, `.` decimals, codes as text).

Sheets, in order: axes, ambitions, objectives, actions, indicators, indicator_values,
budget_lines, milestones. Lists (an action's partners and communes, what an indicator measures)
are written in one cell, separated by ";". A file may hold only some of the sheets; each sheet
present must have every column of its table.

An import parses every row and reports every problem (file or sheet, row, column, what is
wrong); the consistency checks of app/services/plan_data.py follow; nothing is written unless
all is right. Writing upserts by code (or natural key) and never deletes a record.
"""

import csv
import gc
import io
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tqdm import tqdm

from app.models.follow_up import (
    INDICATOR_CODE_PATTERN,
    BudgetNature,
    Direction,
    Frequency,
    ValueKind,
)
from app.models.plan import ActionStatus, DatePrecision
from app.repositories import spreadsheet as repository
from app.repositories.dataset import Changes
from app.schemas.common import INSEE_PATTERN, code_pattern
from app.services import plan_data
from app.services.plan_data import (
    BudgetRecord,
    IndicatorRecord,
    Known,
    MilestoneRecord,
    NodeRecord,
    PlanData,
    Problem,
    ValueRecord,
)

LIST_SEPARATOR = ";"
PROGRESS_BAR_ROWS = 10_000  # files with fewer rows get no progress bar
MAX_TEXT = 20_000
MAX_PROBLEMS = 1_000  # a file wrong on every row reports the first thousand problems
LIMIT = Decimal("1e15")  # no figure of a plan reaches a million billion

SHEETS: dict[str, tuple[str, ...]] = {
    "axes": ("code", "title", "description", "weight", "source_excerpt"),
    "ambitions": ("code", "axis_code", "title", "description", "weight", "source_excerpt"),
    "objectives": ("code", "ambition_code", "title", "description", "weight", "source_excerpt"),
    "actions": (
        "code",
        "objective_code",
        "title",
        "description",
        "weight",
        "status",
        "status_excerpt",
        "progress",
        "lead",
        "partners",
        "communes",
        "start_date",
        "start_date_precision",
        "end_date",
        "source_excerpt",
    ),
    "indicators": (
        "code",
        "name",
        "description",
        "unit",
        "direction",
        "frequency",
        "source_producer",
        "source_method",
        "source_limits",
        "source_url",
        "measures",
        "source_excerpt",
    ),
    "indicator_values": (
        "indicator_code",
        "kind",
        "period_start",
        "period_end",
        "period_label",
        "value",
        "commune",
        "comment",
        "source",
        "source_excerpt",
    ),
    "budget_lines": (
        "action_code",
        "year",
        "nature",
        "planned",
        "actual",
        "comment",
        "source_excerpt",
    ),
    "milestones": (
        "action_code",
        "position",
        "date",
        "date_precision",
        "title",
        "description",
        "status",
        "reached",
        "progress",
        "source_excerpt",
    ),
}
# Cells written as text in XLSX, so that "1.10" is never read back as the number 1.1.
TEXT_COLUMNS = {
    "code",
    "axis_code",
    "ambition_code",
    "objective_code",
    "action_code",
    "indicator_code",
    "communes",
    "commune",
    "measures",
}
PLAN_LEVELS = {
    "axes": "axis",
    "ambitions": "ambition",
    "objectives": "objective",
    "actions": "action",
}
PARENT_COLUMNS = {
    "ambitions": "axis_code",
    "objectives": "ambition_code",
    "actions": "objective_code",
}


class SpreadsheetError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the file")
        self.problems = problems


# --- cells -------------------------------------------------------------------------------------


class CellError(ValueError):
    """What is wrong with one cell."""


def _text(cell: Any) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, bool | datetime | date):
        raise CellError(f"expected text, got {cell!r}")
    text = str(cell).strip() if isinstance(cell, str) else str(cell)
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise CellError(f"longer than {MAX_TEXT} characters")
    if _CONTROL.search(text):
        raise CellError("control characters are not allowed")
    return text


def _code_text(cell: Any) -> str | None:
    if isinstance(cell, float):
        raise CellError(
            f"{cell!r} is a number: write codes as text (a number loses its trailing zeros)"
        )
    if isinstance(cell, int) and not isinstance(cell, bool):
        cell = str(cell)
    return _text(cell)


def _matching(pattern: str, what: str) -> Callable[[Any], str | None]:
    compiled = re.compile(pattern)

    def parse(cell: Any) -> str | None:
        text = _code_text(cell)
        if text is not None and not compiled.match(text):
            raise CellError(f"{text[:60]!r} is not {what}")
        return text

    return parse


_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_SPECIAL = re.compile(r"^\s*[+-]?(nan|snan|inf|infinity)\s*$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _decimal(cell: Any) -> Decimal | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, bool) or not isinstance(cell, str | int | float | Decimal):
        raise CellError(f"{cell!r} is not a number")
    if isinstance(cell, str) and not _NUMBER.match(cell.strip()) and not _SPECIAL.match(cell):
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
        number = _decimal(cell)
        if number is None:
            return None
        if (low is not None and number < low) or (high is not None and number > high):
            raise CellError(f"{number} is {what}")
        if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
            raise CellError(f"{number} has more than {places} decimals")
        return number

    return parse


_percent = _bounded(Decimal(0), Decimal(100), "a percentage outside 0-100", places=2)
_amount = _bounded(Decimal(0), Decimal("999999999999.99"), "a negative amount, or too large", 2)


def _weight(cell: Any) -> Decimal:
    number = _bounded(None, Decimal("999999"), "too large", places=4)(cell)
    if number is None:
        return Decimal(1)
    if number <= 0:
        raise CellError(f"{number}: a weight is more than 0")
    return number


def _integer(low: int, high: int) -> Callable[[Any], int | None]:
    def parse(cell: Any) -> int | None:
        number = _decimal(cell)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise CellError(f"{number} is not a whole number")
        if not low <= number <= high:
            raise CellError(f"{number} is outside {low}-{high}")
        return int(number)

    return parse


def _date(cell: Any) -> date | None:
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


def _bool(cell: Any) -> bool:
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


def _choice(values: Iterable[str]) -> Callable[[Any], str | None]:
    allowed = tuple(values)

    def parse(cell: Any) -> str | None:
        text = _text(cell)
        if text is not None and text not in allowed:
            raise CellError(f"{text[:60]!r} is not one of: {', '.join(allowed)}")
        return text

    return parse


def _list(item: Callable[[Any], str | None]) -> Callable[[Any], list[str]]:
    def parse(cell: Any) -> list[str]:
        text = _code_text(cell) if item is not _text else _text(cell)
        if text is None:
            return []
        found = []
        for part in text.split(LIST_SEPARATOR):
            value = item(part.strip())
            if value is not None:
                found.append(value)
        return found

    return parse


_plan_code = _matching(r"^[1-9][0-9]{0,5}(\.[1-9][0-9]{0,5}){0,3}$", "a code of the plan")
_insee = _matching(INSEE_PATTERN, "an INSEE code (5 characters)")
_indicator_code = _matching(INDICATOR_CODE_PATTERN, "an indicator code")
_status = _choice(s.value for s in ActionStatus)
_precision = _choice(p.value for p in DatePrecision)


def _level_code(depth: int) -> Callable[[Any], str | None]:
    return _matching(code_pattern(depth), f"a code of {depth} dot-separated numbers")


# --- rows to records ---------------------------------------------------------------------------


@dataclass
class RowContext:
    file: str
    row: int
    cells: dict[str, Any]
    problems: list[Problem]
    ok: bool = True

    @property
    def where(self) -> str:
        return f"row {self.row}"

    def need(self, column: str, parse: Callable[[Any], Any]) -> Any:
        """A required cell: parsed, or reported as empty."""
        before = len(self.problems)
        value = self.get(column, parse)
        if value is None and len(self.problems) == before:
            self.problems.append(
                Problem(self.file, f"row {self.row}, column {column}", "required, but empty")
            )
            self.ok = False
        return value

    def get(self, column: str, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(self.cells.get(column))
        except CellError as error:
            self.problems.append(Problem(self.file, f"row {self.row}, column {column}", str(error)))
            self.ok = False
            return None


def _node(sheet: str, c: RowContext) -> NodeRecord | None:
    level = PLAN_LEVELS[sheet]
    depth = list(PLAN_LEVELS).index(sheet) + 1
    code = c.need("code", _level_code(depth))
    parent_column = PARENT_COLUMNS.get(sheet)
    parent = c.need(parent_column, _plan_code) if parent_column else None
    title = c.need("title", _text)
    weight = c.get("weight", _weight)
    record = NodeRecord(
        level=level,
        code=code or "",
        parent=parent,
        title=title or "",
        file=c.file,
        where=c.where,
        description=c.get("description", _text),
        source_excerpt=c.get("source_excerpt", _text),
        weight=weight or Decimal(1),
    )
    if sheet == "actions":
        record.status = c.get("status", _status)
        record.status_excerpt = c.get("status_excerpt", _text)
        record.progress = c.get("progress", _percent)
        record.lead = c.get("lead", _text)
        record.partners = c.get("partners", _list(_text)) or []
        record.communes = c.get("communes", _list(_insee)) or []
        record.start_date = c.get("start_date", _date)
        record.start_date_precision = c.get("start_date_precision", _precision)
        record.end_date = c.get("end_date", _date)
    return record if c.ok else None


def _indicator(c: RowContext) -> IndicatorRecord | None:
    code = c.need("code", _indicator_code)
    record = IndicatorRecord(
        code=code or "",
        name=c.need("name", _text) or "",
        unit=c.need("unit", _text) or "",
        file=c.file,
        where=c.where,
        description=c.get("description", _text),
        direction=c.get("direction", _choice(d.value for d in Direction)),
        frequency=c.get("frequency", _choice(f.value for f in Frequency)),
        source_producer=c.get("source_producer", _text),
        source_method=c.get("source_method", _text),
        source_limits=c.get("source_limits", _text),
        source_url=c.get("source_url", _text),
        source_excerpt=c.get("source_excerpt", _text),
        measures=c.get("measures", _list(_plan_code)) or [],
    )
    return record if c.ok else None


_KINDS = _choice(k.value for k in ValueKind)


def _value(c: RowContext) -> ValueRecord | None:
    indicator = c.need("indicator_code", _indicator_code)
    kind = c.need("kind", _KINDS)
    number = c.need("value", _decimal)
    record = ValueRecord(
        indicator=indicator or "",
        kind=kind or "",
        period_start=c.get("period_start", _date),
        period_end=c.get("period_end", _date),
        period_label=c.get("period_label", _text),
        value=number if number is not None else Decimal(0),
        commune=c.get("commune", _insee),
        comment=c.get("comment", _text),
        source=c.get("source", _text),
        source_excerpt=c.get("source_excerpt", _text),
        file=c.file,
        where=c.where,
    )
    return record if c.ok else None


_INDICATOR = re.compile(INDICATOR_CODE_PATTERN)
_INSEE = re.compile(INSEE_PATTERN)
_KIND_VALUES = frozenset(k.value for k in ValueKind)


class _SlowPathError(Exception):
    """The fast path cannot decide: the careful one parses the row and names what is wrong."""


def _iso(text: str) -> date | None:
    if not text:
        return None
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise _SlowPathError
    return date.fromisoformat(text)


def _fast_value(row: list[str], label: str, number: int) -> ValueRecord:
    """A value row of a CSV file in the sheet's column order, parsed without a word of
    explanation: any doubt raises _SlowPathError. It accepts exactly what _value accepts, an
    order of magnitude faster (100 000-row files)."""
    try:
        code, kind, start, end, period, amount, commune, comment, source, excerpt = row
        texts = period + comment + source + excerpt
        if len(texts) > MAX_TEXT or _CONTROL.search(texts):
            raise _SlowPathError
        code = code.strip()
        amount = amount.strip()
        commune = commune.strip()
        if (
            not _INDICATOR.match(code)
            or kind not in _KIND_VALUES
            or not _NUMBER.match(amount)
            or (commune and not _INSEE.match(commune))
        ):
            raise _SlowPathError
        value = Decimal(amount)
        if abs(value) >= LIMIT:
            raise _SlowPathError
        return ValueRecord(
            indicator=code,
            kind=kind,
            period_start=_iso(start.strip()),
            period_end=_iso(end.strip()),
            period_label=period.strip() or None,
            value=value,
            commune=commune or None,
            comment=comment.strip() or None,
            source=source.strip() or None,
            source_excerpt=excerpt.strip() or None,
            file=label,
            where=f"row {number}",
        )
    except ValueError as error:  # also InvalidOperation, and a row of another length
        raise _SlowPathError from error


def _budget(c: RowContext) -> BudgetRecord | None:
    action = c.need("action_code", _level_code(4))
    year = c.need("year", _integer(1900, 2200))
    nature = c.need("nature", _choice(n.value for n in BudgetNature))
    record = BudgetRecord(
        action=action or "",
        year=year or 0,
        nature=nature or "",
        planned=c.get("planned", _amount),
        actual=c.get("actual", _amount),
        file=c.file,
        where=c.where,
        comment=c.get("comment", _text),
        source_excerpt=c.get("source_excerpt", _text),
    )
    return record if c.ok else None


def _milestone(c: RowContext) -> MilestoneRecord | None:
    action = c.need("action_code", _level_code(4))
    position = c.need("position", _integer(1, 10_000))
    when = c.need("date", _date)
    title = c.need("title", _text)
    record = MilestoneRecord(
        action=action or "",
        position=position or 0,
        milestone_date=when or date.min,
        title=title or "",
        file=c.file,
        where=c.where,
        date_precision=c.get("date_precision", _precision),
        description=c.get("description", _text),
        status=c.get("status", _status),
        reached=bool(c.get("reached", _bool)),
        progress=c.get("progress", _percent),
        source_excerpt=c.get("source_excerpt", _text),
    )
    return record if c.ok else None


# --- reading files -----------------------------------------------------------------------------


@dataclass
class Sheet:
    name: str
    label: str  # how problems name it: a file, or a workbook's sheet
    header: list[Any]
    rows: Iterator[tuple[int, list[Any]]]
    total: int | None = None
    text: bool = False  # every cell is a string (CSV)


@dataclass
class Parsed:
    data: PlanData = field(default_factory=PlanData)
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)


def _csv_sheets(folder: Path, problems: list[Problem]) -> Iterator[Sheet]:
    names = {path.name for path in folder.iterdir()}
    for name in sorted(names - {f"{sheet}.csv" for sheet in SHEETS}):
        problems.append(
            Problem(
                name,
                "-",
                f"unknown file; expected some of: {', '.join(s + '.csv' for s in SHEETS)}",
            )
        )
    for sheet in SHEETS:
        path = folder / f"{sheet}.csv"
        if path.exists():
            found = _csv_sheet(path, sheet, path.name, problems)
            if found is not None:
                yield found


def _csv_sheet(path: Path, sheet: str, label: str, problems: list[Problem]) -> Sheet | None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.append(Problem(label, "-", f"not UTF-8 ({error.reason} at byte {error.start})"))
        return None
    except OSError as error:
        problems.append(Problem(label, "-", f"cannot be read: {error.strerror}"))
        return None
    if "\0" in text:
        problems.append(Problem(label, "-", "contains NUL bytes: not a CSV text file"))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as error:
        problems.append(Problem(label, "row 1", f"malformed CSV: {error}"))
        return None
    rows = _csv_rows(reader, label, problems)
    return Sheet(sheet, label, header, rows, text.count("\n"), text=True)


def parse_values_csv(path: Path, label: str) -> Parsed:
    """A CSV file of indicator values, with the columns of the indicator_values sheet."""
    parsed = Parsed()
    sheet = _csv_sheet(path, "indicator_values", label, parsed.problems)
    if sheet is not None:
        collecting = gc.isenabled()
        gc.disable()
        try:
            parsed.rows[sheet.name] = _parse_sheet(sheet, parsed, progress=False)
        finally:
            if collecting:
                gc.enable()
    return parsed


def _csv_rows(reader: Any, label: str, problems: list[Problem]) -> Iterator[tuple[int, list[Any]]]:
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.append(Problem(label, f"row {number}", f"malformed CSV: {error}"))
            return
        yield number, row


def _xlsx_sheets(path: Path, problems: list[Problem]) -> Iterator[Sheet]:
    # openpyxl takes a while to import: only workbooks need it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        problems.append(Problem(path.name, "-", f"not an XLSX workbook: {error}"))
        return
    try:
        for name in workbook.sheetnames:
            if name not in SHEETS:
                problems.append(
                    Problem(
                        path.name,
                        f"sheet {name}",
                        f"unknown sheet; expected some of: {', '.join(SHEETS)}",
                    )
                )
        for sheet in SHEETS:
            if sheet not in workbook.sheetnames:
                continue
            worksheet = workbook[sheet]
            rows = worksheet.iter_rows(values_only=True)
            header = list(next(rows, ()))
            label = f"{path.name}, sheet {sheet}"
            numbered = ((number, list(row)) for number, row in enumerate(rows, start=2))
            yield Sheet(sheet, label, header, numbered, worksheet.max_row)
    finally:
        workbook.close()


def parse_file(source: Path, *, progress: bool = False) -> Parsed:
    """Every row of a workbook (.xlsx) or a folder of CSV files, parsed into records."""
    parsed = Parsed()
    problems = parsed.problems
    if source.is_dir():
        sheets: Iterator[Sheet] = _csv_sheets(source, problems)
    elif source.suffix.lower() == ".xlsx" and source.is_file():
        sheets = _xlsx_sheets(source, problems)
    else:
        problems.append(
            Problem(source.name, "-", "expected an .xlsx workbook or a folder of CSV files")
        )
        return parsed
    seen = set()
    # Parsing makes a few hundred thousand objects that all live on: the cyclic collector would
    # rescan them again and again for nothing (it tripled the time of a 100 000-row file).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for sheet in sheets:
            seen.add(sheet.name)
            parsed.rows[sheet.name] = _parse_sheet(sheet, parsed, progress)
    finally:
        if collecting:
            gc.enable()
    parsed.absent = [sheet for sheet in SHEETS if sheet not in seen]
    if not seen and not problems:
        problems.append(Problem(source.name, "-", "no sheet to import"))
    return parsed


def _parse_sheet(sheet: Sheet, parsed: Parsed, progress: bool) -> int:
    problems = parsed.problems
    header = [str(h).strip() if h is not None else "" for h in sheet.header]
    expected = SHEETS[sheet.name]
    wrong = False
    for column in sorted(set(expected) - set(header)):
        problems.append(Problem(sheet.label, "row 1", f"missing column {column}"))
        wrong = True
    for column in [h for h in header if h not in expected]:
        problems.append(Problem(sheet.label, "row 1", f"unknown column {column[:60]!r}"))
        wrong = True
    for column in sorted({h for h in header if header.count(h) > 1}):
        problems.append(Problem(sheet.label, "row 1", f"column {column} appears twice"))
        wrong = True
    if wrong:
        return 0
    width = len(header)
    data = parsed.data
    bar = tqdm(
        sheet.rows,
        total=sheet.total,
        desc=sheet.name,
        unit=" rows",
        disable=not progress or (sheet.total or 0) < PROGRESS_BAR_ROWS,
        file=sys.stderr,
    )
    count = 0
    # CSV cells are all text; in the sheet's own column order, values take the fast path.
    fast = sheet.text and sheet.name == "indicator_values" and header == list(expected)
    for number, row in bar:
        if fast:
            try:
                data.values.append(_fast_value(row, sheet.label, number))
                count += 1
                continue
            except _SlowPathError:
                pass
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row):
            continue
        count += 1
        extra = len(row) > width and any(cell not in (None, "") for cell in row[width:])
        # A CSV row must have every cell: a short one would blank the values it lacks.
        if extra or (sheet.text and len(row) < width):
            problems.append(
                Problem(sheet.label, f"row {number}", f"{len(row)} cells for {width} columns")
            )
            continue
        if len(problems) >= MAX_PROBLEMS:
            continue
        cells = dict(zip(header, row, strict=False))
        context = RowContext(sheet.label, number, cells, problems)
        if sheet.name in PLAN_LEVELS:
            node = _node(sheet.name, context)
            if node is not None:
                data.nodes.append(node)
        elif sheet.name == "indicators":
            indicator = _indicator(context)
            if indicator is not None:
                data.indicators.append(indicator)
        elif sheet.name == "indicator_values":
            value = _value(context)
            if value is not None:
                data.values.append(value)
        elif sheet.name == "budget_lines":
            line = _budget(context)
            if line is not None:
                data.budget_lines.append(line)
        else:
            milestone = _milestone(context)
            if milestone is not None:
                data.milestones.append(milestone)
    bar.close()
    return count


# --- writing files -----------------------------------------------------------------------------


def format_cell(value: Any, column: str) -> str:
    """A value as CSV text: ISO dates, plain decimals, lists joined by ';'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        for item in value:
            if LIST_SEPARATOR in item:
                raise ValueError(
                    f"{column}: {item!r} contains the list separator {LIST_SEPARATOR!r}"
                )
        return LIST_SEPARATOR.join(value)
    return str(value)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


ExportRows = dict[str, list[tuple[Any, ...]]]


def write_csv_folder(folder: Path, sheets: ExportRows) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for sheet, columns in SHEETS.items():
        with (folder / f"{sheet}.csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(columns)
            for row in sheets.get(sheet, []):
                writer.writerow([format_cell(v, c) for v, c in zip(row, columns, strict=True)])


def _xlsx_cell(worksheet: Any, value: Any, column: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, list) or column in TEXT_COLUMNS:
        cell = WriteOnlyCell(
            worksheet, value=format_cell(value, column) if value is not None else None
        )
        cell.number_format = "@"
        return cell
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def write_xlsx(path: Path, sheets: ExportRows) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for sheet, columns in SHEETS.items():
        worksheet = workbook.create_sheet(sheet)
        worksheet.append(list(columns))
        for row in sheets.get(sheet, []):
            worksheet.append(
                [_xlsx_cell(worksheet, v, c) for v, c in zip(row, columns, strict=True)]
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


# --- the database side -------------------------------------------------------------------------


async def export_rows(session: AsyncSession) -> ExportRows:
    """Every sheet's rows, in the order of SHEETS' columns."""
    return {
        sheet: [tuple(row) for row in await repository.export_rows(session, sheet)]
        for sheet in SHEETS
    }


async def import_records(session: AsyncSession, parsed: Parsed) -> dict[str, Changes]:
    """Check the parsed records against each other and the database; write them if all is right
    (the caller owns the transaction), else raise SpreadsheetError with every problem."""
    known = Known(
        codes=await repository.plan_codes(session),
        indicator_units=await repository.indicator_units(session),
        communes=await repository.commune_codes(session),
    )
    problems = [*parsed.problems, *plan_data.check(parsed.data, known)]
    if problems:
        raise SpreadsheetError(problems)
    return await plan_data.write(session, parsed.data)
