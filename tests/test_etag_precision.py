"""Each /v1/ page's ETag follows only the datasets its representation shows.

For every dataset in turn: change a row of it, then GET every public page. A page whose ETag
stays the same must have the same body (else a client would get a stale 304), and a page that
lists the dataset as read must get a new ETag. A node of the plan (its own ETag: a hash of its
representation) gets a new ETag exactly when its body changed."""

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.publication import datasets_read, own_validated
from app.services.registry import REGISTRY
from tests.test_http_cache import IDENTITY, routes
from tests.test_malformed import FOLLOW_UP_EXAMPLES

__all__ = ["routes"]  # the fixture: a working URL for every public GET

TIME_STAMP = re.compile(rb'"timeStamp":"[^"]*"')
CHANGES = {
    "territory": "UPDATE territory SET name = name || ' (modifié)'",
    "communes": "UPDATE commune SET name = name || ' (modifié)'",
    "axes": "UPDATE axis SET title = title || ' (modifié)', weight = weight + 1",
    "ambitions": "UPDATE ambition SET title = title || ' (modifié)', weight = weight + 1",
    "objectives": "UPDATE objective SET title = title || ' (modifié)', weight = weight + 1",
    "actions": "UPDATE action SET title = title || ' (modifié)', progress = 33, status = 'late'",
    "milestones": "UPDATE milestone SET title = title || ' (modifié)', reached = true, "
    "progress = 44",
    "budget_lines": "UPDATE budget_line SET planned = coalesce(planned, 0) + 1, actual = 5",
    "indicators": "UPDATE indicator SET name = name || ' (modifié)'",
    "indicator_values": "UPDATE indicator_value SET value = value + 1, comment = 'modifié'",
    "initiatives": "UPDATE initiative SET title = title || ' (modifié)'",
}


async def test_a_change_shows_on_exactly_the_pages_that_read_it(
    client: httpx.AsyncClient, session: AsyncSession, routes: list[str]
) -> None:
    assert set(CHANGES) == set(REGISTRY.identifiers())
    await session.execute(text(FOLLOW_UP_EXAMPLES))  # a budget line to change
    pages = [url for url in routes if url.startswith("/v1/") and datasets_read(url.split("?")[0])]
    assert len(pages) >= 20
    assert [url for url in pages if own_validated(url.split("?")[0])]  # some of each kind

    async def read() -> dict[str, tuple[str, bytes]]:
        found = {}
        for url in pages:
            response = await client.get(url, headers=IDENTITY)
            assert response.status_code == 200, url
            # The time of the answer (GeoJSON's timeStamp) is not data.
            found[url] = (response.headers["etag"], TIME_STAMP.sub(b"", response.content))
        return found

    before = await read()
    for dataset, statement in CHANGES.items():
        # A dataset's version moves once per transaction, and the test is one transaction.
        await session.execute(
            text("SELECT set_config('territoire.bumped_' || :dataset, '', true)"),
            {"dataset": dataset},
        )
        await session.execute(text(statement))
        after = await read()
        for url in pages:
            shown = dataset in (datasets_read(url.split("?")[0]) or ())
            (etag, body), (new_etag, new_body) = before[url], after[url]
            if own_validated(url.split("?")[0]):
                # A node of the plan: the ETag of its own representation moves with its body.
                assert (new_etag != etag) == (new_body != body), (dataset, url)
            elif shown:
                assert new_etag != etag, (dataset, url)
            else:
                assert new_etag == etag, (dataset, url)
                assert new_body == body, f"{url} shows {dataset} but its ETag ignores it"
        before = after
