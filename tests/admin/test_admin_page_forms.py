"""The admin page in real Chromium, without training: what a new admin meets before and after
the first retrain. Each test names the point of the admin-page issue it covers."""

from __future__ import annotations

import re

import pytest
from tests.support.admin_helpers import AUTH, admin_client, fill_library, tune
from tests.support.admin_page_helpers import PHONE, admin_page, card, fake_version, save_artifact

from radio.admin.jobs import Job
from radio.web.admin_routes import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_a_retrain_that_cannot_work_is_refused_beside_its_button(home):
    from playwright.async_api import expect

    async with admin_client(home) as client, admin_page(client) as (page, console):
        folk = card(page, "folk")
        # "Pieces 0" is explained: the bundled model learnt from a corpus that is not here.
        await expect(folk.locator("[data-f=pieces]")).to_contain_text(re.compile(r"0 in the library.*learnt from \d+ pieces .*not in this library"))
        # The epochs are bounded in the form itself, and the page says so beside the button.
        await folk.get_by_label("Epochs, at most").fill("5000")
        await folk.get_by_role("button", name="Retrain").click()
        await expect(folk.locator("[data-f=feedback]")).to_contain_text("Epochs, at most:")
        await expect(folk.get_by_label("Epochs, at most")).to_be_focused()
        await folk.get_by_label("Epochs, at most").fill("30")
        # Keyboard only: into the budget field, type, Enter submits the card's retrain form.
        await folk.get_by_label("Time budget, minutes").focus()
        await page.keyboard.press("Control+A")
        await page.keyboard.type("1")
        await page.keyboard.press("Enter")
        feedback = folk.locator("[data-f=feedback]")
        await expect(feedback).to_have_attribute("data-kind", "error")
        text = await feedback.inner_text()
        assert "has 0 pieces" in text and "at least 2" in text and "Upload" in text, text
        assert str(home) not in text and "/tmp" not in text
        jobs = await (await client.get("/admin/jobs", headers=AUTH)).json()
        assert jobs == []  # nothing started, no TensorFlow
        await expect(page.locator("#jobs")).to_be_hidden()
        # The feedback offers the way out: the style's pieces, with the upload field focused.
        await feedback.get_by_role("button", name="Add pieces now").click()
        await expect(page.locator("#style-detail")).to_be_visible()
        await expect(page.locator("#upload-files")).to_be_focused()
        await expect(page.locator("#pieces-note")).to_contain_text("needs at least 2")
        assert not console.errors, console.errors
        assert console.refused == [422]


