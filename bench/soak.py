"""A soak: the service under a realistic mix, a worker killed and PostgreSQL restarted during it.

The mix (weights in MIX): the website's reads (plan, actions, communes, the explorer's home
page), map tiles at zoom 13-14 over the territory, a harvester (DCAT catalog, the dataset list,
CSV and GeoJSON exports), residents' proposals and supports, editors' merge patches with
If-Match, and a webhook subscriber. It runs on a PostgreSQL cluster of its own (initdb in a
temporary folder, so that it can be restarted; the shared server is never touched) with uvicorn
--workers N, one webhook worker, and an asyncio driver of C concurrent clients (httpx) that sends
as fast as the answers come back: the highest rate this machine sustains with everything on it.

At 1/3 of the run one uvicorn worker process (a `spawn_main` child of the uvicorn supervisor,
never its resource tracker) is killed with SIGKILL; at 2/3 PostgreSQL is stopped (-m fast) and
started again. The outage window runs from the kill or the stop to 10 s after it ended; a 5xx
outside it counts against the target (0). At the end every acknowledged write is looked up in the
database (proposals by id, supports by count, each editor's last acknowledged title), webhook
deliveries are compared with the events, and each process's RSS at the end is compared with its
RSS after the warm-up (target: growth <= 10%). A section is appended to bench/results/soak.md.

Usage: .venv/bin/python bench/soak.py [--duration 600] [--workers 2] [--clients 24]
"""

import argparse
import asyncio
import os
import random
import signal
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.services import keys  # noqa: E402
from tests.committed import committed_database  # noqa: E402
from tests.conftest import start_uvicorn  # noqa: E402
from tests.private_cluster import PrivateCluster, postgres_bin  # noqa: E402
from tests.routers.test_proposals import proposal  # noqa: E402
from tests.test_webhooks import Receiver  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from soak_report import append, write_results  # noqa: E402
from soak_search import search, search_lines  # noqa: E402

MIX = {"website": 40, "tiles": 25, "harvest": 8, "proposal": 4, "support": 8, "edit": 5}
# The soak's own cluster, API and webhook receiver take three ports from --port-base up: each
# engineer running a soak on a shared machine gives a base in a range of their own.
DEFAULT_PORT_BASE = 55430
LENS_TILES = [(13, 4162, 2759), (14, 8320, 5526), (14, 8321, 5526), (14, 8320, 5527)]
RESULTS = ROOT / "bench" / "results" / "soak.md"


class Run:
    def __init__(self, api: str, editor: str, actions: list[str], exports: list[str]) -> None:
        self.api, self.editor, self.actions, self.exports = api, editor, actions, exports
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.fivexx: list[tuple[float, float, str, int]] = []
        self.proposals: list[int] = []
        self.supports = 0
        self.titles: dict[str, str] = {}  # action code -> last acknowledged title
        self.editing: set[str] = set()
        self.errors = 0
        self.windows: list[list[float]] = []
        self.supports_before = 0
        self.initiatives: list[int] = []
        self.began = 0.0
        self.conflicts = 0
        self.edits = 0
        self.samples: dict[tuple[str, int], str] = {}

    async def one(self, client: httpx.AsyncClient, kind: str) -> None:
        started = time.monotonic()
        try:
            status = await getattr(self, kind)(client)
        except httpx.HTTPError:
            self.errors += 1
            status = 0
        ended = time.monotonic()
        self.latency[kind].append(ended - started)
        self.statuses[kind][status] += 1
        if status >= 500:
            self.fivexx.append((started, ended, kind, status))

    async def website(self, client: httpx.AsyncClient) -> int:
        path = random.choice(["/v1/plan", "/v1/actions?limit=50", "/v1/communes", "/"])
        return (await client.get(self.api + path, headers={"Accept-Encoding": "gzip"})).status_code

    async def tiles(self, client: httpx.AsyncClient) -> int:
        z, x, y = random.choice(LENS_TILES)
        path = f"/ogc/collections/initiatives/tiles/WebMercatorQuad/{z}/{y}/{x}"
        return (await client.get(self.api + path)).status_code

    async def harvest(self, client: httpx.AsyncClient) -> int:
        path = random.choice(["/v1/catalog.jsonld", "/v1/datasets", *self.exports])
        return (await client.get(self.api + path)).status_code

    async def proposal(self, client: httpx.AsyncClient) -> int:
        mark = uuid.uuid4().hex[:10]
        body = proposal(title=f"Soak {mark}", contact_email=f"soak-{mark}@example.org")
        answer = await client.post(self.api + "/v1/proposals", json=body)
        if answer.status_code == 201:
            self.proposals.append(answer.json()["id"])
        if answer.status_code != 201:
            self.samples.setdefault(("proposal", answer.status_code), answer.text[:300])
        return answer.status_code

    async def support(self, client: httpx.AsyncClient) -> int:
        initiative = random.choice(self.initiatives)
        answer = await client.post(
            f"{self.api}/v1/initiatives/{initiative}/supports",
            json={"supporter": f"soak-{uuid.uuid4()}"},
        )
        if answer.status_code == 201:
            self.supports += 1
        return answer.status_code

    async def edit(self, client: httpx.AsyncClient) -> int:
        # One editor per action at a time: its last acknowledged title is what must be stored.
        free = [code for code in self.actions if code not in self.editing]
        if not free:
            return await self.website(client)
        code = random.choice(free)
        self.editing.add(code)
        self.edits += 1
        try:
            auth = {"Authorization": f"Bearer {self.editor}"}
            title = f"Action suivie {uuid.uuid4().hex[:8]}"
            for _ in range(3):  # an editor's client reads again after a 412 (a concurrent change)
                # The public representation's ETag: an editor's GET with its key is another one.
                current = await client.get(f"{self.api}/v1/actions/{code}")
                if current.status_code != 200:
                    return current.status_code
                answer = await client.patch(
                    f"{self.api}/v1/actions/{code}",
                    json={"title": title},
                    headers={**auth, "If-Match": current.headers["etag"]},
                )
                if answer.status_code != 412:
                    break
                self.conflicts += 1
            if answer.status_code == 200:
                self.titles[code] = title
            else:
                self.samples.setdefault(("edit", answer.status_code), answer.text[:300])
            return answer.status_code
        finally:
            self.editing.discard(code)

    def in_window(self, started: float, ended: float) -> bool:
        # A request in flight when the event began is inside its window too.
        return any(started <= end + 10 and ended >= start for start, end in self.windows)


