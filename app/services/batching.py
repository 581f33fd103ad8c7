"""Group commit in the application: concurrent writes of one kind go to the database together,
as one statement (one round trip, one commit) for all of them.

Each caller awaits its own item's outcome, which comes only once the statement has committed:
an acknowledged write is durable exactly as if it had been written alone. A batch is started at
once when fewer than `max_running` are in flight, else the items wait for the next one; under
load, batches grow by themselves, and alone a write waits for nothing.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg

from app.db import Reader, WriteConnection, write_connection

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[WriteConnection, Sequence[T]], Awaitable[Sequence[R | BaseException]]]


class Batcher(Generic[T, R]):
    def __init__(self, flush: Flush[T, R], max_size: int = 200, max_running: int = 2) -> None:
        self.flush = flush
        self.max_size = max_size
        self.max_running = max_running
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, writer: Reader, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            # After the other requests ready in this turn of the loop have queued theirs.
            self._scheduled = True
            loop.call_soon(self._start, writer)
        return await future

    def _start(self, writer: Reader) -> None:
        self._scheduled = False
        # One connection (in tests, the test's own) runs one statement at a time.
        limit = self.max_running if isinstance(writer, asyncpg.Pool) else 1
        while self._pending and self._running < limit:
            batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size :]
            self._running += 1
            task = asyncio.create_task(self._run(writer, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, writer: Reader, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            async with write_connection(writer) as connection:
                outcomes = await self.flush(connection, [item for item, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        except BaseException as error:  # the connection failed: every item learns it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        finally:
            self._running -= 1
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._start, writer)
