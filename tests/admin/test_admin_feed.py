"""What the admin page reads from the server, without a browser: the live feed, swap state,
version comparisons, the library's styles, duplicate uploads, and job logs without noise."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from tests.support.admin_helpers import AUTH, admin_client, fill_library, tune
from tests.support.admin_page_helpers import fake_version

from radio.admin.jobs import Job, hide_paths, is_framework_noise
from radio.web.admin_routes import ADMIN


async def read_events(response, until, timeout: float = 20.0) -> list[tuple[str, object]]:
    """(event, data) pairs from an SSE response until ``until(events)`` holds."""
    events, buffer = [], ""
    async with asyncio.timeout(timeout):
        async for chunk in response.content.iter_any():
            buffer += chunk.decode()
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                name = next((line[6:].strip() for line in block.splitlines() if line.startswith("event:")), None)
                data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
                if name and data:
                    events.append((name, json.loads("\n".join(data))))
            if until(events):
                return events
    raise AssertionError(f"the feed never got there: {events}")


def styles_of(events) -> list[dict]:
    return [{s["style"]: s for s in data} for name, data in events if name == "styles"]


async def test_the_feed_starts_with_a_snapshot_and_follows_a_swap(home, tmp_path):
    async with admin_client(home, start=True) as client:
        registry = client.app[ADMIN].service.registry
        version = fake_version(registry, "folk", nll=1.5, heldout_pieces=34, tmp=tmp_path)
        assert (await client.get("/admin/events")).status == 401
        feed = await client.get("/admin/events", headers=AUTH)
        assert feed.headers["Content-Type"].startswith("text/event-stream")
        first = await read_events(feed, lambda ev: len(ev) >= 2)
        assert [name for name, _ in first] == ["styles", "jobs"]
        folk = styles_of(first)[0]["folk"]
        assert folk["on_air"] and folk["swap"] == {"pending": False, "version": None, "eta_seconds": None,
                                                  "expected_at": None, "deadline": None}

        r = await client.post(f"/admin/styles/folk/models/{version}/activate", headers=AUTH, json={"within_seconds": 1})
        answer = await r.json()
        assert r.status == 200 and answer["swap"] == "within 1 s"
        pending = answer["swap_state"]
        assert pending["pending"] and pending["version"] == version and pending["deadline"] == "within_seconds"
        assert 0 <= pending["eta_seconds"] <= 15 and pending["expected_at"]
        # Without anyone asking, the feed says when the new version reaches listeners.
        events = await read_events(feed, lambda ev: any(
            s.get("folk", {}).get("playing_version") == version for s in styles_of(ev)), timeout=30)
        seen = styles_of(events)
        assert any(s["folk"]["swap"]["pending"] for s in seen)
        assert not seen[-1]["folk"]["swap"]["pending"] and seen[-1]["folk"]["active_version"] == version
        feed.close()


async def test_versions_say_how_to_read_them_and_flag_different_heldout_sets(home, tmp_path):
    async with admin_client(home) as client:
        registry = client.app[ADMIN].service.registry
        worse = fake_version(registry, "folk", nll=3.24, heldout_pieces=1, tmp=tmp_path)
        models = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
        labels = {m["key"]: m for m in models["metrics"]}
        assert labels["heldout_nll"]["better"] == "lower" and labels["frame_accuracy"]["better"] == "higher"
        by_version = {v["version"]: v for v in models["versions"]}
        bundled = next(v for v in models["versions"] if v["source"] == "bundled")
        assert models["active_version"] == bundled["version"] and bundled["comparison"] is None
        assert bundled["heldout"]["pieces"] == bundled["heldout"]["pieces"] > 1 and bundled["heldout"]["fingerprint"]
        assert bundled["training"]["pieces"] > 1 and bundled["training"]["stopped_by"]
        new = by_version[worse]
        assert new["heldout"]["pieces"] == 1 and new["heldout"]["beats"] == 100
        c = new["comparison"]
        assert c["against"] == bundled["version"] and c["metric"] == "heldout_nll" and c["verdict"] == "worse"
        assert abs(c["delta"] - (3.24 - bundled["heldout_nll"])) < 1e-9
        assert c["same_heldout"] is False and c["same_measure"] is True
        # The page's figures: the baseline on the same (full) measure as the model's NLL.
        assert new["figures"] == {"heldout_nll": 3.24, "frame_accuracy": 0.2, "baseline_nll": 3.8, "measure": "full"}
        assert bundled["figures"]["measure"] == "full" and bundled["figures"]["baseline_nll"] > bundled["heldout_nll"]
        assert all("path" not in v for v in models["versions"])  # no server paths
        # Rolled forward, the bundled model reads as the better one, on a different set.
        r = await client.post(f"/admin/styles/folk/models/{worse}/activate", headers=AUTH)
        assert r.status == 200
        models = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
        bundled = next(v for v in models["versions"] if v["source"] == "bundled")
        assert bundled["comparison"]["verdict"] == "better" and bundled["comparison"]["same_heldout"] is False


async def test_library_styles_and_honest_duplicates(home, corpus_dir):
    fill_library(home, corpus_dir, "baroque", count=2)
    async with admin_client(home) as client:
        library = await (await client.get("/admin/library", headers=AUTH)).json()
        assert library["styles"] == [{"style": "baroque", "pieces": 2, "beats": library["styles"][0]["beats"]}]
        assert library["pieces_needed"] == 2
        # A file the library holds under another style is a duplicate that does not count here.
        existing = sorted((corpus_dir / "baroque").glob("*.mid"), key=lambda f: f.stat().st_size)[0]
        form = aiohttp.FormData()
        form.add_field("files", existing.read_bytes(), filename="same.mid", content_type="audio/midi")
        form.add_field("files", tune(5), filename="fresh.mid", content_type="audio/midi")
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form)
        report = await r.json()
        assert r.status == 200
        assert [a["filename"] for a in report["accepted"]] == ["fresh.mid"]
        [dup] = report["duplicates"]
        assert dup["filename"] == "same.mid" and dup["piece"]["style"] == "baroque" and dup["counts_here"] is False
        assert report["rejected"] == []
        # Only duplicates: not an error, nothing added.
        form = aiohttp.FormData()
        form.add_field("files", tune(5), filename="fresh-again.mid", content_type="audio/midi")
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form)
        assert r.status == 200 and (await r.json())["duplicates"][0]["counts_here"] is True
        # A new style from a library style that does not exist is refused, naming the real ones.
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "chorales", "from_styles": ["nowhere"]})
        assert r.status == 400 and "baroque" in (await r.json())["error"]
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "chorales", "from_styles": ["baroque"],
                                                                   "description": "Two chorales."})
        created = await r.json()
        assert r.status == 201 and created["pieces"] == 2 and "folder" not in created and "retrain" in created["next"]


def test_the_job_log_keeps_training_lines_and_hides_server_paths():
    job = Job.new("folk", {})
    for line in (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796038324.722388    8591 port.cc:153] oneDNN custom operations are on. You may see...",
        "2024-05-01 10:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized",
        "/srv/continuo/.venv/lib/python3.11/site-packages/keras/src/layers/rnn.py:204: UserWarning: Do not pass an input_shape",
        "  warnings.warn(",
        "epoch 1/2: 100%|██████████| 1/1 [00:03<00:00,  3.09s/batch, loss=3.547, val_loss=3.027]",
        "skipping piece abc (x): cannot read /srv/continuo/var/blobs/midi/ab/abcdef.mid",
    ):
        job.add_log(line)
    assert job.log_tail == [
        "epoch 1/2: 100%|██████████| 1/1 [00:03<00:00,  3.09s/batch, loss=3.547, val_loss=3.027]",
        "skipping piece abc (x): cannot read abcdef.mid",
    ]
    assert is_framework_noise("E0000 00:00:1.2 99 cuda_dnn.cc:8310] Unable to register cuDNN factory")
    job.error = "the trained model was rejected: /home/x/var/models/.jobs/1.npz: bad header"
    assert job.to_dict()["error"] == "the trained model was rejected: 1.npz: bad header"
    assert hide_paths("see http://host:8000/admin/styles") == "see http://host:8000/admin/styles"  # URLs stay


@pytest.mark.train
def test_the_retrain_precheck_matches_the_trainer():
    """The 422 pre-check mirrors trainer/dataset.py: two pieces and more beats than one window."""
    pytest.importorskip("tensorflow")
    from trainer.models import HyperParameters

    from radio.admin.style_service import MIN_TRAIN_BEATS, MIN_TRAIN_PIECES

    assert MIN_TRAIN_PIECES == 2
    assert MIN_TRAIN_BEATS == HyperParameters().window + 1
