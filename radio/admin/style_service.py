"""The admin's styles: the bundled ones, those created here (in the data dir) and the live
channels'; creating and editing a style (its ``style.toml``) and what the trainer needs to find it.

A style created here lives in ``$CONTINUO_HOME/styles/<name>/style.toml``, never in the
repository, and in the shared :class:`radio.style_file.StyleStore`, from which every other
radio node copies it into its own data dir (:mod:`radio.admin.style_follow`). It travels with
its retrain job as text (:meth:`StyleService.spec`) so that a ``continuo worker`` elsewhere can
train it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping

from radio.admin.errors import BadRequest, Conflict, NotFound
from radio.admin.feed import AdminFeed
from radio.admin.uploads import Upload, ingest_files, mark_duplicates
from radio.errors import StyleError
from radio.library import Library
from radio.library.storage_config import storage_env
from radio.library.store_threads import in_store_thread
from radio.model.lineage import BASE_STYLE
from radio.style_file import STYLE_FILE, StyleStore, StyleTaken, write_style
from radio.config import styles_dir
from radio.styles import Style, check_style_name, discover_styles

log = logging.getLogger("radio.admin")

HOME_STYLES_DIR = "styles"
# What the trainer needs before it can start (trainer/dataset.py): two pieces, one to learn
# from and one to hold out, and more beats than one 128-beat training window. A retrain
# below this is refused up front instead of failing seconds later inside TensorFlow.
MIN_TRAIN_PIECES = 2
MIN_TRAIN_BEATS = 129
STYLE_FIELDS = ("name", "display_name", "description", "composer", "from_styles", "like",
                "tempo_bpm", "temperature", "piece_minutes")
# What an edit (PATCH /admin/styles/<name>) may change, and its key in style.toml.
EDIT_FIELDS = {"display_name": "name", "description": "description", "tempo_bpm": "tempo_bpm",
               "temperature": "temperature", "top_p": "top_p", "piece_minutes": "piece_minutes",
               "instrument": "instrument", "form": "form"}
NUMBER_RANGES = {"tempo_bpm": (20, 300), "temperature": (0.05, 5), "top_p": (0.01, 1), "piece_minutes": (0.1, 60)}


class StyleService:
    def __init__(self, home: Path, bundled_root: Path | None, library: Library, feed: AdminFeed,
                 live_styles: Callable[[], Mapping[str, Style]], lock: asyncio.Lock, store: StyleStore) -> None:
        self.bundled_root = bundled_root
        self.home_styles = Path(home) / HOME_STYLES_DIR
        self.library = library
        self.store = store  # where the styles created here are shared with every node
        self.feed = feed
        self.live_styles = live_styles  # the styles of the channels on air, by name
        self.lock = lock  # shared with activations: a style is created or put on air one at a time

    def all_styles(self) -> dict[str, Style]:
        """Bundled styles, then styles created here (in the data dir), then live channels."""
        found = dict(discover_styles(self.bundled_root))
        for name, style in discover_styles(self.home_styles).items():
            found.setdefault(name, style)
        for name, style in self.live_styles().items():
            found.setdefault(name, style)
        return found

    def style(self, name: str) -> Style:
        try:
            check_style_name(name)
        except StyleError as exc:
            raise BadRequest(str(exc)) from exc
        style = self.all_styles().get(name)
        if style is None:
            raise NotFound(f"unknown style {name!r}")
        return style

    def is_home_style(self, name: str) -> bool:
        return (self.home_styles / name / STYLE_FILE).is_file() and not self.is_bundled(name)

    def is_bundled(self, name: str) -> bool:
        return (Path(self.bundled_root or styles_dir()) / name / STYLE_FILE).is_file()

    def piece_counts(self) -> dict[str, tuple[int, int]]:
        """Library style -> (pieces, beats)."""
        counts: dict[str, tuple[int, int]] = {}
        for piece in self.library.catalog.list_pieces():
            n, beats = counts.get(piece.style, (0, 0))
            counts[piece.style] = (n + 1, beats + piece.beats)
        return counts

    async def library_styles(self) -> dict[str, Any]:
        """The library's own styles (where pieces are filed) with their sizes: what a new
        style can be built from (``from_styles``)."""
        counts = await in_store_thread(self.piece_counts)
        return {"styles": [{"style": name, "pieces": n, "beats": beats} for name, (n, beats) in sorted(counts.items())],
                "pieces_needed": MIN_TRAIN_PIECES}

    async def create(self, fields: dict[str, Any], upload: Upload | None = None) -> dict[str, Any]:
        unknown = set(fields) - set(STYLE_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field(s) {sorted(unknown)}; allowed: {list(STYLE_FIELDS)}")
        name = str(fields.get("name") or "")
        try:
            check_style_name(name)
        except StyleError as exc:
            raise BadRequest(str(exc)) from exc
        if name == BASE_STYLE:  # `continuo train --style base` trains on every library style
            raise BadRequest(f"style name {name!r} is reserved for the shared base model every style fine-tunes; choose another")
        from_styles = fields.get("from_styles") or []
        if isinstance(from_styles, str):
            from_styles = [s.strip() for s in from_styles.split(",") if s.strip()]
        if not isinstance(from_styles, list):
            raise BadRequest("from_styles must be a list of library style names")
        for s in from_styles:
            try:
                check_style_name(str(s))
            except StyleError as exc:
                raise BadRequest(f"from_styles: {exc}") from exc
        if from_styles:
            counts = await in_store_thread(self.piece_counts)
            empty = [s for s in from_styles if s not in counts]
            if empty:
                known = ", ".join(sorted(counts)) or "none yet: upload MIDI files instead"
                raise BadRequest(f"from_styles: the library has no pieces filed under {', '.join(map(repr, empty))} "
                                 f"(library styles: {known})")
        composer = str(fields.get("composer") or "").strip()
        base = self.style(str(fields["like"])) if fields.get("like") else next(iter(self.all_styles().values()), None)
        settings = {
            "tempo_bpm": number(fields, "tempo_bpm", base.tempo_bpm if base else 96.0, 20, 300),
            "temperature": number(fields, "temperature", base.temperature if base else 1.0, 0.05, 5),
            "piece_minutes": number(fields, "piece_minutes", base.piece_minutes if base else 4.0, 0.1, 60),
        }
        async with self.lock:
            if name in self.all_styles():
                raise Conflict(f"style {name!r} already exists")
            matches = []
            if composer:
                matches = await in_store_thread(self.library.catalog.list_pieces, None, composer)
                if not matches:
                    raise BadRequest(f"no pieces in the catalog by composer {composer!r}")
            # The trainer selects pieces by library style; the composer filter is recorded in
            # [corpus] composers, and the styles holding that composer's pieces are included.
            source_styles = sorted({p.style for p in matches} | set(from_styles))
            accepted, duplicates, rejected = [], [], list(upload.rejected if upload else [])
            if upload and upload.files:
                accepted, duplicates, bad = await ingest_files(self.library, name, upload.files, composer=composer)
                rejected += bad
            folder = self.home_styles / name
            try:
                await in_store_thread(lambda: write_style_toml(
                    folder, name=name, display_name=str(fields.get("display_name") or name.replace("-", " ").title()),
                    description=str(fields.get("description") or ""), settings=settings,
                    corpus_styles=[name, *[s for s in source_styles if s != name]],
                    composers=[composer] if composer else [], timbre=base.timbre if base else None, store=self.store,
                ))
            except StyleTaken as exc:
                raise Conflict(str(exc)) from exc
        corpus_styles = [name, *[s for s in source_styles if s != name]]
        log.info("admin: created style %s in %s (%d uploaded, %d by composer %r)", name, folder, len(accepted), len(matches), composer)
        self.feed.publish("styles")
        counts = await in_store_thread(self.piece_counts)
        pieces = sum(counts.get(s, (0, 0))[0] for s in corpus_styles)
        return {"style": name, "accepted": accepted, "duplicates": mark_duplicates(duplicates, corpus_styles),
                "rejected": rejected, "composer_matches": len(matches), "corpus_styles": corpus_styles,
                "pieces": pieces, "pieces_needed": MIN_TRAIN_PIECES, "on_air": False,
                "next": (f"retrain it (POST /admin/styles/{name}/retrain); it goes on air once a model is activated"
                         if pieces >= MIN_TRAIN_PIECES else
                         f"add at least {MIN_TRAIN_PIECES - pieces} more piece(s) (POST /admin/styles/{name}/pieces), then retrain")}

    async def edit(self, name: str, fields: Any) -> Style:
        """Change settings of a style created from the admin (:data:`EDIT_FIELDS`), here and in
        the shared store; every node follows. A bad value is refused and nothing is written."""
        if not isinstance(fields, dict) or not fields:
            raise BadRequest(f"send a JSON object of the settings to change; allowed: {list(EDIT_FIELDS)}")
        unknown = set(fields) - set(EDIT_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field(s) {sorted(unknown)}; allowed: {list(EDIT_FIELDS)}")
        self.style(name)  # 400 for a bad name, 404 for an unknown style
        if not self.is_home_style(name):
            raise Conflict(f"style {name!r} is bundled with the station: edit styles/{name}/style.toml in the repository")
        changes: dict[str, Any] = {}
        for key, value in fields.items():
            if key in NUMBER_RANGES:
                changes[EDIT_FIELDS[key]] = number(fields, key, 0.0, *NUMBER_RANGES[key]) if value not in (None, "") else None
            elif key == "form":
                if value is not None and not isinstance(value, dict):
                    raise BadRequest("form must be an object (the [form] table of style.toml), or null to remove it")
                changes["form"] = value or None
            else:
                changes[EDIT_FIELDS[key]] = str(value or "")[:500 if key == "description" else 80]
        folder = self.home_styles / name
        async with self.lock:
            doc = tomllib.loads((folder / STYLE_FILE).read_text(encoding="utf-8"))
            for key, value in changes.items():
                if value is None:
                    doc.pop(key, None)
                else:
                    doc[key] = value
            try:
                style = await in_store_thread(write_style, folder, doc, comment="Created from the admin API.",
                                              store=self.store)
            except StyleError as exc:
                raise BadRequest(f"style {name!r} was not changed: {exc}") from exc
        log.info("admin: edited style %s (%s)", name, ", ".join(sorted(fields)))
        self.feed.publish("styles")
        return style

    def spec(self, style: str) -> str | None:
        """A style created here travels with its job: a worker elsewhere has no copy of it."""
        if not self.is_home_style(style):
            return None
        return (self.home_styles / style / "style.toml").read_text(encoding="utf-8")

    def trainer_env(self, style: str) -> dict[str, str]:
        # The trainer reads the library where this server does (MongoDB/S3 settings, if any).
        env = storage_env()
        # A style created here lives in the data dir, where the trainer must look for it.
        if self.is_home_style(style):
            env["CONTINUO_STYLES"] = str(self.home_styles)
        return env


def number(fields: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    raw = fields.get(key)
    if raw in (None, ""):
        return float(default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{key} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low:g} and {high:g}, not {value:g}")
    return value


def write_style_toml(folder: Path, *, name: str, display_name: str, description: str, settings: dict[str, float],
                     corpus_styles: list[str], composers: list[str], timbre: Any, store: StyleStore | None = None) -> None:
    """Write ``<folder>/style.toml`` with tomli-w, after checking that the text reads back as
    this style; the file is replaced atomically, so a bad value never reaches the disk."""
    doc: dict[str, Any] = {
        "name": display_name[:80],
        "description": description[:500],
        **settings,
        "model": "model.npz",
        "corpus": {"styles": list(corpus_styles), **({"composers": list(composers)} if composers else {})},
    }
    if timbre is not None:
        doc["timbre"] = {f.name: (list(v) if isinstance(v := getattr(timbre, f.name), tuple) else v)
                         for f in dataclasses.fields(timbre)}
    write_style(folder, doc, comment="Created from the admin API.", store=store, new=True)
