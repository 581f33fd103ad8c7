"""The whole plan as a spreadsheet, and back: XLSX (one sheet per table) or a folder of CSV files
(UTF-8, comma, `"` quoting, ISO 8601 dates, `.` decimals, codes as text).

Sheets, in order: axes, ambitions, objectives, actions, indicators, indicator_values,
budget_lines, milestones. Lists (an action's partners and communes, what an indicator measures)
are written in one cell, separated by ";". A file may hold only some of the sheets; each sheet
present must have every column of its table.

An import parses every row and reports every problem (file or sheet, row, column, what is
wrong); the consistency checks of app/services/plan_data_checks.py follow; nothing is written unless
all is right. Writing upserts by code (or natural key) and never deletes a record.

Here: writing files (export) and the database side of both ways. The layout is in
spreadsheet_sheets, cells in spreadsheet_cells, rows in spreadsheet_rows, reading files in
spreadsheet_reading.
"""

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories import spreadsheet as repository
from app.repositories.dataset import Changes
from app.services import plan_data_checks, plan_data_write
from app.services.plan_data import Known
from app.services.spreadsheet_reading import Parsed
from app.services.spreadsheet_sheets import LIST_SEPARATOR, SHEETS, TEXT_COLUMNS, SpreadsheetError


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
    problems = [*parsed.problems, *plan_data_checks.check(parsed.data, known)]
    if problems:
        raise SpreadsheetError(problems)
    return await plan_data_write.write(session, parsed.data)
