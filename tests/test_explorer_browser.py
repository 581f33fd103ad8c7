"""The explorer in a real browser (Debian's Chromium driven by Playwright) with no internet,
against a live server on a database of this module's own (a proposal is committed): every page
renders without a console error, the map draws the service's tiles, a proposal made on the map
reaches the moderation queue, the widgets render inside a page of another origin, axe-core finds
no serious violation, and the text reads with JavaScript off. Screenshots go to docs/screenshots/.
"""

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import keys
from tests.committed import committed_database, committed_url
from tests.conftest import PROJECT_ROOT, free_port, start_uvicorn

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Everything but the local servers goes to a dead proxy: no internet.
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost",
]
AXE = PROJECT_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
DOCUMENTED = PROJECT_ROOT / "docs" / "screenshots"
# The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1): a test run
# leaves the working tree as it found it, and still takes every screenshot.
SCREENSHOTS = (
    DOCUMENTED
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "territoire-screenshots"
)
DATABASE_URL = committed_url("explorer")


@dataclass
class Site:
    url: str
    moderator: dict[str, str]
    action: str  # an action with indicators
    commune: str  # a commune with a published initiative
    initiative_title: str


@pytest.fixture(scope="module")
async def site() -> AsyncIterator[Site]:
    engine = await committed_database(DATABASE_URL)
    async with AsyncSession(engine) as session:
        made = await keys.create_key(session, "explorer tests", ["moderator"], None)
        await session.commit()
    process, url = await start_uvicorn(DATABASE_URL)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            initiatives = (await client.get("/v1/initiatives?limit=1")).json()["features"]
            indicators = (await client.get("/v1/indicators?limit=50")).json()["items"]
            measured = next(
                code for item in indicators for code in item["measures"]["actions"] if code
            )
        yield Site(
            url=url,
            moderator={"Authorization": f"Bearer {made.secret}"},
            action=measured,
            commune=initiatives[0]["properties"]["commune"],
            initiative_title=initiatives[0]["properties"]["title"],
        )
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
        await engine.dispose()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def pages(site: Site) -> dict[str, str]:
    return {
        "home": "/",
        "home-en": "/?lang=en",
        "action": f"/action/{site.action}",
        "commune": f"/commune/{site.commune}",
        "map": "/map",
        "search": "/search?q=emploi",
        "widget-plan": "/widgets/plan",
        "widget-action": f"/widgets/action/{site.action}",
        "widget-commune": f"/widgets/commune/{site.commune}",
        "widget-map": "/widgets/map",
    }


# A pixel of the map inside a commune with no initiative drawn within 12 pixels.
FREE_SPOT = """() => {
  const map = document.getElementById('map').territoireMap;
  const canvas = map.getCanvas();
  const width = canvas.clientWidth, height = canvas.clientHeight;
  const layers = ['initiatives-point', 'initiatives-line', 'initiatives-area'];
  for (let fy = 0.3; fy < 0.8; fy += 0.05) {
    for (let fx = 0.3; fx < 0.8; fx += 0.05) {
      const x = width * fx, y = height * fy;
      const near = map.queryRenderedFeatures([[x - 12, y - 12], [x + 12, y + 12]], {layers});
      const inside = map.queryRenderedFeatures([x, y], {layers: ['communes-fill']});
      if (!near.length && inside.length) return [x, y];
    }
  }
  return null;
}"""