async def test_uploads_report_added_duplicate_and_rejected(home, tmp_path):
    from playwright.async_api import expect

    files = {"new.mid": tune(1), "again.mid": tune(2), "broken.mid": b"MThd-not-really"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    async with admin_client(home) as client:
        first = await client.post("/admin/styles/folk/pieces", headers=AUTH,
                                  data={"files": (tmp_path / "again.mid").open("rb")})
        assert first.status == 200
        async with admin_page(client) as (page, console):
            folk = card(page, "folk")
            await expect(folk.locator("[data-f=pieces]")).to_contain_text("1 in the library")
            await folk.get_by_role("button", name="Versions & pieces").click()
            await expect(page.locator("#pieces tbody tr")).to_have_count(1)
            await page.set_input_files("#upload-files", [str(tmp_path / n) for n in files])
            await page.locator("#upload").get_by_role("button", name="Upload", exact=True).click()
            report = page.locator("#upload-report")
            await expect(report.locator(".feedback")).to_have_text("1 file added, 1 already in the library, 1 rejected.")
            await expect(report.locator("[data-result=added]")).to_have_text("new.mid: added")
            await expect(report.locator("[data-result=duplicate]")).to_contain_text("again.mid: already in the library")
            await expect(report.locator("[data-result=rejected]")).to_contain_text(re.compile(r"broken\.mid: rejected, corrupt"))
            await expect(page.locator("#pieces tbody tr")).to_have_count(2)
            # The card follows over the live feed, with no reload.
            await expect(folk.locator("[data-f=pieces]")).to_contain_text("2 in the library")
            assert not console.errors, console.errors


async def test_a_new_style_from_library_pieces_with_a_description(home, corpus_dir):
    from playwright.async_api import expect

    fill_library(home, corpus_dir, "folk", count=3)
    async with admin_client(home) as client, admin_page(client) as (page, console):
        await page.get_by_text("New style", exact=True).click()
        name = page.locator("#ns-name")
        # The name's own check runs in the browser (the pattern compiles under the v flag).
        assert await page.evaluate("() => { new RegExp(document.querySelector('#ns-name').pattern, 'v'); return true; }")
        await name.fill("Bad Name!")
        assert await page.evaluate("() => document.querySelector('#ns-name').validity.patternMismatch")
        await page.locator("#new-style").get_by_role("button", name="Create style").click()
        feedback = page.locator("#new-style-feedback")
        await expect(feedback).to_contain_text("cannot be a style name")
        await expect(name).to_be_focused()
        assert (await client.get("/admin/styles/bad-name", headers=AUTH)).status in (400, 404)

        await name.fill("folk-mix")
        await page.fill("#ns-display", "Folk mix")
        await page.fill("#ns-description", "Reels and airs, relearnt from the library.")
        await page.locator("#ns-library").get_by_label(re.compile(r"^folk")).check()
        await page.locator("#new-style").get_by_role("button", name="Create style").click()
        await expect(feedback).to_contain_text("Created folk-mix. It learns from 3 pieces: retrain it on its card")
        mix = card(page, "folk-mix")
        await expect(mix.locator(".card-desc")).to_have_text("Reels and airs, relearnt from the library.")
        await expect(mix.locator("[data-f=pieces]")).to_contain_text("3 in the library")
        await expect(mix.locator(".badge")).to_have_text("off air")
        styles = {s["style"]: s for s in await (await client.get("/admin/styles", headers=AUTH)).json()}
        assert styles["folk-mix"]["description"] == "Reels and airs, relearnt from the library."
        assert styles["folk-mix"]["corpus_styles"] == ["folk-mix", "folk"]
        await feedback.get_by_role("button", name="Go to its card").click()
        await expect(mix.locator("button[data-retrain]")).to_be_focused()
        assert not console.errors, console.errors


async def test_worse_version_asks_first_and_the_swap_is_followed_live(home, tmp_path):
    from playwright.async_api import expect

    async with admin_client(home, start=True) as client:
        registry = client.app[ADMIN].service.registry
        worse = fake_version(registry, "folk", nll=3.24, heldout_pieces=1, tmp=tmp_path)
        async with admin_page(client, locale="de-DE", timezone_id="Europe/Berlin") as (page, console):
            folk = card(page, "folk")
            await folk.get_by_role("button", name="Versions & pieces").click()
            rows = page.locator("#versions tbody tr")
            await expect(rows).to_have_count(2)
            head = page.locator("#versions thead")
            await expect(head).to_contain_text("Held-out NLL")
            await expect(head).to_contain_text("lower is better")
            await expect(head).to_contain_text("higher is better")
            bundled, trained = rows.nth(0), rows.nth(1)
            await expect(bundled).to_contain_text("on air")
            await expect(bundled).to_contain_text("34 pieces")
            await expect(trained).to_contain_text("1 piece · 100 beats")
            models = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
            bundled_version = next(v for v in models["versions"] if v["source"] == "bundled")
            best, bundled_id = bundled_version["heldout_nll"], bundled_version["version"]
            await expect(trained).to_contain_text(f"worse by {3.24 - best:.3f}")
            await expect(trained.locator("[data-unreliable]")).to_contain_text("different held-out sets")
            await expect(trained).to_contain_text("5 epochs, stopped early")
            # Times in the reader's locale, relative.
            created = trained.locator("time")
            await expect(created).to_have_text(re.compile(r"^(jetzt|vor \d+ Sekunden?)$"))
            assert re.search(r"\d{2}\.\d{2}\.\d{4}|\d{1,2}\. \w+\.? \d{4}", await created.get_attribute("title"))

            # Activating a worse version asks first; declining changes nothing.
            await trained.get_by_role("button", name="Put on air").click()
            confirm = trained.locator(".confirm")
            await expect(confirm).to_contain_text(f"scores worse than the active one: Held-out NLL 3.240 against {best:.3f}")
            await expect(confirm).to_contain_text("different held-out sets")
            await expect(confirm.get_by_role("button", name="Put it on air anyway")).to_be_focused()
            await page.keyboard.press("Escape")
            await expect(confirm).to_have_count(0)
            await expect(page.locator("#versions-feedback")).to_contain_text(f"Kept {bundled_id} on air")
            models = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
            assert models["active_version"] != worse

            # Now yes, with a swap deadline: the page says when, then follows the swap on its own.
            await page.get_by_label("within").check()
            await page.fill("#swap-seconds", "1")
            await trained.get_by_role("button", name="Put on air").click()
            await trained.get_by_role("button", name="Put it on air anyway").click()
            await expect(page.locator("#versions-feedback")).to_contain_text(f"{worse} is now the active version of folk")
            await expect(folk.locator("[data-f=playing]")).to_contain_text(worse, timeout=30_000)
            await expect(page.locator("#versions tbody tr").nth(1)).to_contain_text("on air", timeout=30_000)
            await expect(page.locator("#swap-now")).to_be_hidden()
            # Rolling back to the better bundled model asks nothing.
            await page.locator("#versions tbody tr").nth(0).get_by_role("button", name="Roll back to this").click()
            await expect(page.locator("#versions-feedback")).to_contain_text(f"{bundled_id} is now the active version")
            assert not console.errors, console.errors


async def test_a_stopped_early_job_is_explained_on_a_phone(home):
    from playwright.async_api import expect

    async with admin_client(home) as client:
        service = client.app[ADMIN].service
        job = Job.new("folk", {"epochs": 20, "minutes": 3.0})
        job.state, job.progress, job.epoch, job.epochs = "succeeded", 1.0, 5, 20
        job.stopped_by, job.epochs_run, job.best_epoch = "early stopping", 5, 1
        job.history = [{"epoch": e, "loss": 3.0 - 0.1 * e, "val_loss": 2.0 + 0.05 * e, "elapsed_s": e} for e in range(1, 6)]
        job.model_version, job.activated, job.activation_reason = "abcdef123456", False, "held-out NLL 3.2400 > 1.6290 of the active 89a390c081eb"
        for line in ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                     "I0000 00:00:1796038324.722388    8591 port.cc:153] oneDNN custom operations are on.",
                     "epoch 5/20: 100%|##########| 3/3 [00:01<00:00, loss=2.500, val_loss=2.250]"):
            job.add_log(line)
        job.started_at = job.created_at
        service.store.save(job)
        async with admin_page(client, viewport=PHONE) as (page, console):
            row = page.locator(f"#jobs tr[data-job='{job.id}']")
            await expect(row).to_contain_text("done")
            await row.get_by_role("button", name="Details").click()
            outcome = page.locator("#job-outcome")
            await expect(outcome).to_contain_text("Stopped early at epoch 5 of at most 20: validation loss stopped improving.")
            await expect(outcome).to_contain_text("The weights of epoch 1, the best on validation, were kept.")
            await expect(outcome).to_contain_text("kept off air: its held-out NLL 3.2400 is worse than 1.6290")
            await expect(page.locator("#job-log")).to_have_text("epoch 5/20: 100%|##########| 3/3 [00:01<00:00, loss=2.500, val_loss=2.250]")
            # The page fits a phone: nothing wider than the screen.
            assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            shot = page.locator("#job-detail")
            await shot.scroll_into_view_if_needed()
            path = home / "phone-job.png"
            await page.screenshot(path=str(path), full_page=True)
            save_artifact(path, "admin-phone-stopped-early.png")
            assert not console.errors, console.errors


