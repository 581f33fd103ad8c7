"""Reading a territory's dataset folder, checking all of it, and loading it in one transaction.

Every problem is collected and reported together (file, place, what is wrong); if there is any,
nothing is written. Loading the same folder twice changes nothing the second time.

Here: reading the folder and loading it; the records are in dataset_files, the communes in
dataset_communes, the plan in dataset_plan, the initiatives in dataset_initiatives.
"""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.commune import Commune
from app.models.territory import Territory
from app.repositories import dataset as repository
from app.schemas.dataset import IndicatorsFile, InitiativesFile, PlanFile, TerritoryFile
from app.services import plan_data_checks, plan_data_write
from app.services.dataset_communes import read_communes
from app.services.dataset_files import (
    INDICATORS_FILE,
    INITIATIVES_FILE,
    PLAN_FILE,
    TERRITORY_FILE,
    CommuneRecord,
    Dataset,
    DatasetError,
    DatasetProblem,
    InitiativeRecord,
    LoadReport,
    ModelT,
)
from app.services.dataset_initiatives import check_initiatives, load_initiatives
from app.services.dataset_plan import plan_records
from app.services.plan_data import Known, PlanData
from app.services.plan_data_checks import normalize_space
from app.services.spreadsheet_reading import parse_values_csv


def _read_yaml(path: Path, problems: list[DatasetProblem]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(DatasetProblem(path.name, "-", "file not found"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problems.append(DatasetProblem(path.name, "-", f"not valid UTF-8 YAML: {error}"))
    return None


def _validate(
    model: type[ModelT], data: Any, file: str, problems: list[DatasetProblem]
) -> ModelT | None:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "-"
            problems.append(DatasetProblem(file, where, item["msg"]))
        return None


def _read(
    model: type[ModelT],
    folder: Path,
    file: str,
    problems: list[DatasetProblem],
    *,
    optional: bool = False,
) -> ModelT | None:
    """The folder's YAML file checked against `model`; None when it has problems (recorded), or
    when it is optional and absent."""
    path = folder / file
    if optional and not path.exists():
        return None
    return _validate(model, _read_yaml(path, problems), file, problems)


def read_dataset(folder: Path) -> Dataset:
    """Parse and check a dataset folder; raise DatasetError listing every problem found."""
    problems: list[DatasetProblem] = []
    territory = _read(TerritoryFile, folder, TERRITORY_FILE, problems)
    plan = _read(PlanFile, folder, PLAN_FILE, problems)
    indicators = _read(IndicatorsFile, folder, INDICATORS_FILE, problems, optional=True)
    communes: list[CommuneRecord] = []
    source_text: str | None = None
    if territory is not None:
        communes = read_communes(folder, territory, problems)
        if territory.source_document.file:
            path = folder / territory.source_document.file
            try:
                source_text = normalize_space(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                problems.append(DatasetProblem(TERRITORY_FILE, "source_document.file", str(error)))
        excerpt = territory.declared_counts_excerpt
        if source_text and excerpt and normalize_space(excerpt) not in source_text:
            problems.append(
                DatasetProblem(
                    TERRITORY_FILE, "declared_counts_excerpt", "not found in the source document"
                )
            )
    records = PlanData()
    if plan is not None:
        records = plan_records(plan, indicators)
        if indicators is not None and indicators.values_csv:
            more = parse_values_csv(folder / indicators.values_csv, indicators.values_csv)
            problems.extend(more.problems)
            records.values.extend(more.data.values)
        known = Known(communes={c.insee for c in communes})
        problems.extend(plan_data_checks.check(records, known, source_text))
    initiatives: list[InitiativeRecord] = []
    document = _read(InitiativesFile, folder, INITIATIVES_FILE, problems, optional=True)
    if document is not None:
        initiatives = check_initiatives(document, plan, communes, source_text, problems)
    if problems or territory is None or plan is None:
        raise DatasetError(problems)
    return Dataset(
        territory=territory,
        plan=plan,
        communes=communes,
        records=records,
        initiatives=initiatives,
    )


def _territory_row(territory: TerritoryFile) -> dict[str, Any]:
    counts = territory.declared_counts
    return {
        "siren": territory.siren,
        "name": territory.name,
        "short_name": territory.short_name,
        "kind": territory.kind,
        "website": territory.website,
        "address": territory.address,
        "phone": territory.phone,
        "licence_title": territory.licence.title,
        "licence_url": territory.licence.url,
        "licence_spdx": territory.licence.spdx,
        "attribution": territory.attribution,
        "source_title": territory.source_document.title,
        "source_publisher": territory.source_document.publisher,
        "declared_axes": counts.axes,
        "declared_ambitions": counts.ambitions,
        "declared_objectives": counts.objectives,
        "declared_actions": counts.actions,
        "declared_counts_excerpt": territory.declared_counts_excerpt,
        "population_year": territory.communes.population_year,
        "synthetic": territory.synthetic,
    }


class TerritoryMismatchError(DatasetError):
    pass


async def load_dataset(session: AsyncSession, dataset: Dataset) -> LoadReport:
    """Upsert the dataset by its keys (SIREN, INSEE codes, plan codes). The caller commits."""
    stored = await repository.territory_siren(session)
    if stored is not None and stored != dataset.territory.siren:
        raise TerritoryMismatchError(
            [
                DatasetProblem(
                    TERRITORY_FILE,
                    "siren",
                    f"this database publishes territory {stored}; load {dataset.territory.siren} "
                    "into a database of its own",
                )
            ]
        )
    report = LoadReport()
    report.changes["territory"] = await repository.upsert(
        session, Territory, "siren", [_territory_row(dataset.territory)]
    )
    report.changes["commune"] = await repository.upsert(
        session,
        Commune,
        "insee",
        [
            {
                "insee": c.insee,
                "name": c.name,
                "siren": c.siren,
                "population": c.population,
                "boundary": c.boundary,
            }
            for c in dataset.communes
        ],
    )
    report.changes |= await plan_data_write.write(session, dataset.records)
    await load_initiatives(session, dataset, report)
    return report
