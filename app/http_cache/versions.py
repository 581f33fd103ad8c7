"""The dataset versions the /v1/ validators derive from, and the token an ETag takes from them."""

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from app.http_cache.policy import CachingPolicy
from app.repositories.publication import VersionRow


class DataVersions:
    """The version of every dataset, kept in memory while the change listener is connected."""

    def __init__(self, reader: Callable[[], Awaitable[Sequence[VersionRow]]]) -> None:
        self.reader = reader
        self.connected = False
        self.generation = 0
        self._current: dict[str, VersionRow] | None = None

    def invalidate(self) -> None:
        self.generation += 1
        self._current = None

    async def current(self) -> Mapping[str, VersionRow]:
        if self.connected and self._current is not None:
            return self._current
        generation = self.generation
        rows = {row.dataset: row for row in await self.reader()}
        # A change notified while reading may be missing from what was read: keep nothing.
        if self.connected and generation == self.generation:
            self._current = rows
        return rows


def version_token(
    policy: CachingPolicy, versions: Mapping[str, VersionRow], wanted: tuple[str, ...] | None
) -> tuple[bytes, datetime]:
    """The part of a /v1/ ETag that comes from the data: the versions of the datasets read (all
    of them when `wanted` is None), with the code and settings; and their latest change."""
    rows = [row for name, row in sorted(versions.items()) if wanted is None or name in wanted]
    digest = hashlib.sha256(policy.fingerprint.encode())
    for row in rows:
        digest.update(f"\0{row.dataset}:{row.version}:{row.modified_at.isoformat()}".encode())
    last_modified = max((row.modified_at for row in rows), default=None)
    return digest.digest(), last_modified or policy.started_at