async def test_keyboard_reaches_every_control_with_a_name_and_a_visible_focus(home):
    from playwright.async_api import expect

    async with admin_client(home) as client, admin_page(client) as (page, console):
        await page.get_by_text("New style", exact=True).click()
        await page.locator("button[data-open=folk]").click()
        await expect(page.locator("#style-detail")).to_be_visible()
        # Every field and button has a name a screen reader can say.
        unnamed = await page.evaluate("""() => [...document.querySelectorAll('#app input, #app select, #app textarea, #app button')]
            .filter((n) => n.offsetParent !== null)
            .filter((n) => !(n.labels && n.labels.length) && !n.getAttribute('aria-label') && !n.textContent.trim())
            .map((n) => n.outerHTML)""")
        assert unnamed == [], unnamed
        # The first Tab finds the skip link; following it lands on the styles, then the first card's fields.
        await page.reload()  # the tab keeps its token: signed in again at once
        await expect(page.locator("#style-cards li")).not_to_have_count(0)
        await page.keyboard.press("Tab")
        await expect(page.locator(".skip-link")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#styles-heading")).to_be_focused()
        await page.keyboard.press("Tab")
        first = await page.evaluate("() => document.activeElement.id")
        assert first.startswith("style-") and first.endswith("-minutes"), first
        for _ in range(2):  # the epochs bound, then the button
            await page.keyboard.press("Tab")
        retrain = page.locator(":focus")
        await expect(retrain).to_have_text("Retrain")
        outline = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "a focused control must show where the focus is"
        assert not console.errors, console.errors
