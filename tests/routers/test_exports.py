"""Bulk exports: every CSV validates against its published TableSchema (frictionless), follows
schema.data.gouv.fr's conventions, and its size and checksum are those announced."""

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import frictionless
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.registry import REGISTRY

DATASETS = REGISTRY.identifiers()


async def download(client: httpx.AsyncClient, url: str) -> httpx.Response:
    response = await client.get(url, headers={"accept-encoding": "identity"})
    assert response.status_code == 200, response.text
    return response


def frictionless_errors(folder: Path, name: str, body: bytes, schema: dict[str, Any]) -> list[str]:
    (folder / f"{name}.csv").write_bytes(body)
    (folder / f"{name}.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    # As `frictionless validate --schema NAME.schema.json NAME.csv` run in the folder.
    resource = frictionless.Resource(
        path=f"{name}.csv", schema=f"{name}.schema.json", basepath=str(folder)
    )
    report = resource.validate()
    return [f"{kind}: {note}" for kind, note in report.flatten(["type", "note"])]


@pytest.mark.parametrize("dataset", DATASETS)
async def test_every_csv_validates_against_its_table_schema(
    client: httpx.AsyncClient, session: AsyncSession, tmp_path: Path, dataset: str
) -> None:
    if dataset == "budget_lines":  # the CALL dataset has none
        await session.execute(
            text(
                "INSERT INTO budget_line (action_id, year, nature, planned, actual) "
                "SELECT id, 2025, 'investment', 1000.5, 800 FROM action WHERE code = '1.2.1.1'"
            )
        )
    response = await download(client, f"/v1/datasets/{dataset}.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    schema = (await client.get(f"/v1/schemas/{dataset}.json")).json()
    assert frictionless_errors(tmp_path, dataset, response.content, schema) == []
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert rows
    assert list(rows[0]) == [field["name"] for field in schema["fields"]]
    assert schema["primaryKey"] == [REGISTRY.get(dataset).key]  # type: ignore[union-attr]
    if dataset == "milestones":
        assert all(row["milestone_key"].endswith(f"-{row['position']}") for row in rows)
    if dataset == "budget_lines":
        assert rows[0]["line_key"] == "1.2.1.1-2025-investment"
        assert rows[0]["action_code"] == "1.2.1.1"
        assert rows[0]["planned"] == "1000.50"


async def test_the_validation_catches_a_broken_file(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    response = await download(client, "/v1/datasets/communes.csv")
    schema = (await client.get("/v1/schemas/communes.json")).json()
    lines = response.content.decode().splitlines()
    broken = lines[1].replace(",2026-", ",26/11/2026 ").replace(lines[1].split(",")[0], "6201")
    body = "\n".join([lines[0], broken, *lines[2:]]).encode()
    errors = frictionless_errors(tmp_path, "communes", body, schema)
    assert any("constraint" in error for error in errors)
    assert any("type-error" in error for error in errors)


async def test_csv_conventions(client: httpx.AsyncClient, session: AsyncSession) -> None:
    # A code with a leading zero stays text; commas and quotes are quoted; decimals use '.'.
    await session.execute(
        text(
            "INSERT INTO commune (insee, name, siren, population, boundary) VALUES "
            "('01004', 'Ambérieu-en-Bugey, \"test\"', '210100046', 14000, "
            "ST_GeomFromText('MULTIPOLYGON(((5.3 45.9, 5.4 45.9, 5.4 46.0, 5.3 45.9)))', 4326))"
        )
    )
    body = (await download(client, "/v1/datasets/communes.csv")).content.decode("utf-8")
    assert '\n01004,"Ambérieu-en-Bugey, ""test""",210100046,14000,5.' in body
    (row,) = [r for r in csv.DictReader(io.StringIO(body)) if r["insee"] == "01004"]
    assert row["name"] == 'Ambérieu-en-Bugey, "test"'
    assert float(row["longitude"]) == pytest.approx(5.37, abs=0.05)
    assert row["updated_at"].endswith("Z")
    assert "T" in row["updated_at"]

    actions = (await download(client, "/v1/datasets/actions.csv")).content.decode("utf-8")
    records = list(csv.DictReader(io.StringIO(actions)))
    with_communes = [r for r in records if r["communes"] != "[]"]
    assert with_communes
    assert all(isinstance(json.loads(r["communes"]), list) for r in records)
    dated = [r for r in records if r["start_date"]]
    assert dated
    assert all(len(r["start_date"]) == 10 for r in dated)
    # An unknown value is an empty cell; an empty text would be quoted.
    assert any(r["status"] == "" for r in records)


async def test_the_json_export_holds_what_the_api_lists(client: httpx.AsyncClient) -> None:
    exported = (await download(client, "/v1/datasets/actions.json")).json()
    listed = (await client.get("/v1/actions?limit=1000")).json()["items"]
    assert [r["code"] for r in exported] == [a["code"] for a in listed]
    for record, item in zip(exported, listed, strict=True):
        for name in ("title", "description", "status", "lead", "partners", "communes"):
            assert record[name] == item[name], name
        assert record["objective_code"] == item["objective_code"]


async def test_the_geojson_export_of_the_communes(client: httpx.AsyncClient) -> None:
    collection = (await download(client, "/v1/datasets/communes.geojson")).json()
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 36
    feature = collection["features"][0]
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["id"] == feature["properties"]["insee"]
    assert "boundary" not in feature["properties"]
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 2 < lon < 4  # WGS84, longitude first
    assert 50 < lat < 51
    missing = await client.get("/v1/datasets/actions.geojson")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_size_and_checksum_are_announced(client: httpx.AsyncClient) -> None:
    described = {d["identifier"]: d for d in (await client.get("/v1/datasets")).json()}
    assert sorted(described) == sorted(DATASETS)
    for dataset in described.values():
        for distribution in dataset["distributions"]:
            response = await download(client, distribution["url"])
            body = response.content
            assert len(body) == distribution["byte_size"] == int(response.headers["content-length"])
            assert hashlib.sha256(body).hexdigest() == distribution["sha256"]
            assert hashlib.sha1(body).hexdigest() == distribution["sha1"]
            assert response.headers["repr-digest"].startswith("sha-256=:")
            assert response.headers["etag"]
            assert response.headers["last-modified"]
            head = await client.head(distribution["url"], headers={"accept-encoding": "identity"})
            assert head.status_code == 200
            assert head.content == b""
            assert head.headers["content-length"] == str(len(body))
            assert head.headers["etag"] == response.headers["etag"]


async def test_a_change_gives_new_figures_and_validators(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await download(client, "/v1/datasets/axes.csv")
    other = await download(client, "/v1/datasets/communes.csv")
    await session.execute(text("UPDATE axis SET title = 'Mobilité, verte' WHERE code = '1'"))
    after = await download(client, "/v1/datasets/axes.csv")
    assert b'1,"Mobilit\xc3\xa9, verte"' in after.content
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["content-length"] == str(len(after.content))
    (axes,) = [d for d in (await client.get("/v1/datasets")).json() if d["identifier"] == "axes"]
    (csv_file,) = [d for d in axes["distributions"] if d["format"] == "csv"]
    assert csv_file["sha256"] == hashlib.sha256(after.content).hexdigest()
    # Another dataset's validators do not move.
    again = await download(client, "/v1/datasets/communes.csv")
    assert again.headers["etag"] == other.headers["etag"]
    unchanged = await client.get(
        "/v1/datasets/communes.csv",
        headers={"if-none-match": other.headers["etag"], "accept-encoding": "identity"},
    )
    assert unchanged.status_code == 304
    assert unchanged.content == b""


async def test_unknown_datasets(client: httpx.AsyncClient) -> None:
    for url in ("/v1/datasets/nothing.csv", "/v1/schemas/nothing.json", "/v1/datasets/nothing"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "actions" in response.json()["detail"]


CONTACT = "secret-contact-9c2e@example.org"


async def test_initiatives_are_published_without_their_contact(
    client: httpx.AsyncClient, session: AsyncSession, tmp_path: Path
) -> None:
    for title, status in (("Visible (export)", "published"), ("Caché (export)", "submitted")):
        await session.execute(
            text(
                "INSERT INTO initiative (title, category, status, location_precision, contact, "
                "published_at, geometry) VALUES (:title, '1', :status, 'exact', :contact, "
                "now(), ST_SetSRID(ST_MakePoint(2.83, 50.43), 4326))"
            ),
            {"title": title, "status": status, "contact": CONTACT},
        )
    bodies = [
        (await download(client, f"/v1/datasets/initiatives.{extension}")).text
        for extension in ("csv", "json", "geojson")
    ]
    bodies.append((await client.get("/v1/schemas/initiatives.json")).text)
    bodies.append((await client.get("/v1/catalog.ttl")).text)
    for body in bodies:
        assert CONTACT not in body
    assert "contact" not in bodies[0].splitlines()[0]
    assert all("contact" not in record for record in json.loads(bodies[1]))
    assert "Visible (export)" in bodies[0]
    assert "Caché (export)" not in bodies[0] + bodies[1] + bodies[2]
    schema = (await client.get("/v1/schemas/initiatives.json")).json()
    body = (await download(client, "/v1/datasets/initiatives.csv")).content
    assert frictionless_errors(tmp_path, "initiatives", body, schema) == []
    collection = json.loads(bodies[2])
    assert collection["type"] == "FeatureCollection"
    (visible,) = [
        f for f in collection["features"] if f["properties"]["title"] == "Visible (export)"
    ]
    assert visible["geometry"] == {"type": "Point", "coordinates": [2.83, 50.43]}
    assert "contact" not in visible["properties"]
