"""The documentation pages render in a real browser that has no internet."""

import asyncio
import shutil
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def rendered_dom(url: str) -> str:
    assert CHROMIUM, "Chromium is installed by scripts/test"
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            # Everything but the service itself goes to a dead proxy: no internet.
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1;localhost",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    return stdout.decode()


@pytest.mark.parametrize(
    ("page", "rendered"),
    [
        ("/docs", ['class="opblock-summary-path"', "/v1/territory", "/v1/plan"]),
        ("/redoc", ["The territory, its licence and how much of its plan is published"]),
    ],
)
async def test_documentation_renders_offline(
    live_server: str, page: str, rendered: list[str]
) -> None:
    dom = await rendered_dom(live_server + page)
    for marker in rendered:
        assert marker in dom, marker
