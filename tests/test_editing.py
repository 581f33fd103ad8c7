"""Editing the plan and its follow-up with an editor key: validation, conflicts, If-Match,
deletions restored, an action's public history, ETags that follow only what a page shows."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import keys

ACTION = "1.2.1.1"


@pytest.fixture
async def editor(session: AsyncSession) -> dict[str, str]:
    made = await keys.create_key(session, "rédaction", ["editor"], None)
    await session.commit()  # a refused request rolls back what the test had not committed
    return {"Authorization": f"Bearer {made.secret}"}


async def patch(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    etag = (await client.get(url)).headers["etag"]
    return await client.patch(
        url,
        json=body,
        headers={**headers, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )


async def test_create_update_delete_a_plan_branch(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    axis = await client.post("/v1/axes", json={"code": "9", "title": "Axe neuf"}, headers=editor)
    assert axis.status_code == 201, axis.text
    assert axis.headers["location"] == "/v1/axes/9"
    assert axis.headers["etag"] == (await client.get("/v1/axes/9")).headers["etag"]
    for url, body in (
        ("/v1/ambitions", {"code": "9.1", "parent": "9", "title": "Ambition"}),
        ("/v1/objectives", {"code": "9.1.1", "title": "Objectif", "weight": 2}),
        (
            "/v1/actions",
            {
                "code": "9.1.1.1",
                "title": "Action",
                "status": "in_progress",
                "progress": 40,
                "communes": ["62498"],
                "start_date": "2026-01-01",
                "end_date": "2026-12-31",
                "geometry": {"type": "Point", "coordinates": [2.83, 50.43]},
            },
        ),
    ):
        created = await client.post(url, json=body, headers=editor)
        assert created.status_code == 201, created.text
    action = (await client.get("/v1/actions/9.1.1.1")).json()
    assert action["axis"]["code"] == "9"
    assert action["communes"] == ["62498"]
    assert action["progress"]["value"] == 40
    assert action["geometry"]["type"] == "Point"

    changed = await patch(client, "/v1/actions/9.1.1.1", editor, {"status": "done", "lead": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "done"
    assert changed.headers["etag"] == (await client.get("/v1/actions/9.1.1.1")).headers["etag"]

    busy = await client.delete("/v1/objectives/9.1.1", headers=editor)
    assert busy.status_code == 409
    assert "1 actions" in busy.json()["detail"]
    for url in ("/v1/actions/9.1.1.1", "/v1/objectives/9.1.1", "/v1/ambitions/9.1", "/v1/axes/9"):
        assert (await client.delete(url, headers=editor)).status_code == 204, url
        assert (await client.get(url)).status_code == 404
    # A deleted code is restored, never given to another record.
    reused = await client.post("/v1/axes", json={"code": "9", "title": "Autre"}, headers=editor)
    assert reused.status_code == 409
    assert "restore" in reused.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/ambitions", {"code": "1.99", "parent": "2", "title": "x"}, "parent"),
        ("/v1/ambitions", {"code": "8.1", "title": "x"}, "parent"),
        ("/v1/objectives", {"code": "1.2", "title": "x"}, "code"),
        ("/v1/axes", {"code": "8", "parent": "1", "title": "x"}, "parent"),
        ("/v1/axes", {"code": "8", "title": ""}, "title"),
        ("/v1/axes", {"code": "8", "title": "x" * 501}, "title"),
        ("/v1/axes", {"code": "8", "title": "x", "weight": 0}, "weight"),
        ("/v1/axes", {"code": "8", "title": "x", "colour": "red"}, "colour"),
        ("/v1/axes", {"code": "8", "title": "a\x00b"}, "title"),
        ("/v1/actions", {"code": "1.2.1.99", "title": "x", "progress": 101}, "progress"),
        ("/v1/actions", {"code": "1.2.1.99", "title": "x", "status": "finished"}, "status"),
        ("/v1/actions", {"code": "1.2.1.99", "title": "x", "communes": ["75056"]}, "communes"),
        (
            "/v1/actions",
            {
                "code": "1.2.1.99",
                "title": "x",
                "start_date": "2026-02-01",
                "end_date": "2026-01-01",
            },
            "end_date",
        ),
        (
            "/v1/actions",
            {
                "code": "1.2.1.99",
                "title": "x",
                "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
            },
            "geometry",
        ),
        (
            "/v1/actions/1.2.1.1/budget",
            {"year": 2030, "nature": "investment", "planned": -1},
            "planned",
        ),
        ("/v1/actions/1.2.1.1/budget", {"year": 2030, "nature": "gift"}, "nature"),
        ("/v1/actions/1.2.1.1/milestones", {"position": 90, "date": "2030-01-01"}, "title"),
        (
            "/v1/indicators/bulles-intervalle-pointe/values",
            {
                "kind": "result",
                "value": 1,
                "period_start": "2030-02-01",
                "period_end": "2030-01-01",
            },
            "period_end",
        ),
        (
            "/v1/indicators/bulles-intervalle-pointe/values",
            {"kind": "result", "value": 1},
            "period_start",
        ),
        (
            "/v1/indicators",
            {"code": "nouveau", "name": "x", "unit": "m", "measures": ["7.7"]},
            "measures",
        ),
    ],
)
async def test_each_faulty_field_is_named(
    client: httpx.AsyncClient, editor: dict[str, str], url: str, body: dict[str, Any], field: str
) -> None:
    answer = await client.post(url, json=body, headers=editor)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["name"] for error in answer.json()["errors"]], answer.json()


async def test_conflicts_are_409(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    taken = await client.post("/v1/axes", json={"code": "1", "title": "x"}, headers=editor)
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert (await client.delete("/v1/axes/1", headers=editor)).status_code == 409
    line = {"year": 2031, "nature": "operating", "planned": 10}
    assert (
        await client.post(f"/v1/actions/{ACTION}/budget", json=line, headers=editor)
    ).status_code == 201
    assert (
        await client.post(f"/v1/actions/{ACTION}/budget", json=line, headers=editor)
    ).status_code == 409


async def test_missing_records_are_404(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    milestone = {"position": 1, "date": "2030-01-01", "title": "x"}
    for method, url, body in (
        ("PATCH", "/v1/actions/9.9.9.9", {}),
        ("DELETE", "/v1/axes/9", None),
        ("PATCH", "/v1/indicators/inconnu", {}),
        ("DELETE", f"/v1/actions/{ACTION}/budget/{ACTION}-1999-operating", None),
        ("POST", "/v1/actions/9.9.9.9/milestones", milestone),
        ("POST", "/v1/deletions/999999/restore", None),
    ):
        answer = await client.request(method, url, headers={**editor, "If-Match": "*"}, json=body)
        assert answer.status_code == 404, (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


async def test_codes_are_permanent(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    moved = await patch(client, f"/v1/actions/{ACTION}", editor, {"code": "1.2.1.77"})
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["name"] == "code"
    same = await patch(client, f"/v1/actions/{ACTION}", editor, {"code": ACTION, "parent": "1.2.1"})
    assert same.status_code == 200


async def test_updates_need_the_current_etag(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    url = f"/v1/actions/{ACTION}"
    etag = (await client.get(url)).headers["etag"]
    missing = await client.patch(url, json={"progress": 10}, headers=editor)
    assert missing.status_code == 428
    done = await client.patch(url, json={"progress": 10}, headers={**editor, "If-Match": etag})
    assert done.status_code == 200
    stale = await client.patch(url, json={"progress": 20}, headers={**editor, "If-Match": etag})
    assert stale.status_code == 412
    gone = await client.delete(url, headers={**editor, "If-Match": etag})
    assert gone.status_code == 412


async def test_inert_strings_are_stored_and_returned_verbatim(
    client: httpx.AsyncClient, editor: dict[str, str], session: AsyncSession
) -> None:
    hostile = "<script>alert('x')</script>'; DROP TABLE action; -- \"quoted\" \\ é"
    created = await client.post(
        "/v1/axes", json={"code": "8", "title": hostile, "description": hostile}, headers=editor
    )
    assert created.status_code == 201
    assert created.json()["title"] == hostile
    assert (await client.get("/v1/axes/8")).json()["description"] == hostile
    assert await session.scalar(text("SELECT title FROM axis WHERE code = '8'")) == hostile
    assert await session.scalar(text("SELECT count(*) FROM action")) > 0
    long = await client.post(
        "/v1/axes", json={"code": "7", "title": "x", "description": "y" * 20_001}, headers=editor
    )
    assert long.status_code == 422


async def test_follow_up_records(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    line = await client.post(
        f"/v1/actions/{ACTION}/budget",
        json={"year": 2032, "nature": "investment", "planned": 1000.5},
        headers=editor,
    )
    assert line.status_code == 201, line.text
    url = line.headers["location"]
    assert url == f"/v1/actions/{ACTION}/budget/{ACTION}-2032-investment"
    assert (await patch(client, url, editor, {"actual": 12})).json()["actual"] == 12
    milestone = await client.post(
        f"/v1/actions/{ACTION}/milestones",
        json={
            "position": 50,
            "date": "2032-05-01",
            "title": "Étape",
            "reached": True,
            "progress": 55,
        },
        headers=editor,
    )
    assert milestone.status_code == 201, milestone.text
    assert milestone.json()["key"] == f"{ACTION}-50"
    changed = await patch(client, milestone.headers["location"], editor, {"title": "Étape 2"})
    assert changed.json()["title"] == "Étape 2"
    indicator = await client.post(
        "/v1/indicators",
        json={"code": "essai-1", "name": "Essai", "unit": "%", "measures": [ACTION, "1.2"]},
        headers=editor,
    )
    assert indicator.status_code == 201, indicator.text
    assert indicator.json()["measures"]["actions"] == [ACTION]
    value = await client.post(
        "/v1/indicators/essai-1/values",
        json={"kind": "result", "value": 42, "period_start": "2030-01-01"},
        headers=editor,
    )
    assert value.status_code == 201, value.text
    over = await patch(client, value.headers["location"], editor, {"value": 140})
    assert over.status_code == 422
    assert (await patch(client, value.headers["location"], editor, {"value": 43})).json()[
        "value"
    ] == 43
    again = await client.post(
        "/v1/indicators/essai-1/values",
        json={"kind": "result", "value": 1, "period_start": "2030-01-01"},
        headers=editor,
    )
    assert again.status_code == 409
    assert (await client.delete(value.headers["location"], headers=editor)).status_code == 204
    assert (await client.delete("/v1/indicators/essai-1", headers=editor)).status_code == 204


async def snapshot(session: AsyncSession, code: str) -> dict[str, Any]:
    """Every row of an action and its follow-up, as stored (updated_at apart)."""
    rows = {}
    for table, where in (
        ("action", "code = :code"),
        ("milestone", "action_id = (SELECT id FROM action WHERE code = :code)"),
        ("budget_line", "action_id = (SELECT id FROM action WHERE code = :code)"),
        ("action_commune", "action_id = (SELECT id FROM action WHERE code = :code)"),
        ("indicator_action", "action_id = (SELECT id FROM action WHERE code = :code)"),
        ("initiative_action", "action_code = :code"),
    ):
        result = await session.execute(
            text(
                "SELECT coalesce(jsonb_agg(to_jsonb(t) - 'updated_at' "
                f"ORDER BY to_jsonb(t)::text), '[]') FROM {table} t WHERE {where}"
            ),
            {"code": code},
        )
        rows[table] = result.scalar_one()
    return rows


async def test_a_deletion_is_restored_identical(
    client: httpx.AsyncClient, editor: dict[str, str], session: AsyncSession
) -> None:
    code = "2.2.2.1"  # with milestones and indicators; a budget line and communes added
    line = {"year": 2030, "nature": "investment", "planned": 5}
    assert (await client.post(f"/v1/actions/{code}/budget", json=line, headers=editor)).is_success
    located = {
        "communes": ["62498", "62510"],
        "geometry": {"type": "LineString", "coordinates": [[2.8312345, 50.43], [2.84, 50.4412345]]},
    }
    communes = await patch(client, f"/v1/actions/{code}", editor, located)
    assert communes.status_code == 200, communes.text
    before = await snapshot(session, code)
    for table in ("milestone", "budget_line", "indicator_action", "action_commune"):
        assert before[table], table
    # The feed reads change_log, and shows an entry once every older transaction has ended:
    # inside the test's one transaction, read change_log itself.
    mark = await session.scalar(text("SELECT coalesce(max(id), 0) FROM change_log"))

    async def logged(operation: str) -> set[tuple[str, str]]:
        rows = await session.execute(
            text("SELECT dataset, record_key FROM change_log WHERE id > :mark AND operation = :op"),
            {"mark": mark, "op": operation},
        )
        return {(dataset, key) for dataset, key in rows.all()}

    assert (await client.delete(f"/v1/actions/{code}", headers=editor)).status_code == 204
    assert (await client.get(f"/v1/actions/{code}")).status_code == 404
    listed = (await client.get("/v1/actions?limit=1000")).json()["items"]
    assert code not in [item["code"] for item in listed]
    deletions = (await client.get("/v1/deletions", headers=editor)).json()["items"]
    deletion = deletions[0]
    rows = sum(len(v) for v in before.values())
    assert deletion["record_key"] == code
    assert deletion["rows"] == rows
    assert deletion["actor"].startswith("key:")
    assert deletion["path"] == f"/v1/actions/{code}"
    assert deletion["transaction_id"] > 0
    deleted = await logged("delete")
    assert ("actions", code) in deleted
    assert {dataset for dataset, _ in deleted} >= {"actions", "milestones", "budget_lines"}
    mark = await session.scalar(text("SELECT max(id) FROM change_log"))

    restored = await client.post(f"/v1/deletions/{deletion['id']}/restore", headers=editor)
    assert restored.status_code == 200, restored.text
    assert restored.json()["rows"] == rows
    assert await snapshot(session, code) == before
    assert (await client.get(f"/v1/actions/{code}")).status_code == 200
    inserted = await logged("insert")
    assert {("actions", code), ("budget_lines", f"{code}-2030-investment")} <= inserted
    twice = await client.post(f"/v1/deletions/{deletion['id']}/restore", headers=editor)
    assert twice.status_code == 409


async def test_a_restore_whose_key_was_taken_again_changes_nothing(
    client: httpx.AsyncClient, editor: dict[str, str], session: AsyncSession
) -> None:
    url = f"/v1/actions/{ACTION}/milestones"
    await client.post(
        url, json={"position": 70, "date": "2030-01-01", "title": "A"}, headers=editor
    )
    assert (await client.delete(f"{url}/{ACTION}-70", headers=editor)).status_code == 204
    deletion = (await client.get("/v1/deletions", headers=editor)).json()["items"][0]
    await client.post(
        url, json={"position": 70, "date": "2031-01-01", "title": "B"}, headers=editor
    )
    refused = await client.post(f"/v1/deletions/{deletion['id']}/restore", headers=editor)
    assert refused.status_code == 409
    assert (await client.get(f"{url}/{ACTION}-70")).json()["title"] == "B"


async def test_the_public_history_of_an_action(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    url = f"/v1/actions/{ACTION}"
    await patch(client, url, editor, {"status": "late"})
    await patch(client, url, editor, {"title": "Sans effet sur l'historique"})
    await patch(client, url, editor, {"progress": 70})
    history = await client.get(f"{url}/history")
    assert history.status_code == 200
    changes = history.json()["changes"]
    assert [c["status"] for c in changes[-2:]] == ["late", "late"]
    assert changes[-2]["previous_status"] != "late"
    assert changes[-1]["progress"] == 70
    assert "actor" not in history.text
    assert "key:" not in history.text
    assert (await client.get("/v1/actions/9.9.9.9/history")).status_code == 404


async def test_etags_follow_what_a_page_shows(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    pages = ["/v1/axes/2", "/v1/actions/2.2.2.1", "/v1/indicators", "/v1/communes", "/v1/plan"]
    # One node of the plan has the ETag of its own representation: it moves with its body.
    own = ("/v1/axes/2", "/v1/actions/2.2.2.1")

    async def read() -> dict[str, tuple[str, bytes]]:
        found = {}
        for url in pages:
            response = await client.get(url)
            found[url] = (response.headers["etag"], response.content)
        return found

    before = await read()
    # An initiative changes: no page of the plan, the indicators or the communes shows it.
    await session.execute(text("UPDATE initiative SET title = title || '.' WHERE id = 1"))
    after = await read()
    assert {url: etag for url, (etag, _) in after.items()} == {
        url: etag for url, (etag, _) in before.items()
    }
    assert (await client.get("/v1/initiatives")).headers["etag"]
    # A milestone of one action: the plan's pages (from the versions), that action's page (its
    # own body shows it), not the communes; the axis's page moves only if its body did.
    await session.execute(
        text(
            "UPDATE milestone SET title = title || '.' WHERE id = (SELECT min(m.id) FROM "
            "milestone m JOIN action a ON a.id = m.action_id WHERE a.code = '2.2.2.1')"
        )
    )
    read_now = await read()
    now = {url: etag for url, (etag, _) in read_now.items()}
    assert now["/v1/communes"] == before["/v1/communes"][0]
    for url in ("/v1/actions/2.2.2.1", "/v1/plan"):
        assert now[url] != before[url][0], url
    for url in own:
        assert (now[url] != before[url][0]) == (read_now[url][1] != before[url][1]), url
    # An indicator value: the indicators' pages, not the plan's.
    await session.execute(
        text(
            "UPDATE indicator_value SET comment = 'x' "
            "WHERE id = (SELECT min(id) FROM indicator_value)"
        )
    )
    last = {url: (await client.get(url)).headers["etag"] for url in pages}
    assert last["/v1/indicators"] != now["/v1/indicators"]
    assert last["/v1/plan"] == now["/v1/plan"]
