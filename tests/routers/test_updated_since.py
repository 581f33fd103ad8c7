"""`updated_since` on every list: RFC 3339 only, and only what changed at or after it."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

LISTS = {
    "/v1/axes": ("axis", "code", "1"),
    "/v1/ambitions": ("ambition", "code", "1.2"),
    "/v1/objectives": ("objective", "code", "1.2.1"),
    "/v1/actions": ("action", "code", "1.2.1.1"),
    "/v1/communes": ("commune", "insee", "62498"),
}


def keys(url: str, body: dict[str, object]) -> list[str]:
    if url == "/v1/communes":
        return [f["id"] for f in body["features"]]  # type: ignore[attr-defined]
    return [item["code"] for item in body["items"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", LISTS)
async def test_only_what_changed_since(
    client: httpx.AsyncClient, session: AsyncSession, url: str
) -> None:
    table, key, value = LISTS[url]
    everything = keys(url, (await client.get(url)).json())
    await session.execute(
        text(f"UPDATE {table} SET name = name || ' ' WHERE {key} = :v")
        if table == "commune"
        else text(f"UPDATE {table} SET title = title || ' ' WHERE {key} = :v"),
        {"v": value},
    )
    now = await session.scalar(text("SELECT now()"))
    assert now is not None
    for since in (now.isoformat(), now.isoformat().replace("+00:00", "Z")):
        changed = await client.get(url, params={"updated_since": since})
        assert changed.status_code == 200
        assert keys(url, changed.json()) == [value]
    past = await client.get(url, params={"updated_since": "2000-01-01T00:00:00+01:00"})
    assert keys(url, past.json()) == everything


@pytest.mark.parametrize("url", [*LISTS, "/v1/changes", "/v1/search?q=bus"])
@pytest.mark.parametrize(
    "value",
    [
        "2026-01-01",
        "2026-01-01T00:00:00",
        "yesterday",
        "1700000000",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T25:00:00Z",
        "2026-01-01T00:00:00+25:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-01-01T00:00:00Z trailing",
    ],
)
async def test_a_malformed_date_is_a_400(client: httpx.AsyncClient, url: str, value: str) -> None:
    response = await client.get(url, params={"updated_since": value})
    assert response.status_code == 400, (url, value, response.text)
    assert response.json()["errors"][0]["name"] == "updated_since"