async def client_loop(run: Run, deadline: float) -> None:
    kinds, weights = list(MIX), list(MIX.values())
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < deadline:
            await run.one(client, random.choices(kinds, weights)[0])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def processes(api: Any, webhook: Any) -> dict[str, int]:
    named = {"uvicorn supervisor": api.pid, "webhook worker": webhook.pid}
    for pid in children(api.pid):
        named[f"uvicorn worker {pid}"] = pid
    return named


async def soak(arguments: argparse.Namespace) -> int:
    bin_dir = postgres_bin()
    if bin_dir is None:
        print("no PostgreSQL server binaries (initdb) on this machine", file=sys.stderr)
        return 2
    cluster_port, api_port, receiver_port = (arguments.port_base + n for n in range(3))
    cluster = PrivateCluster.create(bin_dir, cluster_port)
    await cluster.astart()
    url = cluster.url("territoire_soak")
    receiver = Receiver()
    hooks = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=receiver_port, log_level="warning")
    )
    serving = asyncio.create_task(hooks.serve())
    started: list[Any] = []
    try:
        engine = await committed_database(url)
        await engine.dispose()
        database = create_database(Settings(database_url=url))
        async with database.sessionmaker() as session, session.begin():
            editor = (await keys.create_key(session, "soak", ["editor"], None)).secret
        await database.dispose()
        environment = {
            "DATABASE_POOL_SIZE": "4",
            "RESPONSE_CACHE": "true",
            "ACCESS_LOG": "false",
            # The soak's residents all come from 127.0.0.1: limits far above its rate.
            "RATE_LIMIT_PROPOSALS": "1000000/minute",
            "RATE_LIMIT_SUPPORTS": "1000000/minute",
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOK_POLL_SECONDS": "0.5",
        }
        log = (ROOT / "bench" / "out").joinpath("soak.log")
        log.parent.mkdir(exist_ok=True)
        output = log.open("wb")
        api, base = await start_uvicorn(
            url, port=api_port, environment=environment, workers=arguments.workers, output=output
        )
        started.append(api)
        webhook = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "webhooks", cwd=ROOT,
            env={**os.environ, **environment, "DATABASE_URL": url}, stdout=output, stderr=output,
        )  # fmt: skip
        started.append(webhook)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            hook = await client.post(
                "/v1/webhooks",
                json={"url": f"http://127.0.0.1:{receiver_port}/hook", "event_types": ["*"]},
                headers={"Authorization": f"Bearer {editor}"},
            )
            assert hook.status_code == 201, hook.text
            listed = (await client.get("/v1/actions?limit=10")).json()
            actions = [item["code"] for item in listed["items"]][:6]
            datasets = (await client.get("/v1/datasets")).json()
        names = [d["identifier"] for d in datasets][:4]
        exports = [f"/v1/datasets/{n}.csv" for n in names] + ["/v1/datasets/initiatives.geojson"]
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        first_event = await connection.fetchval("SELECT coalesce(max(id), 0) FROM change_log")
        run_supports = await connection.fetchval("SELECT count(*) FROM support")
        await connection.close()
        run = Run(base, editor, actions, exports)
        run.supports_before = run_supports
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            listed = (await client.get("/v1/initiatives?limit=50")).json()
        run.initiatives = [feature["id"] for feature in listed["features"]]
        if arguments.search:
            await rate_search(arguments, run)
            return 0
        began = run.began = time.monotonic()
        deadline = began + arguments.duration
        loops = [asyncio.create_task(client_loop(run, deadline)) for _ in range(arguments.clients)]
        await asyncio.sleep(min(30, arguments.duration / 10))
        memory_start = {name: rss_kb(pid) for name, pid in processes(api, webhook).items()}
        await asyncio.sleep(max(0, began + arguments.duration / 3 - time.monotonic()))
        victim = children(api.pid)[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        run.windows.append([killed_at, killed_at])
        await asyncio.sleep(max(0, began + 2 * arguments.duration / 3 - time.monotonic()))
        stopped_at = time.monotonic()
        await cluster.astop("fast")
        await asyncio.sleep(3)
        await cluster.astart()
        run.windows.append([stopped_at, time.monotonic()])
        await asyncio.gather(*loops)
        elapsed = time.monotonic() - began
        memory_end = {name: rss_kb(pid) for name, pid in processes(api, webhook).items()}
        await asyncio.sleep(8)  # the webhook worker catches up
        report = await check(url, run, receiver, first_event)
        write_results(arguments, run, elapsed, victim, memory_start, memory_end, report)
        return 0
    finally:
        for process in started:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), timeout=30)
        hooks.should_exit = True
        await serving
        cluster.remove()


