"""Every write the OpenAPI document declares guarded × {no key, malformed key, revoked key,
wrong scope, right scope}: 401, 401, 401, 403, and neither 401 nor 403.

Operations come from the served document, so a guarded route added anywhere is in the matrix.
Each declares the scope it needs in its security requirement; a key of each single scope is
tried, and exactly the declared one must pass (every one, for a route open to any key). Member
routes (`memberToken`) are refused without an active member's token.
"""

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.participation import Scope
from app.services import club, keys
from tests.test_malformed import (
    OPERATIONS,
    Operation,
    fill,
    loaded,
    member_token,
    valid_value,
)

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _schemes(op: Operation) -> dict[str, list[str]]:
    return {
        name: roles
        for requirement in op.spec.get("security", [])
        for name, roles in requirement.items()
    }


GUARDED = [op for op in OPERATIONS if op.method.upper() in WRITES and "apiKey" in _schemes(op)]
MEMBERS_ONLY = [
    op for op in OPERATIONS if op.method.upper() in WRITES and "memberToken" in _schemes(op)
]
__all__ = ["loaded"]  # the fixture, shared with the malformed-input crawl


def test_the_matrix_covers_the_guarded_writes() -> None:
    ids = {op.id for op in GUARDED}
    assert {"POST /v1/actions", "PATCH /v1/actions/{code}", "DELETE /v1/keys/{key_id}"} <= ids
    members = {op.id for op in MEMBERS_ONLY}
    assert {"POST /v1/club/actions/{code}/comments", "DELETE /v1/club/members/me"} <= members
    # Every write that is not public declares its security (a client generator reads it).
    for op in OPERATIONS:
        if op.method.upper() in WRITES and not op.spec.get("security"):
            assert not any(status in op.spec["responses"] for status in ("401", "403")), (
                f"{op.id} answers 401/403 but declares no security"
            )


async def _key(session: AsyncSession, scopes: list[str], *, revoked: bool = False) -> str:
    made = await keys.create_key(session, "matrice " + "+".join(scopes), scopes, None)
    if revoked:
        await keys.revoke_key(session, made.key.id)
    return made.secret


async def _target(
    client: httpx.AsyncClient, loaded: dict[str, str], operation: Operation
) -> tuple[dict[str, Any], str, str]:
    """The operation's spec as served, its method, and a URL to an existing record."""
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    spec = document["paths"][operation.path][operation.method]
    served = Operation(operation.method, operation.path, spec)
    path_values = {
        p["name"]: valid_value(document, served, p, loaded) for p in served.parameters("path")
    }
    return spec, operation.method.upper(), fill(operation.path, path_values)


@pytest.mark.parametrize("operation", GUARDED, ids=lambda op: op.id)
async def test_authorization_matrix(
    client: httpx.AsyncClient,
    session: AsyncSession,
    loaded: dict[str, str],
    operation: Operation,
) -> None:
    spec, method, url = await _target(client, loaded, operation)
    single = {scope: await _key(session, [scope.value]) for scope in Scope}
    revoked = await _key(session, [scope.value for scope in Scope], revoked=True)
    await session.commit()

    async def call(authorization: str | None) -> httpx.Response:
        headers = {"If-Match": "*"}
        if authorization is not None:
            headers["Authorization"] = authorization
        body = {"json": {}} if "requestBody" in spec else {}
        return await client.request(method, url, headers=headers, **body)

    for label, authorization in (
        ("no key", None),
        ("malformed key", "Bearer trk_not-a-key"),
        ("revoked key", f"Bearer {revoked}"),
    ):
        answer = await call(authorization)
        assert answer.status_code == 401, (label, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")

    passed = []
    for scope, secret in single.items():
        answer = await call(f"Bearer {secret}")
        assert answer.status_code != 401, (scope, answer.text)
        assert answer.status_code < 500, (scope, answer.text)
        if answer.status_code == 403:
            assert answer.headers["content-type"] == "application/problem+json"
        else:
            passed.append(scope)
    # The scope the OpenAPI document declares is the one, and the only one, that passes; a
    # route declaring none is open to every valid key.
    declared = [Scope(role) for role in _schemes(operation)["apiKey"]]
    if not declared:
        assert passed == list(Scope), f"{operation.id}: any key should do, {passed} did"
        return
    assert passed == declared, f"{operation.id}: accepted by {passed}, declares {declared}"
    right = passed[0]

    others = [scope.value for scope in Scope if scope is not right]
    wrong = await _key(session, others)
    await session.commit()
    refused = await call(f"Bearer {wrong}")
    assert refused.status_code == 403, refused.text
    assert f"'{right.value}' scope" in refused.json()["detail"]
    accepted = await call(f"Bearer {single[right]}")
    assert accepted.status_code not in (401, 403), accepted.text
    assert accepted.status_code < 500, accepted.text


@pytest.mark.parametrize("operation", MEMBERS_ONLY, ids=lambda op: op.id)
async def test_member_routes_need_an_active_member_s_token(
    client: httpx.AsyncClient,
    session: AsyncSession,
    loaded: dict[str, str],
    operation: Operation,
) -> None:
    spec, method, url = await _target(client, loaded, operation)
    api_key = await _key(session, [scope.value for scope in Scope])
    active, erased = await member_token(session), await member_token(session)
    await session.execute(
        text(
            "UPDATE member SET status = 'deleted', email = NULL, display_name = NULL "
            "WHERE token_digest = :digest"
        ),
        {"digest": club.digest(erased)},
    )
    await session.commit()
    body = {"json": {}} if "requestBody" in spec else {}
    for label, authorization in (
        ("no token", None),
        ("malformed token", "Bearer trm_"),
        ("unknown token", "Bearer trm_" + "x" * 43),
        ("an API key", f"Bearer {api_key}"),
        ("a deleted member's token", f"Bearer {erased}"),
    ):
        headers = {} if authorization is None else {"Authorization": authorization}
        answer = await client.request(method, url, headers=headers, **body)
        assert answer.status_code == 401, (label, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    answer = await client.request(
        method, url, headers={"Authorization": f"Bearer {active}"}, **body
    )
    assert answer.status_code not in (401, 403), answer.text
    assert answer.status_code < 500, answer.text
