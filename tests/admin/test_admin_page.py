"""The admin page in Debian's headless Chromium with a real (tiny) training job: sign in,
retrain with a budget, watch it live, read the result, compare, and put it on air or not.
Screenshots at laptop and phone width go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from tests.support.admin_helpers import AUTH, TOKEN, admin_client, fill_library
from tests.support.admin_page_helpers import LAPTOP, PHONE, admin_page, card, save_artifact

pytestmark = [pytest.mark.browser, pytest.mark.train, pytest.mark.slow]


async def test_sign_in_retrain_with_a_budget_and_read_the_result(home, corpus_dir):
    from playwright.async_api import expect

    pytest.importorskip("tensorflow")
    fill_library(home, corpus_dir, "folk", count=4)
    async with admin_client(home, swap_seconds=1.0) as client:
        async with admin_page(client, sign_in=False) as (page, console):
            # Signed out, nothing of the signed-in page shows.
            await expect(page.locator("#logout")).to_be_hidden()
            await expect(page.locator("#live")).to_be_hidden()
            # A wrong token is refused and the prompt stays.
            await page.fill("#token", "not-the-token-at-all")
            await page.click("#login-form button")
            await expect(page.locator("#login-error")).to_contain_text("refused")
            await expect(page.locator("#app")).to_be_hidden()
            await page.fill("#token", TOKEN)
            await page.click("#login-form button")
            await expect(page.locator("#app")).to_be_visible()
            await expect(page.locator("#live")).to_have_attribute("data-state", "on")

            folk = card(page, "folk")
            await expect(folk.locator("[data-f=pieces]")).to_contain_text("4 in the library")
            # A budget in minutes and a bound on epochs; a tiny network (More options).
            await folk.get_by_label("Time budget, minutes").fill("2")
            await folk.get_by_label("Epochs, at most").fill("2")
            await folk.get_by_text("More options").click()
            await folk.get_by_label("LSTM units per layer").fill("16")
            await folk.get_by_role("button", name="Retrain").click()
            await expect(folk.locator("[data-f=feedback]")).to_contain_text("at most 2 epochs within 2 min")

            # Progress arrives over the live feed: the job row, the card and the chart.
            job = page.locator("#jobs tbody tr").first
            await expect(job.locator("td").nth(2)).to_have_text(re.compile("training|done"), timeout=30_000)
            await expect(job.locator("td").nth(4)).to_have_text(re.compile(r"^[12]/2$"), timeout=90_000)
            await expect(job.locator("td").nth(2)).to_have_text("done", timeout=90_000)
            await expect(job.locator("progress")).to_have_attribute("value", "1")
            assert await page.evaluate(
                "() => { const c = document.querySelector('#loss-chart');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " return d.some((v, i) => i % 4 === 3 && v > 0); }"
            ), "the loss chart drew nothing"

            # The result in words: how training ended and what became of the new version.
            outcome = page.locator("#job-outcome")
            await expect(outcome).to_contain_text(re.compile(r"Ran all 2 epochs|Stopped early at epoch"))
            jobs = await (await client.get("/admin/jobs", headers=AUTH)).json()
            done = jobs[0]
            assert done["state"] == "succeeded" and done["stopped_by"] in ("epochs", "early stopping"), done
            version = done["model_version"]
            if done["activated"]:
                await expect(outcome).to_contain_text(f"Version {version} is on air")
            else:
                # Kept off air by the fair rule: the bundled model is scored on the new version's own
                # held-out piece (which it trained on, so the two are not comparable), or it does better there.
                await expect(outcome).to_contain_text(re.compile(
                    f"Version {version} was kept off air: (no fair comparison with the active|held-out NLL per beat)"))
            # Where it started: 16 units fit neither the model on air nor the base, so from scratch.
            await expect(page.locator("#job-start")).to_contain_text("From scratch (chosen automatically")
            await expect(folk.locator("[data-f=feedback]")).to_contain_text("Training done.")
            # The log tail is training's own lines: no TensorFlow start-up noise, no internal command.
            log = await page.locator("#job-log").inner_text()
            assert "epoch 2/2" in log, log
            for noise in ("absl", "oneDNN", "radio.cli", "--progress-jsonl", str(home)):
                assert noise not in log, (noise, log)

            # Versions side by side, labelled, with the held-out sets' sizes.
            await folk.get_by_role("button", name="Versions & pieces").click()
            versions = page.locator("#versions tbody tr")
            await expect(versions).to_have_count(2)
            trained = page.locator(f"#versions tr[data-version='{version}']")
            await expect(trained).to_contain_text("1 piece")  # 4 pieces: 1 held out
            await expect(trained).to_contain_text("2 epochs")
            await expect(page.locator("#versions thead")).to_contain_text("lower is better")
            await expect(page.locator("#metrics-legend")).to_contain_text("not a fair comparison")
            if not done["activated"]:
                await expect(trained.locator("[data-unreliable]")).to_contain_text("different held-out sets")
            await expect(page.locator("#pieces tbody tr")).to_have_count(4)

            await page.screenshot(path=str(home / "laptop.png"), full_page=True)
            save_artifact(home / "laptop.png", "admin-laptop.png")
            await page.set_viewport_size(PHONE)
            # Rows stack on a phone, each cell labelled by its column.
            assert await page.evaluate("() => getComputedStyle(document.querySelector('#versions tbody td')).display") == "flex"
            assert await page.evaluate(
                "() => getComputedStyle(document.querySelector('#versions tbody td'), '::before').content") == '"Version"'
            assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            await page.screenshot(path=str(home / "phone.png"), full_page=True)
            save_artifact(home / "phone.png", "admin-phone.png")
            await page.locator("#job-detail").screenshot(path=str(home / "phone-job.png"))
            save_artifact(home / "phone-job.png", "admin-phone-job.png")
            await page.set_viewport_size(LAPTOP)

            # The token lives in sessionStorage for this tab only.
            assert await page.evaluate("() => sessionStorage.getItem('continuo-admin-token')") == TOKEN
            assert await page.evaluate("() => localStorage.length") == 0
            assert not console.errors, console.errors
