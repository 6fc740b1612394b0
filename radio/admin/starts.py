"""Where a retrain starts: the model on air, the bundled base model, or scratch.

A retrain asks for ``start``:

- ``auto`` (the default): fine-tune from the style's active model (an activated version, or the
  bundled ``styles/<style>/model.npz``) when it is a ``token`` model, the retrain trains a token
  model and asks for no other ``hidden`` size; otherwise from the bundled base model
  (``styles/base/model.npz``, a folder without a style.toml, so not a channel) when it exists and
  fits; otherwise from scratch. A style created from uploads has no model yet: it starts from the
  base.
- ``active`` / ``base``: that model, or a 409 saying why it cannot be (missing, another model
  kind, other sizes, or it has trained on every piece the style holds).
- ``scratch``: fresh weights.

A start "fits" when the trainer can load its weights into the model it builds (same kind, same
LSTM size and layers) and when it has not trained on every piece of the style: the trainer never
holds out a piece its starting model learnt from, so such a run would have nothing left to
measure the new version on.

Whatever the start, the style's active model (of any kind) is scored on the new run's held-out
pieces (``continuo train --compare-with``), so that activation compares the two on equal terms
(:func:`radio.admin.versions.should_activate`).

The start is chosen twice, by the same function: when the request arrives (so an impossible
``active``/``base`` is refused at once, and the job shows what it will do) and when the job
really starts, on whichever machine trains it (the active model may have changed meanwhile; a
worker fetches it from the shared store like any version).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from radio.admin.errors import Conflict
from radio.admin.jobs import hide_paths
from radio.admin.versions import VersionRegistry
from radio.errors import ModelFileError
from radio.library import Library
from radio.model.kinds import DEFAULT_KIND, kind
from radio.model.lineage import BASE_STYLE, base_model_path, seen_key, seen_pieces
from radio.styles import Style

START_OPTIONS = ("auto", "active", "base", "scratch")
AUTO, ACTIVE, BASE, SCRATCH = START_OPTIONS
# The sizes `continuo train` builds (trainer.models.HyperParameters), of which a retrain may only
# set ``hidden``: a starting model must have the others too, or its weights do not fit.
TRAINER_HIDDEN = 256
TRAINER_LAYERS = 2
TRAINER_EMBEDDING = 64  # models of an ``embedded`` kind (token) only
ROLE_WORDS = {ACTIVE: "the model on air", BASE: "the base model"}


@dataclass(frozen=True)
class Candidate:
    """A model a retrain could start from, as far as choosing needs to know it."""

    role: str  # ACTIVE | BASE
    path: Path
    version: str
    encoding: str
    hidden: int | None
    layers: int
    embedding: int | None
    seen: frozenset[str]  # seen_key() of every piece it (or a model it started from) trained on

    @property
    def words(self) -> str:
        return f"{ROLE_WORDS[self.role]} ({self.version})"


def read_candidate(role: str, path: Path | None) -> Candidate | None:
    """The model file at ``path`` as a start; None if there is none. Raises ModelFileError if it
    is there but cannot be read."""
    from radio.model.modelfile import read_model_file

    if path is None or not Path(path).is_file():
        return None
    header, arrays, version = read_model_file(path)
    layers = sum(1 for name in arrays if name.startswith("lstm") and name.endswith("_recurrent"))
    recurrent = arrays.get("lstm0_recurrent")
    embedding = arrays.get("embedding")
    return Candidate(
        role=role, path=Path(path), version=version, encoding=str(header.get("encoding")),
        hidden=int(recurrent.shape[0]) if recurrent is not None and recurrent.ndim == 2 else None,
        layers=layers, embedding=int(embedding.shape[1]) if embedding is not None and embedding.ndim == 2 else None,
        seen=seen_pieces(header),
    )


def requested_kind(options: dict[str, Any]) -> str:
    return str(options.get("model") or DEFAULT_KIND)


def requested_hidden(options: dict[str, Any]) -> int | None:
    hidden = (options.get("hyperparameters") or {}).get("hidden")
    return int(hidden) if isinstance(hidden, int) and not isinstance(hidden, bool) else None


def misfit(candidate: Candidate, options: dict[str, Any], pieces: Collection[str] | None = None) -> str | None:
    """Why the trainer could not start this retrain from ``candidate`` (None: it can).

    ``pieces``: the sha256 of every library piece the style trains on, when known."""
    wanted = requested_kind(options)
    if candidate.encoding != wanted:
        return f"it is a {candidate.encoding} model and this retrain trains a {wanted} model"
    hidden = requested_hidden(options)
    if hidden is not None and candidate.hidden != hidden:
        return f"it has {candidate.hidden} LSTM units per layer and this retrain asks for {hidden}"
    if candidate.layers != TRAINER_LAYERS:
        return f"it has {candidate.layers} LSTM layers and the trainer builds {TRAINER_LAYERS}"
    if kind(wanted).embedded and candidate.embedding != TRAINER_EMBEDDING:
        return f"its token embedding has {candidate.embedding} dimensions and the trainer builds {TRAINER_EMBEDDING}"
    if pieces and all(seen_key(sha) in candidate.seen for sha in pieces):
        return (f"it has already trained on all {len(pieces)} pieces this style learns from, so none could be held "
                "out to measure the new version")
    return None


@dataclass
class Start:
    """The start a retrain uses, and why (what ``auto`` passed over)."""

    requested: str
    source: str  # ACTIVE | BASE | SCRATCH
    version: str | None = None
    path: Path | None = None  # this machine's file: never shown
    hidden: int | None = None  # the starting model's LSTM size, which the trainer must build
    passed_over: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.source == ACTIVE:
            return f"fine-tuned from the active version {self.version}"
        if self.source == BASE:
            return f"fine-tuned from the base model {self.version}"
        return "from scratch"

    def to_dict(self) -> dict[str, Any]:
        """What the job records (and the page shows): no file paths."""
        return {"requested": self.requested, "from": self.source, "version": self.version, "label": self.label,
                "passed_over": list(self.passed_over)}


def choose_start(requested: str, options: dict[str, Any], *, active: Candidate | None, base: Candidate | None,
                 pieces: Collection[str] | None = None, unreadable: dict[str, str] | None = None) -> Start:
    """Pick the start of a retrain (see the module's docstring). Raises Conflict when an
    explicitly requested start does not exist or does not fit.

    ``unreadable``: role -> why its file could not be read (treated as missing, with the reason)."""
    unreadable = unreadable or {}
    if requested not in START_OPTIONS:
        raise ValueError(f"start must be one of {', '.join(START_OPTIONS)}, not {requested!r}")
    if requested == SCRATCH:
        return Start(requested, SCRATCH)
    if requested in (ACTIVE, BASE):
        candidate = active if requested == ACTIVE else base
        if candidate is None:
            missing = unreadable.get(requested) or (
                "the style has no model on air yet" if requested == ACTIVE
                else "this server has no base model (styles/base/model.npz)")
            raise Conflict(f"cannot fine-tune from {ROLE_WORDS[requested]}: {missing}; "
                           "choose another start (auto, active, base or scratch)")
        why = misfit(candidate, options, pieces)
        if why:
            raise Conflict(f"cannot fine-tune from {candidate.words}: {why}; choose another start (auto, active, base or scratch)")
        return Start(requested, requested, candidate.version, candidate.path, candidate.hidden)

    passed: list[str] = []
    if active is None:
        passed.append(f"{ROLE_WORDS[ACTIVE]}: {unreadable.get(ACTIVE) or 'the style has none yet'}")
    elif active.encoding != DEFAULT_KIND or requested_kind(options) != DEFAULT_KIND:
        passed.append(f"{active.words}: auto fine-tunes token models only, and "
                      + (f"it is a {active.encoding} model" if active.encoding != DEFAULT_KIND
                         else f"this retrain trains a {requested_kind(options)} model"))
    elif why := misfit(active, options, pieces):
        passed.append(f"{active.words}: {why}")
    else:
        return Start(AUTO, ACTIVE, active.version, active.path, active.hidden, passed)
    if base is None:
        passed.append(f"{ROLE_WORDS[BASE]}: {unreadable.get(BASE) or 'none is bundled here'}")
    elif why := misfit(base, options, pieces):
        passed.append(f"{base.words}: {why}")
    else:
        return Start(AUTO, BASE, base.version, base.path, base.hidden, passed)
    return Start(AUTO, SCRATCH, passed_over=passed)


@dataclass
class TrainPlan:
    """What a retrain's trainer is told beyond the request: where it starts, and which model
    (the one on air) it scores on its held-out pieces for a fair comparison."""

    start: Start
    compare_with: Path | None = None
    compare_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job's ``start``: where it started and which version it was compared with."""
        return {**self.start.to_dict(), "compare_with": self.compare_version}


def plan_training(registry: VersionRegistry, style: Style, options: dict[str, Any], *, base_path: Path | None,
                  pieces: Collection[str] | None = None) -> TrainPlan:
    """Choose the start of a retrain of ``style`` (a Style, or a name the registry knows) and
    find the files: the active version's comes through the registry, so a worker fetches it from
    the shared store. Raises Conflict (see :func:`choose_start`); LibraryError when the shared
    store cannot be reached."""
    unreadable: dict[str, str] = {}
    current = registry.active(style)
    active_path: Path | None = None
    active = None
    if current is not None:
        try:
            active_path = registry.fetch(current)
            active = read_candidate(ACTIVE, active_path)
            if active is None:
                unreadable[ACTIVE] = f"the file of version {current.version} is missing"
        except ModelFileError as exc:
            unreadable[ACTIVE] = f"version {current.version} cannot be read ({hide_paths(str(exc))})"
            active_path = None
    base = None
    try:
        base = read_candidate(BASE, base_path)
    except ModelFileError as exc:
        unreadable[BASE] = f"the bundled base model cannot be read ({hide_paths(str(exc))})"
    start = choose_start(str(options.get("start") or AUTO), options, active=active, base=base, pieces=pieces,
                         unreadable=unreadable)
    compare = active_path if active is not None else None
    return TrainPlan(start, compare, active.version if active is not None else None)


def library_pieces(library: Library, corpus_styles: Collection[str]) -> set[str]:
    """The sha256 of every piece the library holds for these library styles."""
    return {p.sha256 for s in corpus_styles for p in library.catalog.list_pieces(s) if p.sha256}
