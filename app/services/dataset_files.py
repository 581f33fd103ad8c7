"""A dataset folder's files and what is read from them: the file names, the records of communes
and initiatives, the whole Dataset, the LoadReport and the error listing every problem."""

from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel
from shapely import wkt

from app.repositories.dataset import Changes
from app.schemas.dataset import InitiativeFile, PlanFile, TerritoryFile
from app.services import plan_data
from app.services.plan_data import PlanData

TERRITORY_FILE = "territory.yaml"
PLAN_FILE = "plan.yaml"
INDICATORS_FILE = "indicators.yaml"  # optional
INITIATIVES_FILE = "initiatives.yaml"  # optional
ModelT = TypeVar("ModelT", bound=BaseModel)
DatasetProblem = plan_data.Problem
wkt_loads = wkt.loads


class DatasetError(Exception):
    def __init__(self, problems: list[DatasetProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the dataset")
        self.problems = problems


@dataclass(frozen=True)
class CommuneRecord:
    insee: str
    name: str
    siren: str | None
    population: int | None
    boundary: str  # EWKT, MultiPolygon in WGS84


@dataclass(frozen=True)
class InitiativeRecord:
    initiative: InitiativeFile
    geometry: str | None  # EWKT when given; None when placed on its commune


@dataclass(frozen=True)
class Dataset:
    territory: TerritoryFile
    plan: PlanFile
    communes: list[CommuneRecord]
    records: PlanData
    initiatives: list[InitiativeRecord] = field(default_factory=list)


@dataclass
class LoadReport:
    changes: dict[str, Changes] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deleted for c in self.changes.values())
