"""The documentation pages work without internet: every asset comes from the service."""

import re

import httpx
import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_pages_load_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "cdn" not in html.lower()
    assert "fonts.googleapis" not in html
    references = [a or b for a, b in ASSET.findall(html)]
    assert references
    for reference in references:
        assert reference.startswith("/"), reference
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
    assert any(r.endswith(".js") for r in references)


async def test_problem_types_are_documented(client: httpx.AsyncClient) -> None:
    problem = (await client.get("/v1/axes/9")).json()
    described = await client.get(problem["type"])
    assert described.status_code == 200
    assert described.json()["description"]
    assert (await client.get("/problems/nope")).status_code == 404
