"""What a row source yields: typed output columns, the order column, and the row source itself."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select

ColumnType = Literal[
    "string", "integer", "number", "boolean", "date", "datetime", "array", "geojson"
]
ORDER = "_order"
GEOJSON_DECIMALS = 6


@dataclass(frozen=True)
class OutputColumn:
    """A column as the export statements need it: its name and how to format it."""

    name: str
    type: ColumnType


RowSource = Callable[[], Select[Any]]
