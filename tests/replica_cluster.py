"""A private primary and its hot standby, for the read-replica tests.

The shared test server cannot be made a replication primary (its pg_hba.conf has no replication
line, and it is never reconfigured nor restarted), so these tests start a pair of their own: a
primary made with initdb (wal_level=replica, a replication line in its pg_hba.conf) and a
standby of it made with `pg_basebackup -R`, streaming from it. It simulates honestly what a
deployment has: the app talks to them over TCP exactly as it would to remote servers.
"""

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# The port range of this work (see the task); the pair takes two consecutive ports from it.
PRIMARY_PORT = int(os.environ.get("REPLICA_TEST_PORT", "55410"))


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries that have initdb and pg_basebackup, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    for candidate in reversed(found):
        if (candidate / "initdb").exists() and (candidate / "pg_basebackup").exists():
            return candidate
    return None


def _as_postgres() -> list[str]:
    # The server refuses to run as root: run it as the postgres user then.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


async def _run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *_as_postgres(),
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {output.decode(errors='replace')}")
    return output.decode(errors="replace")


@dataclass
class Server:
    bin: Path
    data: Path
    port: int
    socket_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def start(self, *options: str) -> None:
        settings = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.socket_dir}",
            # Test data: durability of the test clusters themselves does not matter.
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c shared_buffers=32MB",
            *options,
        ]
        log = self.data.parent / f"{self.data.name}.log"
        await _run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w",
            "-o", " ".join(settings), "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        await _run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    async def running(self) -> bool:
        try:
            await _run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status")
        except RuntimeError:
            return False
        return True

    async def fetchval(self, query: str, database: str = "postgres") -> object:
        connection = await asyncpg.connect(self.url(database), timeout=5)
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()


@dataclass
class ReplicaPair:
    root: Path
    primary: Server
    standby: Server

    async def wait_caught_up(self, database: str = "postgres", seconds: float = 20) -> None:
        """Until the standby has replayed all the primary had written when this was called."""
        target = await self.primary.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        query = "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn"
        for _ in range(int(seconds / 0.05)):
            replayed = await self.standby.fetchval(query, database)
            if replayed is not None and replayed >= target:  # type: ignore[operator]
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the standby did not catch up")

    async def close(self) -> None:
        for server in (self.standby, self.primary):
            if await server.running():
                await server.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


async def start_pair(bin_dir: Path) -> ReplicaPair:
    """initdb a primary, start it, clone it with pg_basebackup -R and start the clone."""
    root = Path(tempfile.mkdtemp(prefix="territoire-replicas-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = Server(bin_dir, root / "primary", PRIMARY_PORT, root)
    standby = Server(bin_dir, root / "standby", PRIMARY_PORT + 1, root)
    pair = ReplicaPair(root, primary, standby)
    try:
        await _run(
            str(bin_dir / "initdb"), "-D", str(primary.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("\nhost replication postgres 127.0.0.1/32 trust\n")
        await primary.start("-c wal_level=replica", "-c max_wal_senders=4")
        await _run(
            str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        await standby.start("-c hot_standby=on", "-c wal_receiver_status_interval=1s")
        return pair
    except BaseException:
        await pair.close()
        raise