class Console:
    """The errors a page reports: console errors, uncaught exceptions, failed requests."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "response",
            lambda response: (
                self.errors.append(f"{response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )


async def open_page(browser: Browser, url: str, **context: Any) -> tuple[Page, Console]:
    context.setdefault("viewport", {"width": 1200, "height": 900})
    browser_context = await browser.new_context(locale="fr-FR", **context)
    page = await browser_context.new_page()
    console = Console(page)
    await page.goto(url, wait_until="load")
    if await page.locator("#map").count() and context.get("java_script_enabled", True):
        await page.wait_for_function(
            "() => Number(document.getElementById('map').dataset.communes) > 0", timeout=30_000
        )
    return page, console


async def test_every_page_renders_without_console_error(browser: Browser, site: Site) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in pages(site).items():
        page, console = await open_page(browser, site.url + path)
        assert await page.locator("h1").count() >= 1, name
        await page.screenshot(
            path=str(SCREENSHOTS / f"{name}.png"), full_page=False, animations="disabled"
        )
        await page.context.close()
        assert console.errors == [], (name, console.errors)


async def test_the_map_draws_tiles_and_features(browser: Browser, site: Site) -> None:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    tiles: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda r: tiles.append((r.url, r.status)) if "/tiles/WebMercatorQuad/" in r.url else None,
    )
    await page.goto(site.url + "/map", wait_until="load")
    await page.wait_for_function(
        "() => Number(document.getElementById('map').dataset.initiatives) > 0", timeout=30_000
    )
    drawn = await page.evaluate("Object.assign({}, document.getElementById('map').dataset)")
    assert int(drawn["communes"]) > 0
    assert int(drawn["initiatives"]) > 0
    fetched = {re.sub(r"/tiles/.*", "", url).rsplit("/", 1)[-1] for url, status in tiles}
    assert fetched == {"communes", "initiatives"}, tiles
    assert all(status in (200, 304) for _, status in tiles), tiles
    # The axis filter applies to the drawn features: an axis draws its initiatives alone (and
    # one without initiatives draws none).
    async with httpx.AsyncClient(base_url=site.url) as client:
        axes = [a["code"] for a in (await client.get("/v1/axes")).json()["items"]]
        features = (await client.get("/v1/initiatives?limit=1000")).json()["features"]
    categories = {str(f["properties"]["category"]) for f in features}
    assert len(categories) > 1, "the test data should have initiatives under several axes"
    drawn_categories = """() => [...new Set(document.getElementById('map').territoireMap
      .queryRenderedFeatures({layers: ['initiatives-point', 'initiatives-line',
                                       'initiatives-area']})
      .map((f) => String(f.properties.category)))].sort()"""
    assert len(await page.evaluate(drawn_categories)) > 1  # unfiltered: several axes drawn
    chosen = sorted(categories)[0]
    await page.goto(site.url + f"/map?axis={chosen}", wait_until="load")
    await page.wait_for_function(
        "() => Number(document.getElementById('map').dataset.initiatives) > 0", timeout=30_000
    )
    assert await page.evaluate(drawn_categories) == [chosen]
    empty = [code for code in axes if code not in categories]
    if empty:
        await page.goto(site.url + f"/map?axis={empty[0]}", wait_until="load")
        await page.wait_for_function(
            "() => document.getElementById('map').dataset.initiatives !== undefined",
            timeout=30_000,
        )
        count = await page.evaluate("document.getElementById('map').dataset.initiatives")
        assert count == "0"
    await context.close()


async def test_a_proposal_made_on_the_map_reaches_the_moderation_queue(
    browser: Browser, site: Site
) -> None:
    page, console = await open_page(browser, site.url + "/map")
    canvas = page.locator("#map canvas")
    box = await canvas.bounding_box()
    assert box is not None
    # A click inside a commune and away from the initiatives places the point; the fields show
    # its coordinates.
    spot = await page.evaluate(FREE_SPOT)
    assert spot is not None, "no free spot inside a commune on the map"
    await page.mouse.click(box["x"] + spot[0], box["y"] + spot[1])
    longitude = await page.input_value("#p-longitude")
    latitude = await page.input_value("#p-latitude")
    assert re.fullmatch(r"-?\d+\.\d{6}", longitude)
    assert re.fullmatch(r"-?\d+\.\d{6}", latitude)
    assert await page.locator(".maplibregl-marker").count() == 1

    # The API's checks, shown as it states them: no title, a bad email.
    await page.fill("#p-description", "Des bancs et de l'ombre près de l'arrêt de bus.")
    await page.fill("#p-email", "pas-une-adresse")
    await page.click("#proposal button[type=submit]")
    outcome = page.locator("#proposal-outcome")
    await outcome.locator("ul.error").wait_for()
    errors = await outcome.inner_text()
    assert "title" in errors, errors
    assert "contact_email" in errors, errors
    assert await page.get_attribute("#p-title", "aria-invalid") == "true"

    title = "Un abri pour l'arrêt de bus (essai de l'explorateur)"
    await page.fill("#p-title", title)
    await page.fill("#p-email", "habitant@example.org")
    await page.click("#proposal button[type=submit]")
    link = outcome.locator(".success a")
    await link.wait_for()
    status_url = await link.get_attribute("href")
    assert status_url
    assert "/v1/proposals/status/" in status_url
    await page.context.close()
    # The refused first try is a 422 the browser reports; nothing else may fail.
    assert [e for e in console.errors if "422" not in e] == [], console.errors

    async with httpx.AsyncClient(base_url=site.url) as client:
        queue = await client.get("/v1/moderation/initiatives?limit=100", headers=site.moderator)
        assert queue.status_code == 200
        submitted = [item for item in queue.json()["items"] if item["title"] == title]
        assert len(submitted) == 1
        point = submitted[0]["geometry"]
        assert point["type"] == "Point"
        assert [round(c, 6) for c in point["coordinates"]] == [float(longitude), float(latitude)]
        status = await client.get(status_url)
        assert status.json()["status"] == "submitted"


async def test_support_button_counts_once(browser: Browser, site: Site) -> None:
    page, console = await open_page(browser, site.url + f"/commune/{site.commune}")
    holder = page.locator("[data-initiative]").first
    before = int(await holder.locator(".count").inner_text())
    await holder.locator("button").click()
    await holder.locator("[role=status]").wait_for()
    assert int(await holder.locator(".count").inner_text()) == before + 1
    await page.reload(wait_until="load")
    holder = page.locator("[data-initiative]").first
    await holder.locator("button").click()  # the same browser again: counted once
    await holder.locator("[role=status]").wait_for()
    assert int(await holder.locator(".count").inner_text()) == before + 1
    await page.context.close()
    assert console.errors == []


async def test_the_search_box_shows_what_v1_search_finds_as_one_types(
    browser: Browser, site: Site
) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        api = (await client.get("/v1/search?q=emploi&limit=5")).json()["items"]
    assert api
    page, console = await open_page(browser, site.url + "/")
    await page.fill("#site-search", "emploi")
    await page.locator(".suggestions a").first.wait_for()
    shown = await page.locator(".suggestions a").all_inner_texts()
    assert shown == [hit["title"] for hit in api]
    await page.keyboard.press("Enter")  # the box still opens the search page
    await page.wait_for_url("**/search?q=emploi")
    assert await page.locator(".hits li").count() >= len(api)
    await page.context.close()
    assert console.errors == []


async def test_keyboard_reaches_the_content_and_moves_the_map(browser: Browser, site: Site) -> None:
    page, console = await open_page(browser, site.url + "/map")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    await page.focus("#map canvas")
    before = await page.evaluate("document.getElementById('map').territoireMap.getCenter().lng")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await page.wait_for_function(
        f"() => document.getElementById('map').territoireMap.getCenter().lng > {before}",
        timeout=5_000,
    )
    await page.context.close()
    assert console.errors == []


class OtherOrigin:
    """A page of another origin (another port) that embeds the widgets."""

    def __init__(self, service: str, action: str, commune: str) -> None:
        self.port = free_port()
        self.html = f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Site d'une commune</title><link rel="icon" href="data:,">
<script src="{service}/assets/explorer/widgets.js" defer></script></head><body>
<main><h1>Site d'une commune</h1>
<territoire-plan></territoire-plan>
<territoire-action code="{action}"></territoire-action>
<territoire-commune insee="{commune}"></territoire-commune>
<territoire-map commune="{commune}"></territoire-map>
<iframe id="frame" src="{service}/widgets/action/{action}" title="Action" width="360"
 height="220"></iframe></main></body></html>""".encode()
        self.server: asyncio.Server | None = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
            + str(len(self.html)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + self.html
        )
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", self.port)
        return f"http://localhost:{self.port}/"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_widgets_render_in_a_page_of_another_origin(browser: Browser, site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        action = (await client.get(f"/v1/actions/{site.action}")).json()
        commune = (await client.get(f"/v1/communes/{site.commune}")).json()["properties"]
        territory = (await client.get("/v1/territory")).json()
    async with OtherOrigin(site.url, site.action, site.commune) as url:
        # Tall enough for every widget: a frame out of the view is not painted in a screenshot.
        page, console = await open_page(browser, url, viewport={"width": 1000, "height": 1400})
        for tag in ("territoire-plan", "territoire-action", "territoire-commune", "territoire-map"):
            await page.wait_for_selector(f"{tag}[data-ready='']", timeout=15_000)
        texts = {
            tag: await page.evaluate(
                f"document.querySelector('{tag}').shadowRoot.textContent", None
            )
            for tag in ("territoire-plan", "territoire-action", "territoire-commune")
        }
        assert territory["name"] in texts["territoire-plan"]
        assert action["title"] in texts["territoire-action"]
        assert commune["name"] in texts["territoire-commune"]
        frame = page.frame_locator("#frame")
        assert action["title"] in await frame.locator("h1").inner_text()
        map_frame = page.frame_locator("territoire-map >> iframe")
        # The small map in its final view, fully drawn: a screenshot the same on every run.
        await map_frame.locator("#map[data-settled]").wait_for(timeout=15_000)
        await page.screenshot(
            path=str(SCREENSHOTS / "widgets-other-origin.png"),
            full_page=True,
            animations="disabled",
        )
        await page.context.close()
    assert console.errors == [], console.errors


async def test_axe_finds_no_serious_violation(browser: Browser, site: Site) -> None:
    assert AXE.exists(), "axe-core is installed by scripts/lib.sh (npm ci in web/)"
    found: dict[str, list[str]] = {}
    for name, path in pages(site).items():
        page, _ = await open_page(browser, site.url + path)
        # Evaluated over DevTools (a <script> tag added inline would break the page's CSP).
        await page.evaluate(AXE.read_text())
        result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        assert result["testEngine"]["name"] == "axe-core", name
        assert result["passes"], name  # the rules did run on the page
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])})"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[name] = serious
        await page.context.close()
    assert found == {}


