"""The ambassadors' club: join → confirm → follow → a change → the digest at the SMTP server;
bad links and tokens; comments (moderated, threaded, reported, rate-limited); ratings; what is
public. On a database of its own: the digest reads committed changes."""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.services import keys
from app.services.digests import send_digests
from tests.committed import committed_database, committed_url
from tests.conftest import SmtpInbox
from tests.test_http_cache import EXAMPLES, get_routes

CLUB_DATABASE_URL = committed_url("club")
ACTION = "1.2.1.1"  # planned in the CALL dataset
LAUNCHED = "2.1.1.1"


@pytest.fixture(scope="module")
async def club_engine() -> AsyncIterator[AsyncEngine]:
    engine = await committed_database(CLUB_DATABASE_URL)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE action SET status = 'in_progress' WHERE code = :code"), {"code": LAUNCHED}
        )
    yield engine
    await engine.dispose()


@dataclass
class Club:
    client: httpx.AsyncClient
    database: Database
    settings: Settings
    inbox: SmtpInbox

    async def sql(self, statement: str, **parameters: Any) -> list[Any]:
        async with self.database.sessionmaker() as session, session.begin():
            result = await session.execute(text(statement), parameters)
            return list(result.all()) if result.returns_rows else []

    async def mail_to(self, address: str, count: int = 1) -> list[Any]:
        for _ in range(100):
            found = [m for m in self.inbox.messages if m["To"] == address]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no email to {address}")

    async def member(self, address: str, name: str = "Camille", **more: Any) -> str:
        """Join and confirm; the member's token."""
        earlier = len([m for m in self.inbox.messages if m["To"] == address])
        joined = await self.client.post(
            "/v1/club/members",
            json={"display_name": name, "email": address, "profile_type": "resident", **more},
        )
        assert joined.status_code == 202, joined.text
        message = (await self.mail_to(address, earlier + 1))[-1]
        token = link_token(message)
        confirmed = await self.client.get(f"/v1/club/members/confirm/{token}")
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.headers["cache-control"] == "no-store"
        personal: str = confirmed.json()["token"]
        return personal


def body_of(message: Any, kind: str = "text/plain") -> str:
    for part in message.walk():
        if part.get_content_type() == kind:
            return str(part.get_content())
    raise AssertionError(f"no {kind} part")


def link_token(message: Any) -> str:
    found = re.search(r"/v1/club/members/confirm/([A-Za-z0-9_-]+)", body_of(message))
    assert found
    return found.group(1)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def club(
    club_engine: AsyncEngine, smtp: Any
) -> AsyncIterator[Callable[..., Awaitable[Club]]]:
    controller, inbox = smtp
    made: list[Club] = []
    lifespans = AsyncExitStack()

    async def make(**more: Any) -> Club:
        settings = Settings(
            environment="test",
            database_url=CLUB_DATABASE_URL,  # type: ignore[arg-type]
            response_cache=False,
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            public_base_url="https://territoire.example.test",
            **more,
        )
        app = create_app(settings)
        # Started and stopped as in production: exports and listeners close what they open.
        await lifespans.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        found = Club(client, app.state.database, settings, inbox)
        made.append(found)
        return found

    yield make
    for found in made:
        await found.client.aclose()
    await lifespans.aclose()


