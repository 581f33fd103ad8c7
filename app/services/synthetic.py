"""A synthetic full-size plan, for tests and benchmarks only: made-up data, marked as such.

The dataset folder holds a territory flagged `synthetic: true` (its name says so too), 36
square communes with INSEE codes 99001-99036 (99 is no French département), the declared shape
of the CALL's plan (5 axes, 23 ambitions, 51 objectives, 124 actions) with weights, progress,
milestones and budget lines, and 200 indicators with 100 000 values in a CSV file. A seed makes
it reproducible.
"""

import csv
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from app.models.plan import ActionStatus
from app.services.spreadsheet_sheets import SHEETS

AXES = 5
AMBITIONS = 23
OBJECTIVES = 51
ACTIONS = 124
INDICATORS = 200
VALUES = 100_000
COMMUNES = 36
VALUES_FILE = "indicator_values.csv"
UNITS = ("%", "logements", "tonnes", "personnes", "km", "euros")
WEIGHTS = (1, 1, 1, 1, 2, 3, 0.5)


def _spread(total: int, groups: int) -> list[int]:
    """`total` items over `groups`, as evenly as possible, the larger groups first."""
    base, extra = divmod(total, groups)
    return [base + (1 if index < extra else 0) for index in range(groups)]


def _commune(index: int) -> dict[str, Any]:
    row, column = divmod(index, 6)
    x, y = 5.0 + column * 0.05, 45.0 + row * 0.05
    ring = [[x, y], [x + 0.05, y], [x + 0.05, y + 0.05], [x, y + 0.05], [x, y]]
    return {
        "type": "Feature",
        "properties": {
            "insee": f"99{index + 1:03d}",
            "name": f"Commune synthétique {index + 1}",
            "population": 1000 + 250 * index,
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _cents(rng: random.Random, high: int) -> str:
    return f"{rng.randint(0, high * 100) / 100:.2f}"


def _action(rng: random.Random, code: str, communes: list[str]) -> dict[str, Any]:
    action: dict[str, Any] = {
        "code": code,
        "title": f"Action synthétique {code}",
        "description": "Donnée fictive, pour les tests et les mesures de performance.",
        "weight": rng.choice(WEIGHTS),
        "status": rng.choice([s.value for s in ActionStatus]),
        "communes": sorted(rng.sample(communes, rng.randint(0, 3))),
    }
    draw = rng.random()
    if draw < 0.4:
        action["progress"] = _cents(rng, 100)
    milestones = []
    reached_until = rng.randint(0, 4)
    for position in range(1, rng.randint(0, 4) + 1):
        milestones.append(
            {
                "position": position,
                "date": date(2020 + position, rng.randint(1, 12), 1).isoformat(),
                "date_precision": "month",
                "title": f"Étape {position}",
                "status": "in_progress",
                "reached": position <= reached_until,
                "progress": str(min(100, position * 25)) if draw < 0.7 else None,
            }
        )
    action["milestones"] = milestones
    action["budget"] = [
        {
            "year": year,
            "nature": nature,
            "planned": _cents(rng, 500_000),
            "actual": _cents(rng, 500_000) if year <= 2024 else None,
        }
        for year in range(2021, 2027)
        for nature in ("investment", "operating")
        if rng.random() < 0.6
    ]
    return action


def synthetic_plan(rng: random.Random, communes: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The nested plan, and the codes of its ambitions, objectives and actions."""
    linked: list[str] = []
    axes = []
    ambition_counts = _spread(AMBITIONS, AXES)
    objective_counts = iter(_spread(OBJECTIVES, AMBITIONS))
    action_counts = iter(_spread(ACTIONS, OBJECTIVES))
    for a in range(1, AXES + 1):
        ambitions = []
        for b in range(1, ambition_counts[a - 1] + 1):
            objectives = []
            for c in range(1, next(objective_counts) + 1):
                code = f"{a}.{b}.{c}"
                actions = [
                    _action(rng, f"{code}.{d}", communes) for d in range(1, next(action_counts) + 1)
                ]
                linked += [code, *(action["code"] for action in actions)]
                objectives.append(
                    {
                        "code": code,
                        "title": f"Objectif synthétique {code}",
                        "weight": rng.choice(WEIGHTS),
                        "actions": actions,
                    }
                )
            linked.append(f"{a}.{b}")
            ambitions.append(
                {
                    "code": f"{a}.{b}",
                    "title": f"Ambition synthétique {a}.{b}",
                    "weight": rng.choice(WEIGHTS),
                    "objectives": objectives,
                }
            )
        axes.append({"code": str(a), "title": f"Axe synthétique {a}", "ambitions": ambitions})
    return {"axes": axes}, linked


def _values(rng: random.Random, code: str, unit: str, communes: list[str]) -> list[list[str]]:
    """500 values: yearly results for the territory and each commune, then targets, estimates."""
    high = 100 if unit == "%" else 10_000
    rows: list[tuple[str, int, str, str]] = []
    for commune in ["", *communes]:
        for year in range(2013, 2026):
            rows.append(("result", year, commune, _cents(rng, high)))
    for year in range(2026, 2031):
        rows.append(("target", year, "", _cents(rng, high)))
    year = 2026
    while len(rows) < VALUES // INDICATORS:
        rows.append(("estimate", year, "", _cents(rng, high)))
        year += 1
    return [
        [code, kind, f"{year}-01-01", f"{year}-12-31", "", value, commune, "", "synthétique", ""]
        for kind, year, commune, value in rows[: VALUES // INDICATORS]
    ]


def write_synthetic(folder: Path, seed: int = 1) -> dict[str, int]:
    """Write the dataset folder; the counts of what it holds."""
    rng = random.Random(seed)  # noqa: S311 - made-up data, not security
    folder.mkdir(parents=True, exist_ok=True)
    features = [_commune(index) for index in range(COMMUNES)]
    communes = [feature["properties"]["insee"] for feature in features]
    (folder / "communes.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    territory = {
        "name": "Territoire synthétique (données fictives)",
        "short_name": "SYNTH",
        "siren": "999999999",
        "kind": "Données synthétiques pour tests et mesures de performance",
        "synthetic": True,
        "declared_counts": {
            "axes": AXES,
            "ambitions": AMBITIONS,
            "objectives": OBJECTIVES,
            "actions": ACTIONS,
        },
        "licence": {
            "title": "Licence Ouverte / Open Licence version 2.0",
            "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
            "spdx": "etalab-2.0",
        },
        "attribution": "Données synthétiques, sans valeur réelle.",
        "source_document": {"title": "Aucun : plan généré"},
        "communes": {
            "file": "communes.geojson",
            "population_year": 2025,
            "properties": {"insee": "insee", "name": "name", "population": "population"},
        },
    }
    plan, linked = synthetic_plan(rng, communes)
    indicators = []
    values = []
    for index in range(1, INDICATORS + 1):
        code = f"synth-{index:03d}"
        unit = rng.choice(UNITS)
        indicators.append(
            {
                "code": code,
                "name": f"Indicateur synthétique {index}",
                "unit": unit,
                "direction": rng.choice(["higher_is_better", "lower_is_better"]),
                "frequency": "yearly",
                "source": {"producer": "Générateur synthétique", "method": "Tirage aléatoire"},
                "measures": sorted(set(rng.sample(linked, rng.randint(1, 2)))),
            }
        )
        values += _values(rng, code, unit, communes)
    for name, document in (
        ("territory.yaml", territory),
        ("plan.yaml", plan),
        ("indicators.yaml", {"indicators": indicators, "values_csv": VALUES_FILE}),
    ):
        (folder / name).write_text(
            yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    with (folder / VALUES_FILE).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(SHEETS["indicator_values"])
        writer.writerows(values)
    return {
        "axes": AXES,
        "ambitions": AMBITIONS,
        "objectives": OBJECTIVES,
        "actions": ACTIONS,
        "indicators": INDICATORS,
        "values": len(values),
        "communes": COMMUNES,
    }
