"""API keys: the bearer header, scopes, revocation, the CLI; the append-only audit log."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import EditorDep
from app.cli import main
from app.db import SessionDep
from app.models.participation import ApiKey, AuditLog
from app.services import keys
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def guarded(app: FastAPI) -> FastAPI:
    # A write route of the test's own, guarded like the real ones.
    async def write(caller: EditorDep, session: SessionDep) -> dict[str, str]:
        actor = await session.scalar(text("SELECT current_setting('territoire.actor', true)"))
        return {"caller": caller.name, "actor": str(actor)}

    app.add_api_route("/test-write", write, methods=["POST"])
    return app


async def test_every_kind_of_missing_or_bad_key_is_a_401_problem(
    guarded: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    revoked = await keys.create_key(session, "ancienne", ["editor"], None)
    await keys.revoke_key(session, revoked.key.id)
    await session.commit()  # a refused request rolls back what the test had not committed
    cases: dict[str | bytes | None, str] = {
        None: "Bearer realm",
        "": "Bearer realm",
        "Basic dXNlcjpwYXNz": 'error="invalid_request"',
        "Bearer": 'error="invalid_request"',
        "Bearer trk_short": 'error="invalid_token"',
        "Bearer " + "trk_" + "A" * 43: 'error="invalid_token"',  # well formed, unknown
        "Bearer " + revoked.secret: 'error="invalid_token"',
        b"Bearer " + "é".encode() * 47: 'error="invalid_token"',
    }
    for header, challenge in cases.items():
        headers = {} if header is None else {"Authorization": header}
        response = await client.post("/test-write", headers=headers)
        assert response.status_code == 401, header
        assert response.headers["content-type"] == "application/problem+json"
        assert challenge in response.headers["www-authenticate"]
        assert response.json()["type"].endswith("/problems/unauthenticated")
    no_key = await client.post("/test-write")
    assert "error=" not in no_key.headers["www-authenticate"]
    revoked_answer = await client.post(
        "/test-write", headers={"Authorization": "Bearer " + revoked.secret}
    )
    assert "revoked" in revoked_answer.json()["detail"]


async def test_a_key_acts_within_its_scopes_and_names_the_actor(
    guarded: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    moderator = await keys.create_key(session, "modération", ["moderator"], None)
    editor = await keys.create_key(session, "service SIG", ["editor", "moderator"], None)
    await session.commit()
    denied = await client.post(
        "/test-write", headers={"Authorization": f"Bearer {moderator.secret}"}
    )
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert "'editor' scope" in denied.json()["detail"]
    allowed = await client.post("/test-write", headers={"Authorization": f"bearer {editor.secret}"})
    assert allowed.status_code == 200
    assert allowed.json() == {"caller": "service SIG", "actor": f"key:{editor.key.id}"}


async def test_only_a_digest_of_the_key_is_stored(session: AsyncSession) -> None:
    made = await keys.create_key(session, "stockage", ["admin"], None)
    assert keys.KEY_PATTERN.fullmatch(made.secret)
    stored = (await session.execute(select(ApiKey).where(ApiKey.id == made.key.id))).scalar_one()
    assert stored.secret_digest == keys.digest(made.secret) != made.secret.encode()
    assert made.secret.startswith(stored.prefix)
    assert len(stored.prefix) < len(made.secret) // 3
    # Nor does the audit log keep the digest.
    logged = (
        await session.execute(
            select(AuditLog).where(
                AuditLog.table_name == "api_key", AuditLog.record_key == str(made.key.id)
            )
        )
    ).scalar_one()
    assert logged.after is not None
    assert "secret_digest" not in logged.after
    assert logged.after["scopes"] == ["admin"]


async def test_scopes_are_checked(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="scopes must be among"):
        await keys.create_key(session, "x", ["superuser"], None)
    with pytest.raises(ValueError, match="at least one"):
        await keys.create_key(session, "x", [], None)


async def test_every_write_is_audited_with_who_before_and_after(session: AsyncSession) -> None:
    await session.execute(text("SELECT set_config('territoire.actor', 'key:42', true)"))
    await session.execute(text("UPDATE action SET title = 'Nouveau titre' WHERE code = '1.2.1.1'"))
    row = (
        await session.execute(
            select(AuditLog)
            .where(AuditLog.table_name == "action", AuditLog.record_key == "1.2.1.1")
            .order_by(AuditLog.id.desc())
            .limit(1)
        )
    ).scalar_one()
    assert row.actor == "key:42"
    assert row.operation == "update"
    assert row.before is not None
    assert row.after is not None
    assert row.after["title"] == "Nouveau titre" != row.before["title"]
    # An update that changes nothing is not an entry.
    before = await session.scalar(text("SELECT count(*) FROM audit_log"))
    await session.execute(text("UPDATE action SET title = title WHERE code = '1.2.1.1'"))
    assert await session.scalar(text("SELECT count(*) FROM audit_log")) == before


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
async def test_the_audit_log_cannot_be_edited_or_deleted(
    session: AsyncSession, statement: str
) -> None:
    await session.execute(text("UPDATE axis SET title = title || '.' WHERE code = '1'"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text(statement))


def test_the_command_line_creates_lists_and_revokes_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", TEST_DATABASE_URL)
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        assert (
            main(["keys", "create", "site web", "--scope", "editor", "--scope", "moderator"]) == 0
        )
        out = capsys.readouterr().out.splitlines()
        key_id = int(out[0].split()[1])
        secret = out[1]
        assert keys.KEY_PATTERN.fullmatch(secret)
        assert main(["keys", "list"]) == 0
        listing = capsys.readouterr().out
        assert "site web" in listing
        assert secret not in listing
        assert secret[:12] in listing
        assert main(["keys", "revoke", str(key_id)]) == 0
        assert "revoked" in capsys.readouterr().out
        assert main(["keys", "list"]) == 0
        assert "site web" not in capsys.readouterr().out
        assert main(["keys", "revoke", "999999999"]) == 1
        with pytest.raises(SystemExit):
            main(["keys", "create", "x", "--scope", "root"])
    finally:
        get_settings.cache_clear()
