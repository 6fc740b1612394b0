"""The admin page in Debian's headless Chromium: sign in with the token, start a retrain,
watch its progress arrive live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from admin_helpers import TOKEN, admin_client, fill_library

pytestmark = [pytest.mark.browser, pytest.mark.train, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (`make system-deps` installs Debian's chromium)")
    pytest.importorskip("playwright.async_api")
    return CHROMIUM


async def test_sign_in_retrain_and_watch_progress(home, corpus_dir, chromium, artifacts_dir):
    from playwright.async_api import async_playwright, expect

    fill_library(home, corpus_dir, "folk", count=4)
    async with admin_client(home, swap_seconds=1.0) as client, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(str(client.make_url("/admin")))

            # A wrong token is refused and the prompt stays.
            await page.fill("#token", "not-the-token-at-all")
            await page.click("#login-form button")
            await expect(page.locator("#login-error")).to_contain_text("refused")
            await expect(page.locator("#app")).to_be_hidden()

            await page.fill("#token", TOKEN)
            await page.click("#login-form button")
            await expect(page.locator("#app")).to_be_visible()
            row = page.locator("#styles tbody tr", has_text="folk")
            await expect(row).to_have_count(1)
            await expect(row.locator("td").nth(1)).to_have_text("4")

            await row.locator("input[aria-label='epochs for folk']").fill("2")
            await row.locator("input[aria-label='units for folk']").fill("16")
            # A tiny model may well be worse than the bundled one: force it on air.
            await row.get_by_label("force").check()
            await row.locator("button[data-retrain=folk]").click()
            job = page.locator("#jobs tbody tr").first
            await expect(job.locator("td").nth(2)).to_have_text("running", timeout=20_000)
            # Progress arrives over the live feed: the bar moves, the epochs count, the chart draws.
            await expect(job.locator("td").nth(4)).to_have_text(re.compile(r"^[12]/2$"), timeout=90_000)
            assert float(await job.locator("progress").get_attribute("value")) > 0
            await expect(job.locator("td").nth(2)).to_have_text("succeeded", timeout=60_000)
            await expect(job.locator("progress")).to_have_attribute("value", "1")
            assert await page.evaluate(
                "() => { const c = document.querySelector('#loss-chart');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " return d.some((v, i) => i % 4 === 3 && v > 0); }"
            ), "the loss chart drew nothing"
            version = (await job.locator("td").nth(6).inner_text()).split()[0]

            # Versions side by side: the new one active, the bundled one offered as a rollback.
            await row.get_by_role("button", name="Versions & pieces").click()
            versions = page.locator("#versions tbody tr")
            await expect(versions).to_have_count(2)
            await expect(versions.nth(1)).to_contain_text(version)
            await expect(versions.nth(1)).to_contain_text("active")
            await expect(page.locator("#versions thead")).to_contain_text("unigram NLL")
            await expect(page.locator("#pieces tbody tr")).to_have_count(4)
            await page.screenshot(path=str(artifacts_dir / "admin-page.png"), full_page=True)
            await versions.nth(0).get_by_role("button", name="Roll back").click()
            await expect(page.locator("#status")).to_contain_text("activated")
            await expect(versions.nth(0)).to_contain_text("active")

            # The token lives in sessionStorage for this tab only.
            assert await page.evaluate("() => sessionStorage.getItem('continuo-admin-token')") == TOKEN
            assert await page.evaluate("() => localStorage.length") == 0
            assert not errors, errors
        finally:
            await browser.close()
