"""Proposals from the public, in process: what is stored, what the public sees (nothing until
publication), the status link, bad input, the honeypot, idempotency and the feed."""

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.initiative import InitiativeStatus

POINT = {"type": "Point", "coordinates": [2.8282, 50.4268]}  # Lens


def proposal(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Un jardin partagé rue des Écoles",
        "description": "Transformer la friche en jardin.",
        "category": "4",
        "geometry": POINT,
        "address": "12 rue des Écoles, Lens",
        "author_name": "Camille D.",
        "contact_email": "camille.proposals-test@example.org",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).scalar()


async def test_a_proposal_is_stored_as_submitted_and_followed_by_its_link(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await client.post("/v1/proposals", json=proposal())
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "submitted"
    token = receipt["status_token"]
    assert len(token) == 43
    assert receipt["status_url"] == f"http://testserver/v1/proposals/status/{token}"
    assert response.headers["location"] == receipt["status_url"]

    row = (
        await session.execute(
            text(
                "SELECT status, contact, address, author_name, commune_insee, "
                "status_token_digest, location_precision FROM initiative WHERE id = :id"
            ),
            {"id": receipt["id"]},
        )
    ).one()
    assert row.status == "submitted"
    assert row.contact == "camille.proposals-test@example.org"
    assert row.address == "12 rue des Écoles, Lens"
    assert row.commune_insee == "62498"  # found by spatial join
    assert bytes(row.status_token_digest) == hashlib.sha256(token.encode()).digest()
    assert row.location_precision == "exact"
    # The audit log names the public as the writer.
    actor = await scalar(
        session,
        "SELECT actor FROM audit_log WHERE table_name = 'initiative' AND record_key = :key",
        key=str(receipt["id"]),
    )
    assert actor == "public"

    status = await client.get(f"/v1/proposals/status/{token}")
    assert status.status_code == 200
    assert status.headers["cache-control"] == "no-store"
    body = status.json()
    assert body["status"] == "submitted"
    assert body["url"] is None
    assert body["moderation_reason"] is None
    assert "contact" not in status.text
    assert "camille" not in status.text

    # Invisible to the public until published.
    assert (await client.get(f"/v1/initiatives/{receipt['id']}")).status_code == 404
    assert (
        await client.get(f"/ogc/collections/initiatives/items/{receipt['id']}")
    ).status_code == 404

    # A moderator's decision, as the moderation routes will write it.
    await session.execute(
        text(
            "UPDATE initiative SET status = 'rejected', moderation_reason = 'duplicate', "
            "moderation_message = 'Déjà proposé', moderated_at = now() WHERE id = :id"
        ),
        {"id": receipt["id"]},
    )
    rejected = (await client.get(f"/v1/proposals/status/{token}")).json()
    assert rejected["status"] == "rejected"
    assert rejected["moderation_reason"] == "duplicate"
    assert rejected["moderation_message"] == "Déjà proposé"
    assert rejected["moderated_at"] is not None


async def test_unknown_and_malformed_status_links(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/v1/proposals/status/" + "A" * 43)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    malformed = await client.get("/v1/proposals/status/short")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["name"] == "token"


async def test_the_honeypot_answers_as_accepted_and_stores_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await scalar(session, "SELECT count(*) FROM initiative")
    audit = await scalar(session, "SELECT count(*) FROM audit_log")
    response = await client.post(
        "/v1/proposals",
        json=proposal(website="http://spam.example"),
        headers={"Idempotency-Key": "bot-1"},
    )
    assert response.status_code == 201
    assert set(response.json()) == {"id", "status", "submitted_at", "status_token", "status_url"}
    assert await scalar(session, "SELECT count(*) FROM initiative") == before
    assert await scalar(session, "SELECT count(*) FROM audit_log") == audit
    assert await scalar(session, "SELECT count(*) FROM idempotency_record") == 0
    assert (await client.get(response.json()["status_url"])).status_code == 404


BAD_INPUT = [
    ("title", proposal(title=12), 422),
    ("title", proposal(title="ab"), 422),
    ("title", proposal(title="x" * 201), 422),
    ("description", proposal(description="x" * 5001), 422),
    ("description", proposal(description="nul\x00byte"), 422),
    ("category", proposal(category="4.1"), 422),
    ("category", proposal(category="9"), 422),  # no such axis
    ("category", proposal(category=None), 422),
    ("contact_email", proposal(contact_email="not-an-email"), 422),
    ("contact_email", proposal(contact_email=None), 422),
    ("address", proposal(address="x" * 301), 422),
    ("author_name", proposal(author_name="x" * 101), 422),
    ("status", proposal(status="published"), 422),  # unknown field
    ("contact", proposal(contact="x@example.org"), 422),
    ("geometry", proposal(geometry="POINT(2.8 50.4)"), 422),
    ("geometry", proposal(geometry={"type": "Point", "coordinates": [2.8]}), 422),
    ("geometry", proposal(geometry={"type": "MultiPoint", "coordinates": [[2.8, 50.4]]}), 422),
    ("geometry", proposal(geometry={"type": "Point", "coordinates": [5.37, 43.3]}), 422),
    (
        "geometry",  # a bow tie: self-intersecting
        proposal(
            geometry={
                "type": "Polygon",
                "coordinates": [
                    [[2.82, 50.42], [2.84, 50.44], [2.84, 50.42], [2.82, 50.44], [2.82, 50.42]]
                ],
            }
        ),
        422,
    ),
    (
        "geometry",  # too many vertices
        proposal(
            geometry={
                "type": "LineString",
                "coordinates": [[2.82 + i * 1e-6, 50.42] for i in range(5001)],
            }
        ),
        422,
    ),
]


@pytest.mark.parametrize(("field", "body", "status"), BAD_INPUT, ids=lambda v: str(v)[:30])
async def test_bad_input_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, session: AsyncSession, field: str, body: Any, status: int
) -> None:
    before = await scalar(session, "SELECT count(*) FROM initiative")
    response = await client.post("/v1/proposals", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in {error["name"] for error in problem["errors"]}, problem
    assert await scalar(session, "SELECT count(*) FROM initiative") == before


async def test_bodies_that_are_not_objects(client: httpx.AsyncClient) -> None:
    for content in (b"", b"[]", b"{", b"null", b'"text"'):
        response = await client.post(
            "/v1/proposals", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (content, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("key", ["", " spaces ", "é", "x" * 256])
async def test_a_malformed_idempotency_key_is_a_400(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(
        "/v1/proposals",
        json=proposal(),
        headers={b"Idempotency-Key": key.encode()},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["name"] == "Idempotency-Key"


async def test_script_and_sql_are_stored_inert(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    title = "<script>alert('x')</script>"
    description = "'; DROP TABLE initiative; -- \" OR 1=1"
    response = await client.post(
        "/v1/proposals", json=proposal(title=title, description=description)
    )
    assert response.status_code == 201
    row = (
        await session.execute(
            text("SELECT title, description FROM initiative WHERE id = :id"),
            {"id": response.json()["id"]},
        )
    ).one()
    assert (row.title, row.description) == (title, description)
    status = await client.get(response.json()["status_url"])
    assert status.headers["content-type"] == "application/json"
    assert status.json()["title"] == title


async def test_an_idempotent_retry_gets_the_first_answer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers = {"Idempotency-Key": "2b4c8f1e-retry"}
    first = await client.post("/v1/proposals", json=proposal(), headers=headers)
    again = await client.post("/v1/proposals", json=proposal(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert first.headers["location"] == again.headers["location"]
    titles = await scalar(
        session,
        "SELECT count(*) FROM initiative WHERE contact = 'camille.proposals-test@example.org'",
    )
    assert titles == 1
    # The stored answer is sealed: neither the token nor the body is readable in the database.
    stored = bytes(await scalar(session, "SELECT response FROM idempotency_record"))
    assert first.json()["status_token"].encode() not in stored
    assert b"submitted" not in stored

    other = await client.post("/v1/proposals", json=proposal(title="Autre chose"), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert other.json()["errors"][0]["name"] == "Idempotency-Key"
    # The same key on another route is another key.
    support = await client.post(
        "/v1/initiatives/1/supports", json={"supporter": "someone@example.org"}, headers=headers
    )
    assert support.status_code == 201


async def test_a_refused_write_leaves_the_key_free(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers = {"Idempotency-Key": "first-fails"}
    bad = await client.post("/v1/proposals", json=proposal(category="9"), headers=headers)
    assert bad.status_code == 422
    assert await scalar(session, "SELECT count(*) FROM idempotency_record") == 0
    good = await client.post("/v1/proposals", json=proposal(), headers=headers)
    assert good.status_code == 201


async def changes_of(session: AsyncSession, initiative_id: int) -> list[str]:
    result = await session.execute(
        text(
            "SELECT operation FROM change_log WHERE dataset = 'initiatives' AND record_key = :key "
            "ORDER BY id"
        ),
        {"key": str(initiative_id)},
    )
    return list(result.scalars())


async def version(session: AsyncSession) -> int:
    return int(
        await scalar(session, "SELECT version FROM dataset_version WHERE dataset = 'initiatives'")
    )


async def test_unpublished_proposals_leave_no_trace_in_the_feed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    start = await version(session)
    ids = []
    for title in ("Proposition A", "Proposition B", "Proposition C"):
        response = await client.post("/v1/proposals", json=proposal(title=title))
        assert response.status_code == 201
        ids.append(response.json()["id"])
    published, rejected, archived = ids
    # Submitted, edited, rejected: nothing public happened.
    await session.execute(
        text("UPDATE initiative SET title = title || ' (corrigé)' WHERE id = ANY(:ids)"),
        {"ids": ids},
    )
    await session.execute(
        text(
            "UPDATE initiative SET status = 'rejected', moderation_reason = 'spam' WHERE id = :id"
        ),
        {"id": rejected},
    )
    assert await version(session) == start
    assert [await changes_of(session, i) for i in ids] == [[], [], []]

    # Publishing is an insert, a public edit an update, archiving a delete.
    publish = (
        "UPDATE initiative SET status = 'published', published_at = now() WHERE id = ANY(:ids)"
    )
    await session.execute(text(publish), {"ids": [published, archived]})
    assert await version(session) == start + 1
    await session.execute(text("SELECT set_config('territoire.bumped_initiatives', '', true)"))
    await session.execute(
        text("UPDATE initiative SET title = 'Publiée et corrigée' WHERE id = :id"),
        {"id": published},
    )
    await session.execute(
        text("UPDATE initiative SET status = 'archived' WHERE id = :id"), {"id": archived}
    )
    await session.execute(text("DELETE FROM initiative WHERE id = :id"), {"id": rejected})
    assert await changes_of(session, published) == ["insert", "update"]
    assert await changes_of(session, archived) == ["insert", "delete"]
    assert await changes_of(session, rejected) == []

    feed = await client.get("/v1/changes", params={"dataset": "initiatives", "limit": "1000"})
    keys = {change["key"] for change in feed.json()["items"]}
    assert str(rejected) not in keys
    # The public list shows only published initiatives: archived ones are not public.
    listed = await client.get("/v1/initiatives", params={"limit": "1000"})
    shown = {feature["id"] for feature in listed.json()["features"]}
    assert published in shown
    assert archived not in shown
    assert InitiativeStatus.archived.value not in {
        f["properties"]["status"] for f in listed.json()["features"]
    }


async def test_oversized_bodies_are_a_413(client: httpx.AsyncClient) -> None:
    big = json.dumps(proposal(description="x" * 300_000)).encode()
    response = await client.post(
        "/v1/proposals", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/payload-too-large"
    lying = await client.post(
        "/v1/proposals",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "999999999"},
    )
    assert lying.status_code == 413