async def test_the_text_reads_with_javascript_off(browser: Browser, site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        action = (await client.get(f"/v1/actions/{site.action}")).json()
        tree = (await client.get("/v1/plan")).json()
        commune = (await client.get(f"/v1/communes/{site.commune}")).json()["properties"]
    expected = {
        "/": [tree["axes"][0]["title"], tree["axes"][-1]["ambitions"][0]["title"]],
        f"/action/{site.action}": [action["title"], *(m["title"] for m in action["milestones"])]
        + [i["name"] for i in action["indicators"]],
        f"/commune/{site.commune}": [commune["name"], site.initiative_title],
        "/map": [site.initiative_title],
    }
    for path, texts in expected.items():
        page, console = await open_page(browser, site.url + path, java_script_enabled=False)
        shown = await page.inner_text("main")
        for text in texts:
            assert " ".join(text.split()) in " ".join(shown.split()), (path, text)
        await page.context.close()
        assert console.errors == [], console.errors


def test_screenshots_are_shown_in_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in ("home", "action", "commune", "map", "widgets-other-origin"):
        assert f"docs/screenshots/{name}.png" in readme, name
        assert Path(DOCUMENTED / f"{name}.png").exists(), name


async def test_web_components_revalidate_their_data_with_etags(
    browser: Browser, site: Site
) -> None:
    # A service whose data may be kept 0 s: each new view of the page asks again, conditionally.
    process, url = await start_uvicorn(DATABASE_URL, environment={"HTTP_MAX_AGE": "0"})
    try:
        async with OtherOrigin(url, site.action, site.commune) as other:
            context = await browser.new_context()
            page = await context.new_page()
            console = Console(page)
            # What the network really answered (a revalidated response reaches the page as the
            # cached 200): the status lines, by request id, from the DevTools protocol.
            wire: dict[str, int] = {}
            devtools = await context.new_cdp_session(page)
            await devtools.send("Network.enable")
            devtools.on(
                "Network.responseReceivedExtraInfo",
                lambda event: wire.__setitem__(event["requestId"], event["statusCode"]),
            )
            sent: list[
                tuple[int, str, str | None, str | None]
            ] = []  # view, path, If-None-Match, ETag

            async def record(response: Any) -> None:
                path = response.url.removeprefix(url)
                if path in ("/v1/territory", f"/v1/actions/{site.action}"):
                    headers = await response.request.all_headers()
                    sent.append(
                        (
                            state["view"],
                            path,
                            headers.get("if-none-match"),
                            response.headers.get("etag"),
                        )
                    )

            page.on("response", record)
            statuses = []
            state = {"view": 0}
            for view in (1, 2):
                state["view"] = view
                wire.clear()
                await page.goto(other, wait_until="load")
                for tag in ("territoire-plan", "territoire-action", "territoire-commune"):
                    await page.wait_for_selector(f"{tag}[data-ready='']", timeout=15_000)
                statuses.append(sorted(wire.values()))
            texts = await page.evaluate(
                "document.querySelector('territoire-action').shadowRoot.textContent"
            )
            await context.close()
        first = {path: etag for view, path, _, etag in sent if view == 1}
        again = {path: asked for view, path, asked, _ in sent if view == 2}
        assert set(first) == {"/v1/territory", f"/v1/actions/{site.action}"}, sent
        assert all(first.values()), sent
        assert again == first, sent  # the second view sent each ETag back
        assert 304 not in statuses[0], statuses
        assert 304 in statuses[1], statuses
        assert site.action in texts  # drawn from the revalidated copy
        assert console.errors == [], console.errors
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
