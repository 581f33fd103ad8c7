"""`Idempotency-Key` for POSTs: a retry gets the first answer, never a second write.

The key is claimed with INSERT ... ON CONFLICT in the same transaction as the write, so that
concurrent requests with one key wait on the unique index for the first to commit, then read
its stored answer (a write that failed leaves no claim: its transaction rolled back). The
same key with another body is a 422. Answers are kept 24 hours, sealed with AES-GCM under a
key derived from the Idempotency-Key and the server's secret: whoever reads the database
cannot read them (a proposal's answer holds its private status link).

A route uses it inside its transaction, on its asyncpg connection:

    async def create(..., session: SessionDep, idempotency_key: IdempotencyKeyHeader = None):
        connection = await raw_connection(session)
        answer = await run_once(request, connection, "things", idempotency_key, write)
        return answer.response()
"""

import hashlib
import hmac
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Header, Request
from starlette.responses import Response

from app.db import WriteConnection
from app.errors import DomainError
from app.repositories import idempotency as repository
from app.schemas.problem import InvalidField

RETENTION_HOURS = 24
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        max_length=255,
        description="Makes a retry safe: the same key with the same body gets the first "
        f"answer again (kept {RETENTION_HOURS} h) and writes nothing; with another body, a "
        "422. 1 to 255 visible ASCII characters, e.g. a UUID generated per submission.",
        examples=["5f0c3a52-1b9e-4c1e-9d43-08d7a6a1e2b4"],
    ),
]


class IdempotencyKeyReusedError(DomainError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with another request"


@dataclass
class Answer:
    status_code: int
    body: bytes
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(
            self.body, self.status_code, headers=self.headers, media_type=self.media_type
        )


def _sealing_key(secret: bytes, key: str) -> bytes:
    return hmac.new(secret, b"idempotency-answer\0" + key.encode(), hashlib.sha256).digest()


def seal(secret: bytes, key: str, route: str, answer: Answer) -> bytes:
    plain = (
        orjson.dumps({"media_type": answer.media_type, "headers": answer.headers})
        + b"\n"
        + answer.body
    )
    nonce = os.urandom(12)
    return nonce + AESGCM(_sealing_key(secret, key)).encrypt(nonce, plain, route.encode())


def unseal(secret: bytes, key: str, route: str, status_code: int, sealed: bytes) -> Answer:
    plain = AESGCM(_sealing_key(secret, key)).decrypt(sealed[:12], sealed[12:], route.encode())
    head, _, body = plain.partition(b"\n")
    meta = orjson.loads(head)
    return Answer(status_code, body, meta["media_type"], meta["headers"])


@dataclass(frozen=True)
class Claim:
    """What identifies a request sent with an Idempotency-Key, and what seals its answer."""

    route: str
    key: str
    key_digest: bytes
    request_digest: bytes
    secret: bytes

    def seal(self, answer: Answer) -> bytes:
        return seal(self.secret, self.key, self.route, answer)


async def claim_of(request: Request, route: str, key: str) -> Claim:
    return Claim(
        route=route,
        key=key,
        key_digest=hashlib.sha256(key.encode()).digest(),
        request_digest=hashlib.sha256(
            request.url.path.encode() + b"\0" + await request.body()
        ).digest(),
        secret=request.app.state.settings.secret_key.get_secret_value().encode(),
    )


async def purge_now_and_then(connection: WriteConnection) -> None:
    """Remove expired records, on about one claim in a hundred (every path that claims keys
    calls it, so the table stays bounded by what the retention period holds)."""
    if random.random() < 0.01:  # noqa: S311 (housekeeping, not security)
        await repository.purge_expired(connection)


async def run_once(
    request: Request,
    connection: WriteConnection,
    route: str,
    key: str | None,
    write: Callable[[], Awaitable[Answer]],
) -> Answer:
    """The answer of `write()`, run at most once per (route, key) while the key is kept."""
    if key is None:
        return await write()
    claim = await claim_of(request, route, key)
    if await repository.claim(
        connection, route, claim.key_digest, claim.request_digest, RETENTION_HOURS
    ):
        await purge_now_and_then(connection)
        answer = await write()
        await repository.store(
            connection, route, claim.key_digest, answer.status_code, claim.seal(answer)
        )
        return answer
    return await replay(connection, claim)


async def replay(connection: WriteConnection, claim: Claim) -> Answer:
    """The stored answer to the request that claimed the key first (committed by now)."""
    route, key, secret, request_digest = claim.route, claim.key, claim.secret, claim.request_digest
    stored = await repository.read(connection, route, claim.key_digest)
    if stored is None or stored.status_code is None or stored.response is None:
        # Only possible if the claimer's row vanished (purged at expiry) in between: retry.
        raise DomainError("the first request with this Idempotency-Key did not finish; retry")
    if stored.request_digest != request_digest:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used with another request body; use a new key for a new "
            "request",
            errors=[
                InvalidField(
                    location="header",
                    name="Idempotency-Key",
                    reason="already used with another body",
                )
            ],
        )
    return unseal(secret, key, route, stored.status_code, stored.response)
