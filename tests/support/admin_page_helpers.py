"""Helpers for the admin page's browser tests: Debian's Chromium through the pip playwright
package (never ``playwright install``), signed in to a server from admin_helpers.admin_client,
with every console error and uncaught exception collected."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

import pytest
from tests.support.admin_helpers import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def need_chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (`make system-deps` installs Debian's chromium)")
    pytest.importorskip("playwright.async_api")
    return CHROMIUM


REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of (4\d\d)")


class Console:
    """Console errors and warnings, and uncaught exceptions, seen by a page. Chromium also logs
    every 4xx answer as an error; those are the server refusing on purpose (the page shows
    why), so they are kept apart, in ``refused``, for the tests that expect them."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.refused: list[int] = []
        page.on("console", self._message)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def _message(self, message) -> None:
        if message.type not in ("error", "warning"):
            return
        refused = REFUSED.match(message.text)
        if refused:
            self.refused.append(int(refused.group(1)))
        else:
            self.errors.append(f"{message.type}: {message.text}")


@contextlib.asynccontextmanager
async def admin_page(client, *, sign_in: bool = True, viewport: dict | None = None, **context_options):
    """A fresh browser context on the client's /admin page, signed in unless told not to.
    Yields (page, console)."""
    from playwright.async_api import async_playwright, expect

    need_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(viewport=viewport or LAPTOP, **context_options)
            page = await context.new_page()
            page.set_default_timeout(20_000)
            console = Console(page)
            await page.goto(str(client.make_url("/admin")))
            if sign_in:
                await page.fill("#token", TOKEN)
                await page.press("#token", "Enter")
                await expect(page.locator("#app")).to_be_visible()
                await expect(page.locator("#live")).to_have_attribute("data-state", "on")
            yield page, console
        finally:
            await browser.close()


def card(page, style: str):
    return page.locator(f"#style-cards li[data-style='{style}']")


def fake_version(registry, style: str, *, nll: float, heldout_pieces: int, tmp: Path) -> str:
    """Register a "trained" version of ``style`` without training: the bundled model's weights
    under a header that says it scored ``nll`` on ``heldout_pieces`` held-out pieces."""
    from radio.model.modelfile import read_model_file, write_model_file

    header, arrays, _ = read_model_file(REPO / "styles" / style / "model.npz")
    # The shape of a trainer's done event: held-out NLL (full, with struck/held) and the rest.
    metrics = {"nll_full_per_beat": {"model": nll, "unigram": 3.8}, "nll_per_beat": {"model": nll - 0.05, "unigram": 3.6},
               "frame_accuracy": {"model": 0.2, "unigram": 0.0},
               "held_out": {"pieces": heldout_pieces, "beats": 100 * heldout_pieces}, "epochs_run": 5, "train_seconds": 3.0}
    header = {k: v for k, v in header.items() if k not in ("format", "format_version")}
    header["training"] = {**header.get("training", {}),
                          "validation": [{"id": f"p{i}", "sha256": f"{i:064x}"} for i in range(heldout_pieces)]}
    header["metrics"] = {**header.get("metrics", {}), "held_out": metrics["held_out"], "model": {"nll_full": nll, "nll_sounding": nll - 0.05},
                         "epochs_run": 5, "best_epoch": 1, "stopped_by": "early stopping"}
    header["note"] = json.dumps({"fake": nll})  # a different file, so a different version
    path = tmp / f"{style}-{nll}.npz"
    write_model_file(path, arrays, header)
    version, _ = registry.register(style, path, metrics, None)
    return version.version


def save_artifact(src: Path, name: str) -> Path:
    """Copy a screenshot into test-artifacts/ (what CI keeps)."""
    target = REPO / "test-artifacts" / name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(src, target)
    return target
