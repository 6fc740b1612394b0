"""Map a scraped piece to a library style by composer, piece style or period.

The rules live in an editable TOML file (``scraper/style_map.toml`` by default);
this module only reads it and applies it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from radio.errors import ContinuoError, StyleError
from radio.styles import check_style_name

DEFAULT_STYLE_MAP = Path(__file__).with_name("style_map.toml")
FIELDS = ("composer", "piece_style", "period")


class StyleMapError(ContinuoError):
    """The style map file is missing or malformed."""


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", plain)


@dataclass
class StyleMap:
    default: str = "unsorted"
    rules: dict[str, list[tuple[list[str], str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> StyleMap:
        path = Path(path or DEFAULT_STYLE_MAP)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise StyleMapError(f"style map {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise StyleMapError(f"style map {path} is not valid TOML: {exc}") from exc
        try:
            default = check_style_name(str(data.get("default", "unsorted")))
            rules: dict[str, list[tuple[list[str], str]]] = {}
            for name in FIELDS:
                table = data.get(name, {})
                if not isinstance(table, dict):
                    raise StyleMapError(f"style map {path}: [{name}] must be a table of \"words\" = \"style\"")
                rules[name] = [(_words(key), check_style_name(str(style)))
                               for key, style in table.items() if _words(key)]
        except StyleError as exc:
            raise StyleMapError(f"style map {path}: {exc}") from exc
        unknown = set(data) - set(FIELDS) - {"default"}
        if unknown:
            raise StyleMapError(f"style map {path}: unknown section(s) {sorted(unknown)}; use {list(FIELDS)}")
        return cls(default=default, rules=rules)

    def style_for(self, *, composer: str = "", piece_style: str = "", period: str = "") -> str:
        values = {"composer": composer, "piece_style": piece_style, "period": period}
        for name in FIELDS:
            present = set(_words(values[name]))
            for key_words, style in self.rules.get(name, []):
                if present.issuperset(key_words):
                    return style
        return self.default
