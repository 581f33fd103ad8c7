"""What a published dataset declares (DatasetSpec, its Columns and EU Themes), the Registry that
checks and holds them, and the columns and patterns the declarations share."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from app.repositories.publication_columns import ORDER, ColumnType, OutputColumn, RowSource

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
Format = Literal["csv", "json", "geojson"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    title: str
    description: str
    required: bool = False
    unique: bool = False
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    example: str | None = None
    # A boundary is no spreadsheet cell: it goes to the JSON and GeoJSON files only.
    in_csv: bool = True


@dataclass(frozen=True)
class Theme:
    """A theme of the EU data-theme vocabulary, with its French label."""

    code: str
    label_fr: str

    @property
    def uri(self) -> str:
        return f"http://publications.europa.eu/resource/authority/data-theme/{self.code}"


GOVERNMENT = Theme("GOVE", "Gouvernement et secteur public")
REGIONS = Theme("REGI", "Régions et villes")


@dataclass(frozen=True)
class DatasetSpec:
    identifier: str  # permanent: URLs, dct:identifier, change feed; never reused
    title: str  # French; "{territory}" is replaced by the territory's name
    description: str  # French, same placeholder
    key: str  # the column holding the public key
    columns: tuple[Column, ...]
    rows: RowSource
    tables: tuple[str, ...]  # the tables whose changes the change log records for it
    keywords: tuple[str, ...] = ()
    themes: tuple[Theme, ...] = (GOVERNMENT,)
    geometry: str | None = None  # the geometry column of a geographic dataset (GeoJSON file)
    record_path: str | None = None  # API path of one record, "{key}" replaced

    @property
    def formats(self) -> tuple[Format, ...]:
        return ("csv", "json", "geojson") if self.geometry else ("csv", "json")

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def csv_columns(self) -> list[OutputColumn]:
        return [OutputColumn(c.name, c.type) for c in self.columns if c.in_csv]

    def json_columns(self) -> list[OutputColumn]:
        return [OutputColumn(c.name, c.type) for c in self.columns]

    def property_columns(self) -> list[OutputColumn]:
        """The GeoJSON properties: every column but the geometry."""
        return [OutputColumn(c.name, c.type) for c in self.columns if c.name != self.geometry]


@dataclass
class Registry:
    datasets: list[DatasetSpec] = field(default_factory=list)

    def register(self, spec: DatasetSpec) -> None:
        if any(d.identifier == spec.identifier for d in self.datasets):
            raise ValueError(f"dataset {spec.identifier!r} is already registered")
        labels = [c.name for c in spec.rows().selected_columns if c.name != ORDER]
        if labels != [c.name for c in spec.columns]:
            raise ValueError(f"{spec.identifier}: the row source yields {labels}")
        self.datasets.append(spec)

    def get(self, identifier: str) -> DatasetSpec | None:
        return next((d for d in self.datasets if d.identifier == identifier), None)

    def __iter__(self) -> Iterator[DatasetSpec]:
        return iter(sorted(self.datasets, key=lambda d: d.identifier))

    def identifiers(self) -> list[str]:
        return [d.identifier for d in self]


SIREN = r"^[0-9]{9}$"
INSEE = r"^([0-9]{2}|2A|2B)[0-9]{3}$"
ID = r"^[1-9][0-9]{0,18}$"


def plan_code_pattern(level: str, depth: int) -> str:
    return rf"^[1-9][0-9]{{0,5}}(\.[1-9][0-9]{{0,5}}){{{depth - 1}}}$"


UPDATED_AT = Column(
    "updated_at",
    "datetime",
    "Dernière modification",
    "Date et heure de la dernière modification de l'enregistrement (UTC, ISO 8601).",
    required=True,
)


def node_code_columns(level: str, depth: int, example: str) -> tuple[Column, ...]:
    return (
        Column(
            "code",
            "string",
            "Code",
            f"Code public permanent de l'{level}, jamais réutilisé.",
            required=True,
            unique=True,
            pattern=plan_code_pattern(level, depth),
            example=example,
        ),
    )


def node_text_columns(level: str) -> tuple[Column, ...]:
    return (
        Column("title", "string", "Intitulé", f"Intitulé de l'{level}.", required=True),
        Column("description", "string", "Description", f"Description de l'{level}."),
        Column(
            "source_excerpt",
            "string",
            "Extrait de la source",
            "Passage du document source dont l'enregistrement est tiré.",
        ),
        UPDATED_AT,
    )


def parent_column(name: str, level: str, depth: int) -> Column:
    return Column(
        f"{name}_code",
        "string",
        f"Code de l'{level}",
        f"Code de l'{level} auquel l'enregistrement se rattache.",
        required=True,
        pattern=plan_code_pattern(level, depth),
    )


PLAN_KEYWORDS = ("projet de territoire", "plan d'actions", "intercommunalité")
