"""The communes of a dataset: the GeoJSON file read into records, each boundary checked."""

import json
import re
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from app.schemas.common import INSEE_PATTERN
from app.schemas.dataset import TerritoryFile
from app.services.dataset_files import CommuneRecord, DatasetProblem


def read_communes(
    folder: Path, territory: TerritoryFile, problems: list[DatasetProblem]
) -> list[CommuneRecord]:
    spec = territory.communes
    name = spec.file
    try:
        document = json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(DatasetProblem(name, "-", "file not found"))
        return []
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problems.append(DatasetProblem(name, "-", f"not valid UTF-8 JSON: {error}"))
        return []
    features = document.get("features") if isinstance(document, dict) else None
    if document.get("type") != "FeatureCollection" or not isinstance(features, list):
        problems.append(DatasetProblem(name, "-", "expected a GeoJSON FeatureCollection"))
        return []
    records: list[CommuneRecord] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        record = _commune(feature, spec.properties.model_dump(), name, where, problems)
        if record is None:
            continue
        if record.insee in seen:
            problems.append(DatasetProblem(name, where, f"INSEE code {record.insee} appears twice"))
        seen.add(record.insee)
        records.append(record)
    return records


def _commune(
    feature: Any, keys: dict[str, str | None], file: str, where: str, problems: list[DatasetProblem]
) -> CommuneRecord | None:
    before = len(problems)
    properties = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(properties, dict):
        problems.append(DatasetProblem(file, where, "a Feature with properties is expected"))
        return None

    def text(field_name: str, required: bool) -> str | None:
        key = keys[field_name]
        value = properties.get(key) if key else None
        if value is None:
            if required:
                problems.append(DatasetProblem(file, f"{where}.properties.{key}", "missing"))
            return None
        return str(value).strip()

    insee = text("insee", required=True)
    name = text("name", required=True)
    siren = text("siren", required=False)
    population_text = text("population", required=False)
    if insee is not None and not re.match(INSEE_PATTERN, insee):
        problems.append(DatasetProblem(file, where, f"INSEE code {insee!r} is not 5 characters"))
    if siren is not None and not re.fullmatch(r"[0-9]{9}", siren):
        problems.append(DatasetProblem(file, where, f"SIREN {siren!r} is not 9 digits"))
    population: int | None = None
    if population_text is not None:
        try:
            population = int(population_text)
            if population < 0:
                raise ValueError
        except ValueError:
            problems.append(
                DatasetProblem(file, where, f"population {population_text!r} is not a count")
            )
    boundary = _boundary(feature.get("geometry"), file, where, problems)
    if len(problems) > before or insee is None or name is None or boundary is None:
        return None
    return CommuneRecord(insee, name, siren, population, boundary)


def _boundary(geometry: Any, file: str, where: str, problems: list[DatasetProblem]) -> str | None:
    try:
        polygon = shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        problems.append(
            DatasetProblem(file, f"{where}.geometry", f"not a GeoJSON geometry: {error}")
        )
        return None
    if isinstance(polygon, Polygon):
        polygon = MultiPolygon([polygon])
    if not isinstance(polygon, MultiPolygon) or polygon.is_empty:
        problems.append(
            DatasetProblem(file, f"{where}.geometry", "a non-empty (Multi)Polygon is expected")
        )
        return None
    if not polygon.is_valid:
        problems.append(
            DatasetProblem(file, f"{where}.geometry", f"invalid: {explain_validity(polygon)}")
        )
        return None
    minx, miny, maxx, maxy = polygon.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        problems.append(
            DatasetProblem(file, f"{where}.geometry", "coordinates are not WGS84 lon/lat")
        )
        return None
    return f"SRID=4326;{polygon.wkt}"
