"""The DCAT catalog, judged by the official DCAT-AP SHACL shapes and read the way data.gouv.fr's
DCAT harvester reads it (format from the extension, Hydra paging, dct:identifier, downloadURL,
byteSize, spdx:checksum, conformsTo, spatial GeoJSON literal, the DataService)."""

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import PROJECT_ROOT
from tests.conftest import TEST_DATABASE_URL

SHAPES = Path(__file__).resolve().parent.parent / "fixtures" / "dcat-ap"
SPDX = "http://spdx.org/rdf/terms#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
LOCN = "http://www.w3.org/ns/locn#"
GEOJSON = "https://www.iana.org/assignments/media-types/application/vnd.geo+json"
FORMATS = {"jsonld": "json-ld", "ttl": "turtle", "rdf": "xml"}
MEDIA_TYPES = {"jsonld": "application/ld+json", "ttl": "text/turtle", "rdf": "application/rdf+xml"}


@cache
def shapes(name: str) -> Graph:
    return Graph().parse(SHAPES / name)


def violations(data: Graph, shapes_file: str) -> list[tuple[str, str, str]]:
    """(focus node, path, message) of every violation."""
    conforms, report, _ = validate(data, shacl_graph=shapes(shapes_file), inference="rdfs")
    sh = "http://www.w3.org/ns/shacl#"
    found = []
    for result in report.subjects(RDF.type, URIRef(sh + "ValidationResult")):
        found.append(
            (
                str(report.value(result, URIRef(sh + "focusNode"))),
                str(report.value(result, URIRef(sh + "resultPath"))),
                str(report.value(result, URIRef(sh + "resultMessage"))),
            )
        )
    assert conforms == (not found)
    return found


