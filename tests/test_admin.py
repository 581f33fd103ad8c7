"""Administration with an admin key: API keys (the secret shown once, revoked at once) and the
audit log, never reachable without the admin scope."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import keys


@pytest.fixture
async def admin(session: AsyncSession) -> dict[str, str]:
    made = await keys.create_key(session, "administration", ["admin"], None)
    await session.commit()
    return {"Authorization": f"Bearer {made.secret}"}


async def test_keys_are_created_listed_and_revoked(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/keys", json={"name": "SIG", "scopes": ["editor"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert keys.KEY_PATTERN.fullmatch(secret)
    assert created.headers["location"] == f"/v1/keys/{body['id']}"
    assert "no-store" in created.headers["cache-control"]
    listed = await client.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    assert secret not in listed.text
    assert "digest" not in listed.text
    assert body["id"] in [key["id"] for key in listed.json()]
    one = await client.get(f"/v1/keys/{body['id']}", headers=admin)
    assert one.json()["scopes"] == ["editor"]
    assert "secret" not in one.json()

    use = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/v1/deletions", headers=use)).status_code == 200
    assert (await client.delete(f"/v1/keys/{body['id']}", headers=admin)).status_code == 204
    refused = await client.get("/v1/deletions", headers=use)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert (await client.get(f"/v1/keys/{body['id']}", headers=admin)).json()["revoked_at"]
    assert (await client.delete("/v1/keys/999999", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["editor"]},
        {"name": "x", "scopes": ["editor"], "expires": "never"},
    ],
)
async def test_bad_key_requests_name_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object]
) -> None:
    answer = await client.post("/v1/keys", json=body, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["errors"]


async def test_the_audit_log_for_admins_only(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession
) -> None:
    editor = await keys.create_key(session, "rédaction", ["editor", "moderator"], None)
    await session.commit()
    headers = {"Authorization": f"Bearer {editor.secret}"}
    etag = (await client.get("/v1/axes/1")).headers["etag"]
    changed = await client.patch(
        "/v1/axes/1", json={"title": "Nouveau"}, headers={**headers, "If-Match": etag}
    )
    assert changed.status_code == 200
    for who in ({}, headers):
        refused = await client.get("/v1/audit", headers=who)
        assert refused.status_code in (401, 403)
        assert "Nouveau" not in refused.text
    page = await client.get(
        "/v1/audit",
        params={"table": "axis", "record_key": "1", "operation": "update", "limit": 1},
        headers=admin,
    )
    assert page.status_code == 200, page.text
    entry = page.json()["items"][0]
    assert entry["actor"] == {
        "actor": f"key:{editor.key.id}",
        "key_id": editor.key.id,
        "key_name": "rédaction",
    }
    assert entry["after"]["title"] == "Nouveau"
    assert entry["before"]["title"] != "Nouveau"
    by_actor = await client.get(
        "/v1/audit", params={"actor": f"key:{editor.key.id}"}, headers=admin
    )
    assert {item["table"] for item in by_actor.json()["items"]} == {"axis"}
    # Keyset pages, newest first, with the next page in Link.
    first = await client.get("/v1/audit", params={"limit": 2}, headers=admin)
    assert first.status_code == 200, first.text
    assert 'rel="next"' in first.headers["link"]
    following = await client.get(
        "/v1/audit", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=admin
    )
    ids = [item["id"] for item in first.json()["items"] + following.json()["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 4
    bad = await client.get("/v1/audit", params={"since": "hier"}, headers=admin)
    assert bad.status_code == 400
    # `since` is included, `until` excluded: the entry above is found between its own instant and
    # the next one, and by neither bound alone on the wrong side of it.
    at = entry["changed_at"]
    window = {"table": "axis", "record_key": "1", "operation": "update"}
    for bounds, found in (
        ({"since": at}, True),
        ({"until": at}, False),
        ({"since": "2100-01-01T00:00:00Z"}, False),
        ({"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}, True),
    ):
        listed = await client.get("/v1/audit", params={**window, **bounds}, headers=admin)
        assert listed.status_code == 200, listed.text
        assert (entry["id"] in {item["id"] for item in listed.json()["items"]}) is found, bounds


@pytest.mark.parametrize("url", ["/v1/audit", "/v1/deletions"])
async def test_a_cursor_beyond_the_ids_is_a_400(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, url: str
) -> None:
    editor = await keys.create_key(session, "curseur", ["editor", "admin"], None)
    await session.commit()
    answer = await client.get(
        url + "?cursor=9999999999999999999", headers={"Authorization": f"Bearer {editor.secret}"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["name"] == "cursor"
