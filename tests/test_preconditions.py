"""If-Match on writes: compared with the ETag a GET of the same URL gives now."""

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import text

from app.db import SessionDep
from app.preconditions import current_etags, require_if_match


@pytest.fixture
def editable(app: FastAPI) -> FastAPI:
    # A write route of the test's own at the URL of a public record (PUT: PATCH is the real one).
    async def rename(code: str, request: Request, session: SessionDep) -> Response:
        await require_if_match(request, session)
        await session.execute(
            text("UPDATE axis SET title = title || ' (modifié)' WHERE code = :code"),
            {"code": code},
        )
        etag, _ = await current_etags(request, session)
        return Response(status_code=204, headers={"ETag": etag})

    app.add_api_route("/v1/axes/{code}", rename, methods=["PUT"])
    return app


async def test_an_update_needs_the_current_etag(
    editable: FastAPI, client: httpx.AsyncClient
) -> None:
    first = await client.get("/v1/axes/1")
    etag = first.headers["etag"]
    missing = await client.put("/v1/axes/1")
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert "If-Match" in missing.json()["detail"]
    malformed = await client.put("/v1/axes/1", headers={"If-Match": "pas-un-etag"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["name"] == "If-Match"
    wrong = await client.put("/v1/axes/1", headers={"If-Match": '"abc"'})
    assert wrong.status_code == 412
    assert wrong.headers["content-type"] == "application/problem+json"

    done = await client.put("/v1/axes/1", headers={"If-Match": etag})
    assert done.status_code == 204
    # The response names the new representation, which a GET now carries.
    now = await client.get("/v1/axes/1")
    assert now.headers["etag"] == done.headers["etag"] != etag
    assert now.json()["title"].endswith("(modifié)")
    # The ETag read before the update is stale now: no lost update.
    stale = await client.put("/v1/axes/1", headers={"If-Match": etag})
    assert stale.status_code == 412
    assert (await client.put("/v1/axes/1", headers={"If-Match": "*"})).status_code == 204


async def test_a_compressed_read_and_a_plain_write_match(
    editable: FastAPI, client: httpx.AsyncClient
) -> None:
    gzipped = await client.get("/v1/axes/1", headers={"Accept-Encoding": "gzip"})
    plain = await client.get("/v1/axes/1", headers={"Accept-Encoding": "identity"})
    assert gzipped.headers["etag"] != plain.headers["etag"]
    answer = await client.put(
        "/v1/axes/1",
        headers={"If-Match": f'"x", {gzipped.headers["etag"]}', "Accept-Encoding": "identity"},
    )
    assert answer.status_code == 204