async def test_join_confirm_follow_change_and_the_digest_arrives(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club()
    token = await found.member("camille@example.org", commune="62498")
    assert (await found.client.get("/v1/club/members/me", headers=auth(token))).json()[
        "email"
    ] == "camille@example.org"
    followed = await found.client.put(
        f"/v1/club/members/me/follows/action/{LAUNCHED}", headers=auth(token)
    )
    assert followed.status_code == 204
    assert (
        await found.client.put("/v1/club/members/me/follows/axis/99", headers=auth(token))
    ).status_code == 404
    # Nothing new yet: no email.
    assert await send_digests(found.database, found.settings) == 0
    await found.sql(
        "UPDATE action SET progress = 40, status = 'late' WHERE code = :code", code=LAUNCHED
    )
    await found.sql("UPDATE axis SET weight = weight WHERE code = '3'")  # not followed
    assert await send_digests(found.database, found.settings) == 1
    digest = (await found.mail_to("camille@example.org", 2))[-1]
    plain, rich = body_of(digest), body_of(digest, "text/html")
    assert f"Action {LAUNCHED}" in plain
    assert re.search(r"statut : \w+", plain)
    assert "avancement : 40" in plain
    assert f"Action {LAUNCHED}" in rich
    unsubscribe = re.search(r"https://territoire\.example\.test(/v1/club/unsubscribe/\S+)", plain)
    assert unsubscribe
    assert digest["List-Unsubscribe"].strip("<>").endswith(unsubscribe.group(1))
    # Daily: nothing more today, whatever changes.
    await found.sql("UPDATE action SET progress = 45 WHERE code = :code", code=LAUNCHED)
    assert await send_digests(found.database, found.settings) == 0
    # The link works without logging in.
    left = await found.client.get(unsubscribe.group(1))
    assert left.status_code == 200
    assert "plus" in left.text
    me = await found.client.get("/v1/club/members/me", headers=auth(token))
    assert me.json()["digest_frequency"] == "never"
    await found.sql("UPDATE member SET last_digest_at = now() - interval '2 days'")
    assert await send_digests(found.database, found.settings) == 0


async def test_immediate_digests_tell_a_proposer_the_outcome(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club()
    token = await found.member("dominique@example.org", name="Dominique")
    patched = await found.client.patch(
        "/v1/club/members/me", json={"digest_frequency": "immediate"}, headers=auth(token)
    )
    assert patched.json()["digest_frequency"] == "immediate"
    assert (
        await found.client.put("/v1/club/members/me/follows/commune/62498", headers=auth(token))
    ).status_code == 204
    await found.sql(
        "UPDATE initiative SET status = 'rejected', moderation_reason = 'duplicate', "
        "moderation_message = 'Déjà proposé', moderated_at = now(), "
        "contact = 'Dominique@Example.org' WHERE id = (SELECT min(id) FROM initiative)"
    )
    assert await send_digests(found.database, found.settings) == 1
    message = (await found.mail_to("dominique@example.org", 2))[-1]
    assert "refusée (motif : duplicate) : Déjà proposé" in body_of(message)


async def test_confirmation_links_expire_and_are_used_once(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club()
    for address in ("once@example.org", "late@example.org"):
        await found.client.post(
            "/v1/club/members",
            json={"display_name": "X", "email": address, "profile_type": "association"},
        )
    once = link_token((await found.mail_to("once@example.org"))[0])
    assert (await found.client.get(f"/v1/club/members/confirm/{once}")).status_code == 200
    reused = await found.client.get(f"/v1/club/members/confirm/{once}")
    assert reused.status_code == 410
    assert reused.headers["content-type"] == "application/problem+json"
    late = link_token((await found.mail_to("late@example.org"))[0])
    await found.sql(
        "UPDATE member SET confirm_expires_at = now() - interval '1 minute' "
        "WHERE email = 'late@example.org'"
    )
    expired = await found.client.get(f"/v1/club/members/confirm/{late}")
    assert expired.status_code == 410
    assert "expired" in expired.json()["detail"]
    unknown = await found.client.get("/v1/club/members/confirm/" + "A" * 43)
    assert unknown.status_code == 410
    # An unconfirmed member has no token to act with; a made-up one is refused.
    refused = await found.client.get("/v1/club/members/me", headers=auth("trm_" + "x" * 43))
    assert refused.status_code == 401


async def test_joining_twice_says_the_same_and_tells_the_member(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club()
    await found.member("twice@example.org")
    again = await found.client.post(
        "/v1/club/members",
        json={"display_name": "Autre", "email": "TWICE@example.org", "profile_type": "resident"},
    )
    first = await found.client.post(
        "/v1/club/members",
        json={"display_name": "Nouveau", "email": "new@example.org", "profile_type": "resident"},
    )
    assert again.status_code == first.status_code == 202
    assert again.json() == first.json()
    told = await found.mail_to("TWICE@example.org")
    assert "déjà membre" in told[-1]["Subject"]


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": "A", "email": "pas-un-email", "profile_type": "resident"},
        {"display_name": "", "email": "a@example.org", "profile_type": "resident"},
        {"display_name": "A", "email": "a@example.org", "profile_type": "king"},
        {"display_name": "A" * 81, "email": "a@example.org", "profile_type": "resident"},
        {"display_name": "A", "email": "a@example.org", "profile_type": "resident", "x": 1},
        {
            "display_name": "A",
            "email": "a@example.org",
            "profile_type": "resident",
            "commune": "99999",
        },
    ],
)
async def test_bad_memberships_are_refused_and_nothing_is_stored(
    club: Callable[..., Awaitable[Club]], body: dict[str, Any]
) -> None:
    found = await club()
    before = await found.sql("SELECT count(*) FROM member")
    answer = await found.client.post("/v1/club/members", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"]
    assert await found.sql("SELECT count(*) FROM member") == before


async def test_comments_are_moderated_threaded_reported_and_limited(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club()
    author = await found.member("author@example.org", name="Alix")
    readers = [await found.member(f"reader{i}@example.org", name=f"R{i}") for i in range(3)]
    moderator = await _key(found, "moderator")
    url = f"/v1/club/actions/{LAUNCHED}/comments"
    script = "<script>alert('x')</script>'; DROP TABLE member; --"
    posted = await found.client.post(url, json={"body": script}, headers=auth(author))
    assert posted.status_code == 201
    assert posted.json()["status"] == "submitted"
    comment_id = posted.json()["id"]
    assert (await found.client.get(url)).json() == []  # not before moderation
    queue = await found.client.get("/v1/club/moderation/comments", headers=auth(moderator))
    assert comment_id in [c["id"] for c in queue.json()]
    published = await found.client.post(
        f"/v1/club/moderation/comments/{comment_id}/publish", headers=auth(moderator)
    )
    assert published.json()["status"] == "published"
    shown = (await found.client.get(url)).json()
    assert shown[0]["body"] == script  # stored inert, returned as a JSON string
    assert shown[0]["author"] == {"name": "Alix", "profile_type": "resident"}
    reply = await found.client.post(
        url, json={"body": "D'accord", "parent_id": comment_id}, headers=auth(readers[0])
    )
    await found.client.post(
        f"/v1/club/moderation/comments/{reply.json()['id']}/publish", headers=auth(moderator)
    )
    assert (await found.client.get(url)).json()[0]["replies"][0]["body"] == "D'accord"
    deeper = await found.client.post(
        url, json={"body": "Non", "parent_id": reply.json()["id"]}, headers=auth(readers[1])
    )
    assert deeper.status_code == 422
    assert deeper.json()["errors"][0]["name"] == "parent_id"
    # Planned actions are not open; long comments and unknown fields are refused.
    planned = await found.client.post(
        f"/v1/club/actions/{ACTION}/comments", json={"body": "Tôt"}, headers=auth(author)
    )
    assert planned.status_code == 409
    too_long = await found.client.post(url, json={"body": "x" * 4001}, headers=auth(author))
    assert too_long.status_code == 422
    # Reported by three members, it goes back to moderation.
    own = await found.client.post(
        f"/v1/club/comments/{comment_id}/reports", json={}, headers=auth(author)
    )
    assert own.status_code == 409
    for reader in readers:
        answer = await found.client.post(
            f"/v1/club/comments/{comment_id}/reports",
            json={"reason": "hors sujet"},
            headers=auth(reader),
        )
        assert answer.status_code == 202
    assert (await found.client.get(url)).json() == []
    # A flood: the sixth comment in ten minutes is a 429 with Retry-After.
    answers = [
        await found.client.post(url, json={"body": f"n° {i}"}, headers=auth(readers[2]))
        for i in range(6)
    ]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert answers[-1].headers["content-type"] == "application/problem+json"


async def test_post_moderation_publishes_at_once(club: Callable[..., Awaitable[Club]]) -> None:
    found = await club(comment_moderation="post")
    token = await found.member("post@example.org", name="Sacha")
    posted = await found.client.post(
        f"/v1/club/actions/{LAUNCHED}/comments",
        json={"body": "Tout de suite"},
        headers=auth(token),
    )
    assert posted.json()["status"] == "published"
    shown = (await found.client.get(f"/v1/club/actions/{LAUNCHED}/comments")).json()
    assert "Tout de suite" in [c["body"] for c in shown]


async def test_ratings_are_one_per_member_and_summarised(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club()
    url = f"/v1/club/actions/{LAUNCHED}/rating"
    first, second = await found.member("r1@example.org"), await found.member("r2@example.org")
    before = (await found.client.get(f"/v1/club/actions/{LAUNCHED}/ratings")).json()
    for token, value in ((first, 2), (first, 5), (second, 3)):
        answer = await found.client.put(url, json={"relevance": value}, headers=auth(token))
        assert answer.status_code == 204
    summary = (await found.client.get(f"/v1/club/actions/{LAUNCHED}/ratings")).json()
    assert summary["ratings"] == before["ratings"] + 2
    assert summary["distribution"]["5"] == before["distribution"]["5"] + 1
    bad = await found.client.put(url, json={"relevance": 6}, headers=auth(first))
    assert bad.status_code == 422
    assert (await found.client.put(url, json={"relevance": 3})).status_code == 401


async def test_leaving_erases_personal_data_and_keeps_contributions(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club(comment_moderation="post")
    token = await found.member("leaving@example.org", name="Morgan")
    await found.client.post(
        f"/v1/club/actions/{LAUNCHED}/comments", json={"body": "Mon avis"}, headers=auth(token)
    )
    assert (
        await found.client.delete("/v1/club/members/me", headers=auth(token))
    ).status_code == 204
    assert (await found.client.get("/v1/club/members/me", headers=auth(token))).status_code == 401
    rows = await found.sql("SELECT count(*) FROM member WHERE email = 'leaving@example.org'")
    assert rows[0][0] == 0
    shown = (await found.client.get(f"/v1/club/actions/{LAUNCHED}/comments")).json()
    mine = next(c for c in shown if c["body"] == "Mon avis")
    assert mine["author"] == {"name": "ancien membre", "profile_type": None}
    # The address can join again.
    await found.member("leaving@example.org", name="Morgan")


async def test_only_counts_of_members_are_public(club: Callable[..., Awaitable[Club]]) -> None:
    found = await club()
    await found.member("stats@example.org", name="Statistique", commune="62498")
    stats = await found.client.get("/v1/club/stats")
    body = stats.text
    assert stats.json()["members"] >= 1
    assert stats.json()["by_commune"]["62498"] >= 1
    assert "stats@example.org" not in body
    assert "Statistique" not in body


async def test_no_public_answer_shows_a_member_s_email_or_token(
    club: Callable[..., Awaitable[Club]],
) -> None:
    found = await club(comment_moderation="post")
    secret_address = "crawl-9f3a1@example.org"
    token = await found.member(secret_address, name="Crawl", commune="62498")
    await found.client.post(
        f"/v1/club/actions/{LAUNCHED}/comments", json={"body": "Public"}, headers=auth(token)
    )
    await found.client.put(
        f"/v1/club/actions/{LAUNCHED}/rating", json={"relevance": 4}, headers=auth(token)
    )
    document = (await found.client.get("/openapi.json")).json()
    value = await found.sql("SELECT min(id) FROM indicator_value")
    EXAMPLES["value_id"] = str(value[0][0])
    urls = get_routes(document)
    urls += [f"/v1/club/actions/{LAUNCHED}/comments", "/v1/changes?limit=1000"]
    urls += [f"/v1/datasets/{d}.csv" for d in ("actions", "initiatives", "communes")]
    shown = 0
    for url in urls:
        answer = await found.client.get(url)
        assert answer.status_code < 500, url
        assert secret_address not in answer.text, url
        assert token not in answer.text, url
        shown += answer.status_code == 200
    # The crawl read real pages, the member's comment among them (signed with their public name).
    assert shown >= 20
    comments = await found.client.get(f"/v1/club/actions/{LAUNCHED}/comments")
    assert any(c["body"] == "Public" and c["author"]["name"] == "Crawl" for c in comments.json())


async def _key(found: Club, scope: str) -> str:
    async with found.database.sessionmaker() as session, session.begin():
        return (await keys.create_key(session, f"test {scope}", [scope], None)).secret
