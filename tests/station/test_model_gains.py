"""A model registered from a training job has its loudness measured, for a swap at -16 LUFS."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from radio.station.calibration import ModelGains, gain_file, sound_key
from radio.model import load_model
from radio.styles import discover_styles

STYLES = discover_styles()


async def test_registering_a_trained_model_measures_its_gain(tmp_path):
    from radio.admin.jobs import Job
    from radio.admin.versions import VersionRegistry, register_trained

    style = STYLES["classical"]
    trained = tmp_path / "scratch" / "model.npz"
    trained.parent.mkdir()
    shutil.copyfile(STYLES["folk"].model_path, trained)  # "retrained": another model for the style
    (tmp_path / "home").mkdir()
    registry = VersionRegistry(tmp_path / "home", shared=None)
    try:
        job = Job(id="job-1", style="classical")
        await register_trained(registry, style, job, {"model_path": str(trained), "metrics": {}})
        version = registry.find(style, job.model_version)
        path = Path(version.path)
        doc = json.loads(gain_file(path).read_text())
        assert doc["model"] == job.model_version and doc["sound"] == sound_key(style)
        # A channel swapping to it reads that gain instead of measuring again or guessing.
        gains = ModelGains(style)
        assert gains.known(job.model_version) is None
        assert gains.learn(load_model(path)) == doc["gain_db"]
        assert abs(doc["gain_db"] - style.loudness_gain_db) > 1.0  # it differs from the style's own
    finally:
        registry.close()


def test_a_gain_measured_for_another_sound_is_not_used(tmp_path):
    import dataclasses

    from radio.station.calibration import record_model_gain

    style = STYLES["classical"]
    model_path = tmp_path / "m.npz"
    shutil.copyfile(STYLES["folk"].model_path, model_path)
    record_model_gain(style, model_path)
    other_room = dataclasses.replace(style, room=dataclasses.replace(style.room, wet=0.5))
    assert ModelGains(other_room)._read(load_model(model_path)) is None  # stale: measured for another sound
    assert ModelGains(style)._read(load_model(model_path)) is not None