async def catalog(client: httpx.AsyncClient, extension: str = "ttl", page: int = 1) -> Graph:
    response = await client.get(f"/v1/catalog.{extension}?page={page}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPES[extension])
    return Graph().parse(data=response.text, format=FORMATS[extension])


async def test_the_catalog_has_no_violation_of_dcat_ap_3(client: httpx.AsyncClient) -> None:
    graph = await catalog(client)
    assert violations(graph, "3.0.1/shapes.ttl") == []
    assert violations(graph, "3.0.1/range.ttl") == []


async def test_against_dcat_ap_2_only_the_byte_size_datatype_differs(
    client: httpx.AsyncClient,
) -> None:
    graph = await catalog(client)
    found = violations(graph, "2.1.1/dcat-ap_2.1.1_shacl_shapes.ttl")
    distributions = set(graph.subjects(RDF.type, DCAT.Distribution))
    assert {path for _, path, _ in found} == {str(DCAT.byteSize)}
    assert {URIRef(focus) for focus, _, _ in found} == distributions
    assert violations(graph, "2.1.1/dcat-ap_2.1.1_shacl_range.ttl") == []


async def test_the_validation_catches_a_missing_title(client: httpx.AsyncClient) -> None:
    # The shapes are really applied: remove what DCAT-AP requires and they say so.
    graph = await catalog(client)
    dataset = next(iter(graph.subjects(RDF.type, DCAT.Dataset)))
    graph.remove((dataset, DCTERMS.title, None))
    publisher = next(iter(graph.subjects(RDF.type, FOAF.Agent)))
    graph.remove((publisher, RDF.type, FOAF.Agent))
    found = violations(graph, "3.0.1/shapes.ttl") + violations(graph, "3.0.1/range.ttl")
    assert any(focus == str(dataset) and path == str(DCTERMS.title) for focus, path, _ in found)
    assert any(path == str(DCTERMS.publisher) for _, path, _ in found)


async def test_the_three_serializations_say_the_same(client: httpx.AsyncClient) -> None:
    turtle = await catalog(client, "ttl")
    assert isomorphic(turtle, await catalog(client, "jsonld"))
    assert isomorphic(turtle, await catalog(client, "rdf"))
    # The same data gives the same bytes (ETags and caches rely on it).
    first = (await client.get("/v1/catalog.jsonld")).content
    assert (await client.get("/v1/catalog.jsonld")).content == first


SERIALIZE = """
import asyncio, hashlib, sys, httpx
from app.config import Settings
from app.main import create_app

async def main():
    app = create_app(Settings(database_url=sys.argv[1], response_cache=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for extension in ("jsonld", "ttl", "rdf"):
            body = (await client.get(f"/v1/catalog.{extension}")).content
            print(extension, hashlib.sha256(body).hexdigest())

asyncio.run(main())
"""


async def test_every_process_writes_the_same_bytes() -> None:
    # rdflib iterates sets in places; the service orders what it writes, so two workers (two
    # hash seeds) give byte-identical catalogs, as their shared ETag promises.
    outputs = set()
    for seed in ("1", "2"):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SERIALIZE,
            TEST_DATABASE_URL,
            stdout=asyncio.subprocess.PIPE,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        out, _ = await process.communicate()
        assert process.returncode == 0
        assert out.count(b"\n") == 3
        outputs.add(out)
    assert len(outputs) == 1


def harvest(graph: Graph) -> dict[str, dict[str, Any]]:
    """What data.gouv.fr's harvester takes from a page: datasets keyed on dct:identifier."""
    harvested = {}
    for node in graph.subjects(RDF.type, DCAT.Dataset):
        identifier = graph.value(node, DCTERMS.identifier)
        title = graph.value(node, DCTERMS.title)
        if identifier is None or title is None:
            continue
        resources = []
        for distribution in graph.objects(node, DCAT.distribution):
            checksum = graph.value(distribution, URIRef(SPDX + "checksum"))
            resources.append(
                {
                    "url": str(
                        graph.value(distribution, DCAT.downloadURL)
                        or graph.value(distribution, DCAT.accessURL)
                    ),
                    "filesize": graph.value(distribution, DCAT.byteSize).toPython(),  # type: ignore[union-attr]
                    "format": str(graph.value(distribution, DCTERMS.format)).rsplit("/", 1)[-1],
                    "mime": str(graph.value(distribution, DCAT.mediaType)).split("media-types/")[
                        -1
                    ],
                    "algorithm": str(graph.value(checksum, URIRef(SPDX + "algorithm"))),
                    "checksum": str(graph.value(checksum, URIRef(SPDX + "checksumValue"))),
                    "schema": graph.value(distribution, DCTERMS.conformsTo),
                }
            )
        spatial = [
            json.loads(str(literal))
            for location in graph.objects(node, DCTERMS.spatial)
            for literal in graph.objects(location)
            if isinstance(literal, Literal) and str(literal.datatype) == GEOJSON
        ]
        harvested[str(identifier)] = {
            "title": str(title),
            "language": title.language,  # type: ignore[union-attr]
            "description": str(graph.value(node, DCTERMS.description)),
            "license": str(graph.value(node, DCTERMS.license)),
            "modified": graph.value(node, DCTERMS.modified),
            "keywords": {str(k) for k in graph.objects(node, DCAT.keyword)},
            "themes": set(graph.objects(node, DCAT.theme)),
            "publisher": graph.value(node, DCTERMS.publisher),
            "resources": resources,
            "spatial": spatial,
        }
    return harvested


async def test_a_harvester_gets_every_dataset_with_its_files(client: httpx.AsyncClient) -> None:
    graph = await catalog(client, "jsonld")
    harvested = harvest(graph)
    assert set(harvested) == {
        f"246200364-{name}"
        for name in (
            "territory",
            "communes",
            "axes",
            "ambitions",
            "objectives",
            "actions",
            "initiatives",
            "indicators",
            "indicator_values",
            "budget_lines",
            "milestones",
        )
    }
    actions = harvested["246200364-actions"]
    assert (
        actions["title"]
        == "Actions du projet de territoire — Communauté d'agglomération de Lens-Liévin"
    )
    assert actions["language"] == "fr"
    assert actions["license"] == "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    assert "projet de territoire" in actions["keywords"]
    assert (
        URIRef("http://publications.europa.eu/resource/authority/data-theme/GOVE")
        in actions["themes"]
    )
    publisher = actions["publisher"]
    assert str(graph.value(publisher, FOAF.name)) == "Communauté d'agglomération de Lens-Liévin"
    assert str(graph.value(publisher, DCTERMS.identifier)) == "246200364"
    assert (publisher, RDF.type, FOAF.Agent) in graph
    contact = graph.value(URIRef("http://testserver/v1/datasets/actions"), DCAT.contactPoint)
    assert contact is not None

    # The spatial coverage is the territory's boundary, as a GeoJSON MultiPolygon literal.
    (boundary,) = actions["spatial"]
    assert boundary["type"] == "MultiPolygon"
    lons = [p[0] for polygon in boundary["coordinates"] for ring in polygon for p in ring]
    assert 2.5 < min(lons) < max(lons) < 3.1

    for identifier, dataset in harvested.items():
        formats = {resource["format"] for resource in dataset["resources"]}
        geographic = identifier.endswith(("communes", "initiatives"))
        assert formats == ({"CSV", "JSON", "GEOJSON"} if geographic else {"CSV", "JSON"})
        for resource in dataset["resources"]:
            # The format is in the URL's extension; size and checksum are the download's.
            extension = resource["url"].rsplit(".", 1)[-1]
            assert extension == resource["format"].lower()
            download = await client.get(resource["url"])
            assert download.status_code == 200
            assert download.headers["content-type"].startswith(resource["mime"])
            assert len(download.content) == resource["filesize"]
            # SHA-1: the one algorithm DCAT-AP 2.1.1 admits (data.gouv.fr reads it too).
            assert resource["algorithm"] == SPDX + "checksumAlgorithm_sha1"
            assert hashlib.sha1(download.content).hexdigest() == resource["checksum"]
            if resource["format"] == "CSV":
                schema = await client.get(str(resource["schema"]))
                assert schema.status_code == 200
                assert schema.json()["fields"]


async def test_the_api_is_a_data_service(client: httpx.AsyncClient) -> None:
    graph = await catalog(client)
    (service,) = graph.subjects(RDF.type, DCAT.DataService)
    assert str(graph.value(service, DCTERMS.identifier)) == "246200364-api"
    assert str(graph.value(service, DCAT.endpointURL)) == "http://testserver/v1/"
    description = str(graph.value(service, DCAT.endpointDescription))
    assert description == "http://testserver/openapi.json"
    assert (await client.get(description)).json()["openapi"].startswith("3.1")
    served = set(graph.objects(service, DCAT.servesDataset))
    assert served == set(graph.subjects(RDF.type, DCAT.Dataset))


async def test_modified_comes_from_the_data(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    graph = await catalog(client)
    node = URIRef("http://testserver/v1/datasets/axes")
    before = graph.value(node, DCTERMS.modified).toPython()  # type: ignore[union-attr]
    await session.execute(text("UPDATE axis SET title = 'Mobilité' WHERE code = '1'"))
    graph = await catalog(client)
    after = graph.value(node, DCTERMS.modified).toPython()  # type: ignore[union-attr]
    assert after > before
    updated = await session.scalar(text("SELECT max(updated_at) FROM axis"))
    assert after >= updated
    # The other datasets did not change.
    communes = URIRef("http://testserver/v1/datasets/communes")
    assert graph.value(communes, DCTERMS.modified).toPython() <= before  # type: ignore[union-attr]


def pages(graph: Graph) -> Iterator[str]:
    for view in graph.subjects(RDF.type, URIRef(HYDRA + "PartialCollectionView")):
        following = graph.value(view, URIRef(HYDRA + "next"))
        if following is not None:
            yield str(following)


async def test_a_large_catalog_is_paged_with_hydra(app: Any, client: httpx.AsyncClient) -> None:
    # Four datasets a page (eleven in all): the harvester follows hydra:next.
    app.state.settings = app.state.settings.model_copy(update={"catalog_page_size": 4})
    for extension in FORMATS:
        url: str | None = f"/v1/catalog.{extension}"
        seen: dict[str, dict[str, Any]] = {}
        count = 0
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200
            graph = Graph().parse(data=response.text, format=FORMATS[extension])
            assert violations(graph, "3.0.1/shapes.ttl") == []
            page = harvest(graph)
            assert not set(page) & set(seen)
            seen |= page
            count += 1
            following = list(pages(graph))
            url = following[0] if following else None
            if url is not None:
                assert url.endswith(f".{extension}?page={count + 1}")
        assert count == 3
        assert len(seen) == 11
    beyond = await client.get("/v1/catalog.ttl?page=4")
    assert beyond.status_code == 400
    assert beyond.json()["errors"][0]["name"] == "page"
