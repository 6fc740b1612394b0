"""What a model file knows of its lineage: the shared base every style fine-tunes, and every
piece its weights have learnt from, its own and its starting model's.

The trainer uses this to keep held-out pieces honest (a piece a starting model learnt is never
held out); the admin uses it to choose where a retrain starts. Neither needs TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BASE_STYLE = "base"  # styles/base/model.npz: no style.toml, so no channel; every style fine-tunes it


def base_model_path(styles_root: Path | None = None) -> Path:
    """The bundled base model: ``<styles>/base/model.npz``."""
    from radio.config import styles_dir

    return (styles_root or styles_dir()) / BASE_STYLE / "model.npz"


def seen_key(sha256: str) -> str:
    """How a model header lists the pieces it (or a model it was fine-tuned from) trained on:
    64 bits of each file's sha256, enough to tell ~1e9 pieces apart, a quarter of the size."""
    return sha256[:16]


def seen_pieces(header: dict[str, Any]) -> frozenset[str]:
    """Every piece a model file's weights have learnt from: its own training pieces and, for a
    fine-tune, the ones its starting model had seen (older files list only their own)."""
    training = header.get("training") if isinstance(header.get("training"), dict) else {}
    own = {seen_key(str(p.get("sha256"))) for p in training.get("pieces") or [] if isinstance(p, dict) and p.get("sha256")}
    return frozenset(own | {str(s) for s in training.get("seen") or []})
