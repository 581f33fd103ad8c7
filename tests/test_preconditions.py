"""If-Match on writes: compared with the ETag a GET of the same URL gives now."""

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import text

from app.db import SessionDep
from app.preconditions import current_etags, require_if_match
from tests.test_editing import editor

__all__ = ["editor"]  # the fixture: an editor's Authorization header

COMMUNE = "/v1/communes/62498"


@pytest.fixture
def editable(app: FastAPI) -> FastAPI:
    # A write route of the test's own at the URL of a public record whose ETag comes from the
    # dataset versions (PUT: no real route writes there).
    async def rename(insee: str, request: Request, session: SessionDep) -> Response:
        await require_if_match(request, session)
        await session.execute(
            text("UPDATE commune SET name = name || ' (modifié)' WHERE insee = :insee"),
            {"insee": insee},
        )
        etag, _ = await current_etags(request, session)
        return Response(status_code=204, headers={"ETag": etag})

    app.add_api_route("/v1/communes/{insee}", rename, methods=["PUT"])
    return app


async def test_an_update_needs_the_current_etag(
    editable: FastAPI, client: httpx.AsyncClient
) -> None:
    first = await client.get(COMMUNE)
    etag = first.headers["etag"]
    missing = await client.put(COMMUNE)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert "If-Match" in missing.json()["detail"]
    malformed = await client.put(COMMUNE, headers={"If-Match": "pas-un-etag"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["name"] == "If-Match"
    wrong = await client.put(COMMUNE, headers={"If-Match": '"abc"'})
    assert wrong.status_code == 412
    assert wrong.headers["content-type"] == "application/problem+json"

    done = await client.put(COMMUNE, headers={"If-Match": etag})
    assert done.status_code == 204
    # The response names the new representation, which a GET now carries.
    now = await client.get(COMMUNE)
    assert now.headers["etag"] == done.headers["etag"] != etag
    assert now.json()["properties"]["name"].endswith("(modifié)")
    # The ETag read before the update is stale now: no lost update.
    stale = await client.put(COMMUNE, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert (await client.put(COMMUNE, headers={"If-Match": "*"})).status_code == 204


async def test_a_compressed_read_and_a_plain_write_match(
    editable: FastAPI, client: httpx.AsyncClient
) -> None:
    gzipped = await client.get(COMMUNE, headers={"Accept-Encoding": "gzip"})
    plain = await client.get(COMMUNE, headers={"Accept-Encoding": "identity"})
    assert gzipped.headers["etag"] != plain.headers["etag"]
    answer = await client.put(
        COMMUNE,
        headers={"If-Match": f'"x", {gzipped.headers["etag"]}', "Accept-Encoding": "identity"},
    )
    assert answer.status_code == 204


async def test_an_editor_s_if_match_fails_only_when_their_own_record_changed(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    mine, other = "/v1/actions/1.2.1.1", "/v1/actions/2.1.1.1"
    read = await client.get(mine)
    etag = read.headers["etag"]
    assert (await client.get(mine, headers=editor)).headers["etag"] == etag  # the same page
    assert (await client.get(mine, headers={"If-None-Match": etag})).status_code == 304
    # Another editor changes another action of the same dataset: my page did not change.
    theirs = await client.get(other)
    changed = await client.patch(
        other,
        json={"title": "Une autre action"},
        headers={**editor, "If-Match": theirs.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert (
        changed.headers["etag"]
        == (await client.get(other)).headers["etag"]
        != theirs.headers["etag"]
    )
    assert (await client.get(mine)).headers["etag"] == etag
    done = await client.patch(
        mine, json={"title": "Mon action"}, headers={**editor, "If-Match": etag}
    )
    assert done.status_code == 200, done.text
    now = await client.get(mine)
    assert now.json()["title"] == "Mon action"
    assert done.headers["etag"] == now.headers["etag"] != etag
    # My own page changed: the ETag read before is stale, no update is lost.
    stale = await client.patch(mine, json={"title": "Perdu"}, headers={**editor, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert (await client.get(mine)).json()["title"] == "Mon action"


async def test_a_node_s_own_etag_on_creation_and_deletion(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/actions", json={"code": "1.2.1.99", "title": "Action neuve"}, headers=editor
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    assert created.headers["etag"] == (await client.get(url)).headers["etag"]
    wrong = await client.delete(url, headers={**editor, "If-Match": '"abc"'})
    assert wrong.status_code == 412
    gone = await client.delete(url, headers={**editor, "If-Match": created.headers["etag"]})
    assert gone.status_code == 204, gone.text
    assert (await client.get(url)).status_code == 404
