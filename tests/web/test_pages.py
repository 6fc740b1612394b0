"""The listener page's routes and the integrity of its static files (no browser needed)."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from radio.web import pages

STATIC = Path(pages.__file__).parent / "static"


@dataclass
class OneChannelStation:
    """All the routes read from a station: which channels exist."""

    channels: dict = field(default_factory=lambda: {"baroque": object()})


def run_with_client(check) -> None:
    """Run ``await check(client)`` against the page routes, on its own thread and loop so
    that it works whatever event loop the browser tests leave on the main thread."""

    async def main() -> None:
        app = web.Application()
        pages.setup(app, OneChannelStation())
        async with TestClient(TestServer(app)) as client:
            await check(client)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()


def test_page_and_channel_links_serve_the_page():
    run_with_client(page_and_channel_links)


async def page_and_channel_links(client: TestClient) -> None:
    for path in ("/", "/listen/baroque"):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type == "text/html"
        assert '<script type="module" src="/static/js/main.js">' in await response.text()
    # An unknown channel still gets the page (it explains), but marked as not found.
    response = await client.get("/listen/no-such-style")
    assert response.status == 404
    assert "<canvas" in await response.text()


def test_static_files_are_served_with_their_types_and_nothing_outside():
    run_with_client(static_files)


async def static_files(client: TestClient) -> None:
    js = await client.get("/static/js/main.js")
    assert js.status == 200 and "javascript" in js.content_type
    css = await client.get("/static/listener.css")
    assert css.status == 200 and css.content_type == "text/css"
    icon = await client.get("/favicon.ico")
    assert icon.status == 200 and icon.content_type == "image/svg+xml"
    assert (await client.get("/static/js/no-such-module.js")).status == 404
    assert (await client.get("/static/%2e%2e/pages.py")).status == 404
    # ../pages.py exists (radio/web/pages.py): only the guard keeps it from being served.
    assert (await client.get("/static/..%2fpages.py")).status == 404
    assert (await client.get("/static/js%00.js")).status == 404  # not a 500 from the path library


def test_every_module_import_resolves_to_a_file():
    for module in (STATIC / "js").glob("*.js"):
        for target in re.findall(r'from\s+"(\./[^"]+)"', module.read_text()):
            assert (module.parent / target).is_file(), f"{module.name} imports missing {target}"


def test_every_element_the_script_looks_up_is_in_the_page():
    html = (STATIC / "index.html").read_text()
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    wanted = set(re.findall(r'\$\("([^"]+)"\)', (STATIC / "js" / "main.js").read_text()))
    assert wanted and wanted <= ids, f"missing from index.html: {sorted(wanted - ids)}"


def test_page_loads_nothing_from_the_internet():
    for path in [STATIC / "index.html", STATIC / "listener.css", *(STATIC / "js").glob("*.js")]:
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text(), re.I), path.name
