import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def test_health_answers_without_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_schema_revision(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["schema_revision"] == client._transport.app.state.migration_head  # type: ignore[attr-defined]


async def test_ready_is_503_when_the_schema_lags(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "revision old" in response.json()["detail"]


async def test_ready_is_503_when_the_database_does_not_answer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await session.execute(text("DROP TABLE alembic_version"))
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["title"] == "Service unavailable"