async def rate_search(arguments: argparse.Namespace, template: Run) -> None:
    """Step the client count up on this stack (no fault injected) and record the table."""

    async def measure(clients: int) -> tuple[Run, float]:
        run = Run(template.api, template.editor, template.actions, template.exports)
        run.initiatives = template.initiatives
        began = time.monotonic()
        deadline = began + arguments.search_seconds
        await asyncio.gather(*(client_loop(run, deadline) for _ in range(clients)))
        return run, time.monotonic() - began

    counts = [int(count) for count in arguments.search.split(",")]
    steps, chosen = await search(measure, counts, arguments.p99_limit_ms)
    append(
        Path(arguments.results),
        [
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: sustainable rate",
            "",
            f"- command: `.venv/bin/python bench/soak.py --workers {arguments.workers} --search "
            f"{arguments.search} --search-seconds {arguments.search_seconds} --p99-limit-ms "
            f"{arguments.p99_limit_ms} --port-base {arguments.port_base}`",
            f"- load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores shared by "
            "the driver, uvicorn, the webhook worker and PostgreSQL",
            *search_lines(steps, chosen, arguments.p99_limit_ms),
        ],
    )


async def check(url: str, run: Run, receiver: Receiver, first_event: int) -> dict[str, Any]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM initiative WHERE id = ANY($1::int[])", run.proposals
        )
        supports = await connection.fetchval("SELECT count(*) FROM support") - run.supports_before
        titles = dict(
            await connection.fetch(
                "SELECT code, title FROM action WHERE code = ANY($1::text[])", list(run.titles)
            )
        )
        events = await connection.fetchval(
            "SELECT count(*) FROM change_log WHERE id > $1", first_event
        )
    finally:
        await connection.close()
    lost_titles = sum(1 for code, title in run.titles.items() if titles.get(code) != title)
    return {
        "proposals": (len(run.proposals), len(run.proposals) - stored),
        "supports": (run.supports, max(0, run.supports - supports)),
        "titles": (len(run.titles), lost_titles),
        "events": events,
        "deliveries": len(receiver.received),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--results", default=str(RESULTS), help="the Markdown file appended to")
    parser.add_argument("--search", help="client counts to step through (4,8,16,32): no soak")
    parser.add_argument("--search-seconds", type=float, default=60)
    parser.add_argument("--p99-limit-ms", type=float, default=1000)
    return asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
