"""Small PostgreSQL probes for the set-up scripts (they run before the app is configured).

Usage: pgtool.py major URL | has-postgis URL | is-local URL | create-db URL [--recreate]
       | with-db URL NAME | test-url URL
"""

import asyncio
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def plain(url: str) -> str:
    """asyncpg wants postgresql://; SQLAlchemy URLs carry a +driver suffix."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(plain(url))
    return urlunsplit(parts._replace(path="/" + name))


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain(url), timeout=5)


async def major(url: str) -> int:
    connection = await connect(url)
    try:
        version = int(await connection.fetchval("SHOW server_version_num"))
    finally:
        await connection.close()
    print(version // 10000)
    return 0


async def has_postgis(url: str) -> int:
    connection = await connect(url)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"
        )
    finally:
        await connection.close()
    return 0 if found else 1


def is_local(url: str) -> int:
    host = urlsplit(plain(url)).hostname or "localhost"
    return 0 if host in {"localhost", "127.0.0.1", "::1"} or host.startswith("/") else 1


async def create_database(url: str, recreate: bool) -> int:
    """Create the database URL names, if missing (or afresh)."""
    name = urlsplit(plain(url)).path.lstrip("/")
    connection = await connect(with_database(url, "postgres"))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        quoted = '"' + name.replace('"', '""') + '"'
        if exists and recreate:
            await connection.execute(f"DROP DATABASE {quoted} WITH (FORCE)")
            exists = None
        if not exists:
            await connection.execute(f"CREATE DATABASE {quoted} ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await connection.close()
    return 0


def main(argv: list[str]) -> int:
    command, url, *rest = argv
    if command == "major":
        return asyncio.run(major(url))
    if command == "has-postgis":
        return asyncio.run(has_postgis(url))
    if command == "is-local":
        return is_local(url)
    if command == "create-db":
        return asyncio.run(create_database(url, "--recreate" in rest))
    if command == "with-db":
        print(with_database(url, rest[0]).replace("postgresql://", "postgresql+asyncpg://", 1))
        return 0
    if command == "test-url":
        name = urlsplit(plain(url)).path.lstrip("/") or "territoire"
        print(
            with_database(url, name + "_test").replace("postgresql://", "postgresql+asyncpg://", 1)
        )
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
