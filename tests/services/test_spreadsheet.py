"""The spreadsheet round-trip: export then import changes nothing; a file with any problem is
reported row by row and column by column, and leaves the database exactly as it was."""

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.main import PROJECT_ROOT
from app.services import spreadsheet, spreadsheet_reading
from app.services.spreadsheet_sheets import SHEETS, SpreadsheetError
from tests.conftest import CALL_DATASET, TEST_DATABASE_URL, migrate, recreate_database

SHEET_DATABASE_URL = TEST_DATABASE_URL + "_sheet"


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": SHEET_DATABASE_URL},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def dump(url: str) -> dict[str, list[str]]:
    """Every row of every table and every sequence's state, as text, in a stable order."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = (
                await connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'spatial_ref_sys' ORDER BY 1"
                    )
                )
            ).scalars()
            found: dict[str, list[str]] = {}
            for table in list(tables):
                rows = await connection.execute(text(f"SELECT t::text FROM {table} t ORDER BY 1"))
                found[table] = list(rows.scalars())
            # The change and audit logs' sequences move even in a rolled-back transaction
            # (their triggers fire); gaps there are harmless, their rows are compared above.
            sequences = await connection.execute(
                text(
                    "SELECT sequencename, last_value FROM pg_sequences WHERE sequencename "
                    "NOT IN ('change_log_id_seq', 'audit_log_id_seq') ORDER BY 1"
                )
            )
            found["sequences"] = [f"{name} {value}" for name, value in sequences]
            return found
    finally:
        await engine.dispose()


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write_csv(path: Path, rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)


def follow_up_files(folder: Path) -> Path:
    """Budget lines, milestones and values per commune for the CALL plan, as staff would add."""
    folder.mkdir()
    write_csv(
        folder / "budget_lines.csv",
        [
            list(SHEETS["budget_lines"]),
            ["2.2.2.1", "2024", "operating", "120000.50", "98000", "", ""],
            ["2.2.2.1", "2025", "operating", "125000", "", "prévision", ""],
            ["1.2.1.1", "2025", "investment", "3000000", "", "", ""],
        ],
    )
    write_csv(
        folder / "milestones.csv",
        [
            list(SHEETS["milestones"]),
            [
                "1.2.1.1",
                "1",
                "2025-09-01",
                "month",
                "Mise en service",
                "",
                "done",
                "true",
                "100",
                "",
            ],
        ],
    )
    write_csv(
        folder / "indicator_values.csv",
        [
            list(SHEETS["indicator_values"]),
            ["communes-membres", "result", "2025-01-01", "", "", "36", "", "", "BANATIC", ""],
            [
                "popschool-part-call",
                "result",
                "2019-09-01",
                "2020-06-30",
                "",
                "58.5",
                "62498",
                "",
                "",
                "",
            ],
        ],
    )
    return folder


@pytest.fixture
async def loaded_database(tmp_path: Path) -> str:
    await recreate_database(SHEET_DATABASE_URL)
    await migrate(SHEET_DATABASE_URL)
    loaded = run_cli("load", str(CALL_DATASET))
    assert loaded.returncode == 0, loaded.stderr
    added = run_cli("import", str(follow_up_files(tmp_path / "follow-up")))
    assert added.returncode == 0, added.stderr
    assert "budget_line         3 created" in added.stdout
    assert "milestone           1 created" in added.stdout
    assert "indicator_value     2 created" in added.stdout
    return SHEET_DATABASE_URL


@pytest.mark.parametrize("target", ["plan.xlsx", "plan-csv"])
async def test_export_then_import_changes_nothing(
    loaded_database: str, tmp_path: Path, target: str
) -> None:
    before = await dump(loaded_database)
    path = tmp_path / target
    exported = run_cli("export", str(path))
    assert exported.returncode == 0, exported.stderr
    assert "indicator_values       11 rows" in exported.stdout
    assert "budget_lines            3 rows" in exported.stdout
    imported = run_cli("import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().endswith("nothing changed")
    assert "action              0 created     0 updated     0 deleted    18 unchanged" in (
        imported.stdout
    )
    assert await dump(loaded_database) == before
    # The same file twice: still nothing.
    again = run_cli("import", str(path))
    assert again.stdout.strip().endswith("nothing changed")
    assert await dump(loaded_database) == before


async def test_exported_csv_follows_the_open_data_conventions(
    loaded_database: str, tmp_path: Path
) -> None:
    assert run_cli("export", str(tmp_path / "out")).returncode == 0
    files = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert files == sorted(f"{sheet}.csv" for sheet in SHEETS)
    raw = (tmp_path / "out" / "indicator_values.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    assert rows[0] == list(SHEETS["indicator_values"])
    assert [
        "popschool-part-call",
        "result",
        "2019-09-01",
        "2020-06-30",
        "",
        "58.5",
        "62498",
        "",
        "",
        "",
    ] in rows
    actions = list(csv.DictReader(read_lines(tmp_path / "out" / "actions.csv")))
    pole = next(a for a in actions if a["code"] == "3.3.2.1")
    assert pole["communes"] == "62032;62510"
    assert pole["weight"] == "1"
    axes = list(csv.DictReader(read_lines(tmp_path / "out" / "axes.csv")))
    assert [a["code"] for a in axes] == ["1", "2", "3", "4", "5"]


async def test_a_dry_run_says_what_would_change_and_writes_nothing(
    loaded_database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "edit"
    assert run_cli("export", str(folder)).returncode == 0
    rows = list(csv.reader((folder / "actions.csv").read_text(encoding="utf-8").splitlines()))
    rows[1][7] = "35"  # progress of the first action
    write_csv(folder / "actions.csv", rows)
    before = await dump(loaded_database)
    dry = run_cli("import", str(folder), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "action              0 created     1 updated" in dry.stdout
    assert f"updated: {rows[1][0]}" in dry.stdout
    assert dry.stdout.strip().endswith("dry run: would change")
    assert await dump(loaded_database) == before
    done = run_cli("import", str(folder))
    assert "action              0 created     1 updated" in done.stdout
    assert await dump(loaded_database) != before


def broken_folder(folder: Path) -> Path:
    folder.mkdir()
    write_csv(
        folder / "ambitions.csv",
        [
            list(SHEETS["ambitions"]),
            ["1.1", "1.1", "Cycle", "", "1", ""],  # its own parent
            ["9.1", "9", "Orpheline", "", "1", ""],  # axis 9 does not exist
            ["1.2", "1", "Doublon", "", "1", ""],
            ["1.2", "1", "Doublon", "", "1", ""],
            ["1.7", "1", "Poids", "", "-2", ""],
        ],
    )
    write_csv(
        folder / "actions.csv",
        [
            list(SHEETS["actions"]),
            ["1.2.1.1", "1.2.1", "Statut", "", "1", "ongoing", "", "", "", "", "", "", "", "", ""],
            ["1.2.1.1.7", "1.2.1", "Code", "", "1", "", "", "150", "", "", "", "", "", "", ""],
            [
                "2.2.2.1",
                "2.2.2",
                "Dates",
                "",
                "1",
                "",
                "",
                "",
                "",
                "",
                "75056",
                "2020-05-01",
                "",
                "2019-01-01",
                "",
            ],
        ],
    )
    write_csv(
        folder / "indicator_values.csv",
        [
            list(SHEETS["indicator_values"]),
            ["popschool-part-call", "result", "2020-01-01", "", "", "abc", "", "", "", ""],
            ["popschool-part-call", "result", "2021-01-01", "", "", "140", "", "", "", ""],
            ["popschool-part-call", "result", "2021-06-01", "2021-01-01", "", "50", "", "", "", ""],
            ["inconnu", "result", "2022-01-01", "", "", "1", "", "", "", ""],
            ["communes-membres", "forecast", "2022-01-01", "", "", "1", "", "", "", ""],
            ["communes-membres", "result", "01/02/2022", "", "", "1", "", "", "", ""],
            ["communes-membres", "result", "", "", "", "36", "", "", "", ""],
            ["communes-membres", "result", "2023-01-01", "", "", "NaN", "", "", "", ""],
            ["communes-membres", "result", "2024-01-01", "", "", "1e200000", "", "", "", ""],
        ],
    )
    write_csv(
        folder / "budget_lines.csv",
        [
            list(SHEETS["budget_lines"]),
            ["2.2.2.1", "2024", "operating", "-100", "", "", ""],
            ["2.2.2.1", "deux mille", "operating", "100", "", "", ""],
            ["9.9.9.9", "2024", "investment", "100", "", "", ""],
            ["2.2.2.1", "2023"],
        ],
    )
    (folder / "milestones.csv").write_text(
        ",".join(SHEETS["milestones"]) + '\r\n"2.2.2.1,1,2024-01-01\r\n', encoding="utf-8"
    )
    (folder / "indicators.csv").write_bytes(b"code,name\xff\n")
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    return folder


EXPECTED_PROBLEMS = [
    "ambitions.csv: row 2: cycle: parent 1.1 is 1.1 itself or one of its descendants",
    "ambitions.csv: row 3: orphan: parent axis 9 does not exist",
    "ambitions.csv: row 4: code appears twice",
    "ambitions.csv: row 5: code appears twice",
    "ambitions.csv: row 6, column weight: -2: a weight is more than 0",
    "actions.csv: row 2, column status: 'ongoing' is not one of: planned, in_progress, done, "
    "paused, abandoned, blocked, late, to_discuss",
    "actions.csv: row 3, column code: '1.2.1.1.7' is not a code of 4 dot-separated numbers",
    "actions.csv: row 3, column progress: 150 is a percentage outside 0-100",
    "actions.csv: row 4: commune 75056 is not a member commune",
    "actions.csv: row 4: end_date precedes start_date",
    "indicator_values.csv: row 2, column value: 'abc' is not a number (use '.' for decimals)",
    "indicator_values.csv: row 3: value 140 is a percentage outside 0-100",
    "indicator_values.csv: row 4: period_end 2021-01-01 precedes period_start 2021-06-01",
    "indicator_values.csv: row 5: unknown indicator inconnu",
    "indicator_values.csv: row 6, column kind: 'forecast' is not one of: result, target, estimate",
    "indicator_values.csv: row 7, column period_start: '01/02/2022' is not an ISO 8601 date "
    "(YYYY-MM-DD)",
    "indicator_values.csv: row 8: no period: give period_start, or period_label for an undated "
    "period",
    "indicator_values.csv: row 9, column value: 'NaN' is not a finite number",
    "indicator_values.csv: row 10, column value: 1E+200000 is too large (at most 15 digits "
    "before the point)",
    "budget_lines.csv: row 2, column planned: -100 is a negative amount, or too large",
    "budget_lines.csv: row 3, column year: 'deux mille' is not a number (use '.' for decimals)",
    "budget_lines.csv: row 4: unknown action 9.9.9.9",
    "budget_lines.csv: row 5: 2 cells for 7 columns",
    "milestones.csv: row 2: malformed CSV: unexpected end of data",
    "indicators.csv: -: not UTF-8 (invalid start byte at byte 9)",
    "notes.txt: -: unknown file; expected some of: axes.csv, ambitions.csv, objectives.csv, "
    "actions.csv, indicators.csv, indicator_values.csv, budget_lines.csv, milestones.csv",
]


async def test_every_problem_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    await recreate_database(SHEET_DATABASE_URL)
    await migrate(SHEET_DATABASE_URL)
    assert run_cli("load", str(CALL_DATASET)).returncode == 0
    before = await dump(SHEET_DATABASE_URL)
    failed = run_cli("import", str(broken_folder(tmp_path / "broken")))
    assert failed.returncode == 1
    assert "nothing was written" in failed.stderr
    reported = [line.strip() for line in failed.stderr.splitlines()[1:]]
    assert sorted(reported) == sorted(EXPECTED_PROBLEMS)
    assert await dump(SHEET_DATABASE_URL) == before


async def test_an_xlsx_with_wrong_cells_or_no_workbook_at_all(
    session: AsyncSession, tmp_path: Path
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "objectives"
    sheet.append(list(SHEETS["objectives"]))
    sheet.append(["1.1.10", "1.1", "Texte", None, 1, None])
    sheet.append([1.1, "1", "Nombre", None, 1, None])  # a code typed as a number
    sheet.append(["1.1.11", "1.1", None, None, "lourd", None])
    extra = workbook.create_sheet("Feuil2")
    extra.append(["x"])
    path = tmp_path / "plan.xlsx"
    workbook.save(path)
    parsed = spreadsheet_reading.parse_file(path)
    with pytest.raises(SpreadsheetError) as caught:
        await spreadsheet.import_records(session, parsed)
    assert sorted(str(p) for p in caught.value.problems) == [
        "plan.xlsx, sheet objectives: row 3, column code: 1.1 is a number: write codes as "
        "text (a number loses its trailing zeros)",
        "plan.xlsx, sheet objectives: row 4, column title: required, but empty",
        "plan.xlsx, sheet objectives: row 4, column weight: 'lourd' is not a number (use '.' "
        "for decimals)",
        "plan.xlsx: sheet Feuil2: unknown sheet; expected some of: axes, ambitions, objectives, "
        "actions, indicators, indicator_values, budget_lines, milestones",
    ]
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    problems = spreadsheet_reading.parse_file(fake).problems
    assert len(problems) == 1
    assert str(problems[0]).startswith("fake.xlsx: -: not an XLSX workbook")


async def test_missing_and_unknown_columns_are_reported(
    session: AsyncSession, tmp_path: Path
) -> None:
    folder = tmp_path / "columns"
    folder.mkdir()
    write_csv(folder / "axes.csv", [["code", "titre", "weight", "weight"], ["1", "x", "1", "1"]])
    with pytest.raises(SpreadsheetError) as caught:
        await spreadsheet.import_records(session, spreadsheet_reading.parse_file(folder))
    assert sorted(str(p) for p in caught.value.problems) == [
        "axes.csv: row 1: column weight appears twice",
        "axes.csv: row 1: missing column description",
        "axes.csv: row 1: missing column source_excerpt",
        "axes.csv: row 1: missing column title",
        "axes.csv: row 1: unknown column 'titre'",
    ]


async def test_a_large_file_shows_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "large"
    folder.mkdir()
    rows = [list(SHEETS["indicator_values"])]
    rows += [
        [
            "communes-membres",
            "estimate",
            f"{2000 + i // 365:04d}-01-01",
            "",
            f"n{i}",
            "1",
            "",
            "",
            "",
            "",
        ]
        for i in range(12_000)
    ]
    write_csv(folder / "indicator_values.csv", rows)
    parsed = spreadsheet_reading.parse_file(folder, progress=True)
    assert len(parsed.data.values) == 12_000
    assert "indicator_values: 100%" in capsys.readouterr().err
    small = spreadsheet_reading.parse_file(follow_up_files(tmp_path / "small"), progress=True)
    assert small.rows["indicator_values"] == 2
    assert capsys.readouterr().err == ""
