"""Reading a spreadsheet: the sheets of an XLSX workbook or of a folder of CSV files, parsed row by
row into records and problems (with a progress bar for large files)."""

import csv
import gc
import io
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.services.plan_data import PlanData, Problem
from app.services.spreadsheet_rows import (
    RowContext,
    SlowPathError,
    budget_record,
    fast_value_record,
    indicator_record,
    milestone_record,
    node_record,
    value_record,
)
from app.services.spreadsheet_sheets import MAX_PROBLEMS, PLAN_LEVELS, PROGRESS_BAR_ROWS, SHEETS


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


def _reader(name: str, data: PlanData) -> tuple[Callable[[RowContext], Any], list[Any]]:
    """How a row of the sheet `name` is read (None when it has problems), and where it goes."""
    if name in PLAN_LEVELS:
        return partial(node_record, name), data.nodes
    readers: dict[str, tuple[Callable[[RowContext], Any], list[Any]]] = {
        "indicators": (indicator_record, data.indicators),
        "indicator_values": (value_record, data.values),
        "budget_lines": (budget_record, data.budget_lines),
    }
    return readers.get(name, (milestone_record, data.milestones))


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
    read, kept = _reader(sheet.name, data)
    # CSV cells are all text; in the sheet's own column order, values take the fast path.
    fast = sheet.text and sheet.name == "indicator_values" and header == list(expected)
    for number, row in bar:
        if fast:
            try:
                data.values.append(fast_value_record(row, sheet.label, number))
                count += 1
                continue
            except SlowPathError:
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
        record = read(context)
        if record is not None:
            kept.append(record)
    bar.close()
    return count
