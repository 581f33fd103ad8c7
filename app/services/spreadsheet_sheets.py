"""The spreadsheet's layout: its sheets and their columns in order, which cells are text, the plan's
levels and parents, and the error an import raises with every problem found."""

from decimal import Decimal

from app.services.plan_data import Problem

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
