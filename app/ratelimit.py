"""Per-client rate limits of public writes, with the `limits` library: 429 with Retry-After.

The client is the peer address (app.main trusts X-Forwarded-For only from TRUSTED_PROXIES),
known to the counters only as an HMAC under the server's secret: no address is stored or
logged. Counters live in RATE_LIMIT_STORAGE (memory:// per process, or redis:// shared).
A route declares `dependencies=[rate_limit("proposals")]`, the limits being the setting
`rate_limit_<name>` ("10/hour;3/minute": every one must hold).
"""

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from app.config import Settings
from app.errors import DomainError

logger = logging.getLogger(__name__)


class RateLimitedError(DomainError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


def _storage(uri: str) -> Storage:
    options: dict[str, Any] = {}
    if uri.startswith(("redis", "rediss")):
        options["implementation"] = "redispy"
    storage = storage_from_string(uri if uri.startswith("async+") else "async+" + uri, **options)
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.storage = _storage(settings.rate_limit_storage)
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self.secret = settings.secret_key.get_secret_value().encode()
        self.limits: dict[str, Sequence[RateLimitItem]] = {
            "proposals": parse_many(settings.rate_limit_proposals),
            "supports": parse_many(settings.rate_limit_supports),
        }

    async def close(self) -> None:
        # The Redis client, when there is one (limits has no close of its own).
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    def client(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        return hmac.new(self.secret, peer.encode(), hashlib.sha256).hexdigest()[:32]

    async def check(self, request: Request, name: str) -> None:
        client = self.client(request)
        for item in self.limits[name]:
            try:
                if await self.strategy.hit(item, name, client):
                    continue
                stats = await self.strategy.get_window_stats(item, name, client)
            except StorageError:
                # A spam defence must not take the service down with its store: let it through.
                logger.warning("rate-limit storage unavailable; %s not limited", name)
                return
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimitedError(
                f"too many {name} from this client: at most {item}; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )


def rate_limit(name: str) -> Any:
    """A route dependency counting this request against the client's `name` limits."""

    async def limited(request: Request) -> None:
        await request.app.state.rate_limiter.check(request, name)

    limited.__name__ = f"rate_limit_{name}"
    return Depends(limited)
