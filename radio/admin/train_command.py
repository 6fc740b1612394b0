"""The trainer child: what a retrain asks of it (the request's options, checked), the
``continuo train`` flags they become, the environment it runs in, and how it is killed (its
process group; a leftover of a previous server only when its command line proves it ours).
Shared by the in-process runner and ``continuo worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
from pathlib import Path
from typing import Any

from radio.admin.errors import BadRequest
from radio.admin.jobs import Job
from radio.admin.starts import START_OPTIONS, TrainPlan

KILL_GRACE_SECONDS = 5.0
SCRATCH_DIR = Path("models") / ".jobs"  # where a job's trainer writes its model
MAX_EPOCHS = 1000
MAX_MINUTES = 24 * 60.0
# name -> (lowest, highest): each is passed to `continuo train` as --<name> <value>.
HYPERPARAMETERS = {"hidden": (1, 2048), "stride": (1, 4096), "seed": (0, 2**31 - 1)}
MODEL_KIND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
RETRAIN_KEYS = {"epochs", "minutes", "model", "hyperparameters", "force", "start"}
# The trainer's own threads stay small so the synth and the encoders keep a core.
TRAINER_THREADS = 1
TRAINER_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONUNBUFFERED": "1",
}
# What the trainer may inherit from the server's environment, and nothing else: the server's
# own secrets (CONTINUO_ADMIN_TOKEN, CONTINUO_ICECAST_URL with its password, cloud keys)
# have no business in a child that runs a long job.
INHERITED_ENV = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV",
    "CONTINUO_STYLES", "CUDA_VISIBLE_DEVICES", "MPLCONFIGDIR", "MPLBACKEND",
})


def trainer_env(environ: dict[str, str] | os._Environ, extra: dict[str, str]) -> dict[str, str]:
    """The trainer child's whole environment: the allowed part of ``environ``, our thread
    settings and ``extra`` (the style's own settings)."""
    kept = {k: v for k, v in environ.items() if k in INHERITED_ENV or k.startswith("LC_")}
    return {**kept, **TRAINER_ENV, **extra}


def parse_retrain_options(body: Any) -> dict[str, Any]:
    """Check a retrain request body; raise BadRequest naming the bad field."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("the retrain body must be a JSON object")
    unknown = set(body) - RETRAIN_KEYS
    if unknown:
        raise BadRequest(f"unknown retrain option(s) {sorted(unknown)}; allowed: {sorted(RETRAIN_KEYS)}")
    options: dict[str, Any] = {}
    if body.get("epochs") is not None:
        epochs = body["epochs"]
        if not isinstance(epochs, int) or isinstance(epochs, bool) or not 1 <= epochs <= MAX_EPOCHS:
            raise BadRequest(f"epochs must be an integer from 1 to {MAX_EPOCHS}, not {epochs!r}")
        options["epochs"] = epochs
    if body.get("minutes") is not None:
        minutes = body["minutes"]
        if (not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not math.isfinite(minutes)
                or not 0 < minutes <= MAX_MINUTES):
            raise BadRequest(f"minutes must be a number above 0 and at most {MAX_MINUTES:g}, not {minutes!r}")
        options["minutes"] = float(minutes)
    if body.get("model") is not None:
        kind = body["model"]
        if not isinstance(kind, str) or not MODEL_KIND.match(kind):
            raise BadRequest(f"model must be a model kind name like 'lstm', not {kind!r}")
        options["model"] = kind
    hyper = body.get("hyperparameters")
    if hyper is not None:
        if not isinstance(hyper, dict):
            raise BadRequest(f"hyperparameters must be a JSON object with any of {sorted(HYPERPARAMETERS)}")
        for key, value in hyper.items():
            if key not in HYPERPARAMETERS:
                raise BadRequest(f"unknown hyperparameter {key!r}; the trainer takes {sorted(HYPERPARAMETERS)}")
            low, high = HYPERPARAMETERS[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise BadRequest(f"hyperparameter {key!r} must be an integer from {low} to {high}, not {value!r}")
        options["hyperparameters"] = dict(hyper)
    if body.get("force") is not None:
        if not isinstance(body["force"], bool):
            raise BadRequest(f"force must be true or false, not {body['force']!r}")
        options["force"] = body["force"]
    if body.get("start") is not None:
        if body["start"] not in START_OPTIONS:
            raise BadRequest(f"start must be one of {', '.join(map(repr, START_OPTIONS))}, not {body['start']!r}")
        options["start"] = body["start"]
    return options


def train_arguments(options: dict[str, Any], plan: TrainPlan | None = None) -> list[str]:
    """The ``continuo train`` flags for a job's options and, when given, its plan: the model it
    fine-tunes from (built at that model's size unless the request names one) and the model on
    air, scored on the run's held-out pieces."""
    args: list[str] = []
    if "epochs" in options:
        args += ["--epochs", str(options["epochs"])]
    if "minutes" in options:
        args += ["--minutes", f"{options['minutes']:g}"]
    if "model" in options:
        args += ["--model", options["model"]]
    hyper = options.get("hyperparameters") or {}
    for key, value in sorted(hyper.items()):
        args += [f"--{key}", str(value)]
    if plan is not None and plan.start.path is not None:
        args += ["--init-from", str(plan.start.path)]
        if "hidden" not in hyper and plan.start.hidden:
            args += ["--hidden", str(plan.start.hidden)]
    if plan is not None and plan.compare_with is not None:
        args += ["--compare-with", str(plan.compare_with)]
    return args


def kill_leftover_trainer(job: Job, home: Path) -> bool:
    """Kill the trainer of a job that a previous server left running, if it still runs.

    The process group is only killed when its leader's command line is this job's
    ``radio.cli train`` with this job's scratch file, so a reused pid is never hit."""
    if not job.pid:
        return False
    scratch = str(Path(home) / SCRATCH_DIR / f"{job.id}.npz")
    try:
        cmdline = Path(f"/proc/{job.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode("utf-8", "replace") for a in cmdline]
    if "radio.cli" not in args or "train" not in args or scratch not in args:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(job.pid, signal.SIGKILL)
        return True
    return False


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the process group, give it a moment, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), KILL_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children the trainer spawned share its group
    await proc.wait()
