"""Two editors updating the same action with the same ETag, against the real server and
database: one wins, the other gets 412, and the record holds the winner's change."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.services import keys
from app.services.dataset import load_dataset, read_dataset
from tests.conftest import (
    CALL_DATASET,
    TEST_DATABASE_URL,
    migrate,
    plain_url,
    recreate_database,
    start_uvicorn,
)

ACTION = "/v1/actions/1.2.1.1"
ROUNDS = 8


@dataclass
class LiveServer:
    url: str
    dsn: str
    editors: tuple[str, str]


async def start_server(url: str) -> tuple[asyncio.subprocess.Process, str]:
    """The service in a uvicorn process of its own, on the database `url`, once ready."""
    return await start_uvicorn(url)


@pytest.fixture(scope="module")
async def editing_server() -> AsyncIterator[LiveServer]:
    """The service on a database of its own: the test commits its writes."""
    url = TEST_DATABASE_URL + "_editing"
    await recreate_database(url)
    await migrate(url)
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        session = AsyncSession(bind=connection)
        await load_dataset(session, read_dataset(CALL_DATASET))
        first = await keys.create_key(session, "rédaction A", ["editor"], None)
        second = await keys.create_key(session, "rédaction B", ["editor"], None)
        await session.flush()
    await engine.dispose()
    process, base = await start_server(url)
    try:
        yield LiveServer(base, plain_url(url), (first.secret, second.secret))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


async def test_an_acknowledged_edit_survives_a_kill(editing_server: LiveServer) -> None:
    process, base = await start_server(TEST_DATABASE_URL + "_editing")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            etag = (await client.get(ACTION)).headers["etag"]
            answer = await client.patch(
                ACTION,
                json={"status_excerpt": "Écrit juste avant l'arrêt brutal"},
                headers={"Authorization": f"Bearer {editing_server.editors[0]}", "If-Match": etag},
            )
            assert answer.status_code == 200, answer.text
    finally:
        process.kill()  # SIGKILL right after the answer: no shutdown, no flush
        await process.wait()
    connection = await asyncpg.connect(editing_server.dsn)
    try:
        stored = await connection.fetchval(
            "SELECT status_excerpt FROM action WHERE code = '1.2.1.1'"
        )
    finally:
        await connection.close()
    assert stored == "Écrit juste avant l'arrêt brutal"


async def test_concurrent_updates_with_one_etag_lose_nothing(
    editing_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=editing_server.url, timeout=30) as client:
        etag = (await client.get(ACTION)).headers["etag"]
        for round_number in range(ROUNDS):
            leads = [f"Service {name} {round_number}" for name in ("A", "B")]

            async def edit(secret: str, lead: str, etag: str = etag) -> httpx.Response:
                return await client.patch(
                    ACTION,
                    json={"lead": lead},
                    headers={
                        "Authorization": f"Bearer {secret}",
                        "If-Match": etag,
                        "Content-Type": "application/merge-patch+json",
                    },
                )

            answers = await asyncio.gather(
                *(
                    edit(secret, lead)
                    for secret, lead in zip(editing_server.editors, leads, strict=True)
                )
            )
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [200, 412], [a.text for a in answers]
            winner = next(answer for answer in answers if answer.status_code == 200)
            won = leads[answers.index(winner)]
            assert winner.json()["lead"] == won
            loser = next(answer for answer in answers if answer.status_code == 412)
            assert loser.headers["content-type"] == "application/problem+json"
            connection = await asyncpg.connect(editing_server.dsn)
            try:
                stored = await connection.fetchval("SELECT lead FROM action WHERE code = '1.2.1.1'")
            finally:
                await connection.close()
            assert stored == won
            # The winner's ETag is the one the next round's editors both hold.
            etag = winner.headers["etag"]
        # Once the change is notified, a GET carries that ETag and shows the last change.
        for _ in range(50):
            final = await client.get(ACTION)
            if final.headers["etag"] == etag:
                break
            await asyncio.sleep(0.1)
        assert final.headers["etag"] == etag
        assert final.json()["lead"] == won
