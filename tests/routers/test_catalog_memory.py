"""Serving the catalog leaves no reference cycle behind: a worker answering harvesters all day
must free each request's RDF graph when the answer is sent, not wait for the cyclic collector
(the soak saw a worker's memory grow with rdflib's stores waiting for it)."""

import gc

import httpx
import pytest

# Beyond what a GET of a page that builds no graph leaves to the cyclic collector (some 30
# objects): a catalog graph left in a cycle is some 6,000 (its store holds every triple).
SLACK = 500


@pytest.mark.parametrize("extension", ["jsonld", "ttl", "rdf"])
async def test_a_catalog_answer_leaves_no_cycle(client: httpx.AsyncClient, extension: str) -> None:
    url = f"/v1/catalog.{extension}"
    assert (await client.get(url)).status_code == 200  # warm: imports, caches, plugins
    assert (await client.get("/v1/datasets")).status_code == 200
    gc.collect()
    gc.disable()
    try:
        assert (await client.get("/v1/datasets")).status_code == 200
        baseline = gc.collect()
        answer = await client.get(url)
        left = gc.collect()
    finally:
        gc.enable()
    assert answer.status_code == 200
    assert len(answer.content) > 10_000  # a real catalog, of thousands of triples
    assert left <= baseline + SLACK, (left, baseline)
