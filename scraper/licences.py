"""Licence names as the sites spell them, normalised to a few short ids, and the filter.

Mutopia writes "Creative Commons Attribution-ShareAlike 3.0"; IMSLP writes the same
licence as a link to ``IMSLP:Creative_Commons_Attribution-ShareAlike_4.0`` or as
"CC BY-SA 4.0"; CC deeds appear as URLs. All of them map to one id so that the
filter and the catalog agree.
"""

from __future__ import annotations

import re

# The licences whose files we keep by default: free to use, adapt and redistribute.
DEFAULT_ALLOWED: frozenset[str] = frozenset({"public-domain", "cc0", "cc-by", "cc-by-sa"})

KNOWN: tuple[str, ...] = (
    "public-domain",
    "cc0",
    "cc-by",
    "cc-by-sa",
    "cc-by-nd",
    "cc-by-nc",
    "cc-by-nc-sa",
    "cc-by-nc-nd",
    "unknown",
)

_CC_PARTS = {"by": "by", "attribution": "by", "sa": "sa", "sharealike": "sa", "nc": "nc",
             "noncommercial": "nc", "nd": "nd", "noderivs": "nd", "noderivatives": "nd"}


# IMSLP writes "Non-commercial", "Share Alike", "No Derivatives" as two words.
_SPLIT_WORDS = (("non commercial", "noncommercial"), ("share alike", "sharealike"),
                ("no derivatives", "noderivatives"), ("no derivs", "noderivs"))


def normalise_licence(text: str) -> str:
    """Map a licence as written on a page (name, abbreviation or URL) to one of :data:`KNOWN`."""
    raw = (text or "").strip().lower()
    if not raw:
        return "unknown"
    flat = re.sub(r"[\s_\-/.:()]+", " ", raw)
    for split, joined in _SPLIT_WORDS:
        flat = flat.replace(split, joined)
    words = flat.split()
    if "publicdomain/zero" in raw or "cc0" in words or ("zero" in words and "creative" in words):
        return "cc0"
    if "public domain" in flat or "publicdomain" in raw or words[:1] == ["pd"]:
        return "public-domain"
    if "creativecommons" in raw.replace(" ", "") or words[:1] == ["cc"] or "creative commons" in flat:
        parts = [_CC_PARTS[w] for w in words if w in _CC_PARTS]
        if "licenses" in words:  # a deed URL: .../licenses/by-nc-sa/4.0/
            after = words[words.index("licenses") + 1:]
            parts = [_CC_PARTS[w] for w in after if w in _CC_PARTS]
        if "by" not in parts:
            return "unknown"
        name = "cc-by" + "".join(f"-{part}" for part in ("nc", "nd", "sa") if part in parts)
        return name if name in KNOWN else "unknown"
    return "unknown"


def allowed_licences(extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """The default set plus each ``--allow-licence NAME`` (any spelling :func:`normalise_licence` reads)."""
    added = set()
    for name in extra:
        norm = name.strip().lower() if name.strip().lower() in KNOWN else normalise_licence(name)
        if norm == "unknown" and name.strip().lower() != "unknown":
            raise ValueError(f"--allow-licence {name!r} is not a licence we know; use one of {', '.join(KNOWN)}")
        added.add(norm)
    return DEFAULT_ALLOWED | added
