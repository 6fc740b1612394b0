"""Which of two model versions is better, and whether a new one goes on air by itself.

One rule (:func:`should_activate`) for the in-process runner and for ``continuo worker``: only a
fair comparison (the active model scored on the new version's own held-out pieces) activates
a version without an admin.
"""

from __future__ import annotations

from typing import Any

from radio.admin.version_facts import ModelVersion, figure_at, figures, heldout_set

SAME_SCORE = 1e-4  # nats per beat: closer than this is a tie


def compare(new: ModelVersion, base: ModelVersion | None) -> dict[str, Any] | None:
    """How ``new`` scores against ``base`` (the active version): on which figure, by how much,
    and whether the two were measured on the same held-out pieces.

    When ``new``'s training scored ``base`` on ``new``'s own held-out pieces (the done metrics'
    ``compared``), that is the comparison (``basis: "same pieces"``): both figures on the same
    pieces with the same measure. Otherwise each version's own figure is used
    (``basis: "own held-out sets"``), which may have been measured on other pieces; ``why_not``
    says why the fair comparison is missing."""
    if base is None or base.version == new.version:
        return None
    fair = same_pieces_comparison(new, base, this="this version")
    if fair["fair"]:
        value, base_value = fair["value"], fair["base_value"]
        delta = value - base_value
        verdict = "same" if abs(delta) < SAME_SCORE else ("better" if delta < 0 else "worse")
        return {"against": base.version, "metric": "heldout_nll", "value": value, "base_value": base_value,
                "delta": delta, "verdict": verdict, "same_heldout": True, "same_measure": True,
                "basis": "same pieces", "pieces": fair["pieces"], "set": fair["set"], "measure": "full",
                "note": fair["words"], "why_not": None}
    a, b = figures(new.metrics), figures(base.metrics)
    metric = "heldout_nll" if a["heldout_nll"] is not None and b["heldout_nll"] is not None else None
    result: dict[str, Any] = {"against": base.version, "metric": metric, "value": None, "base_value": None,
                              "delta": None, "verdict": "unknown", "same_heldout": None,
                              "same_measure": None if metric is None else a["measure"] == b["measure"],
                              "basis": "own held-out sets", "pieces": None, "set": None, "measure": None,
                              "note": None, "why_not": fair["why"]}
    if metric is not None:
        value, base_value = float(a[metric]), float(b[metric])  # NLLs: lower is better
        delta = value - base_value
        verdict = "same" if abs(delta) < SAME_SCORE else ("better" if delta < 0 else "worse")
        result.update(value=value, base_value=base_value, delta=delta, verdict=verdict,
                      measure=a["measure"] if a["measure"] == b["measure"] else None)
    mine, theirs = heldout_set(new), heldout_set(base)
    if mine["fingerprint"] and theirs["fingerprint"]:
        result["same_heldout"] = mine["fingerprint"] == theirs["fingerprint"]
    elif (mine["pieces"], mine["beats"]) != (theirs["pieces"], theirs["beats"]) and None not in (mine["pieces"], theirs["pieces"]):
        result["same_heldout"] = False
    return result


FULL_MEASURE = "held-out NLL per beat (notes with struck/held)"
BY_HAND = "activate it by hand if wanted"


def _plural(n: Any, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def same_pieces_comparison(new: ModelVersion, active: ModelVersion, *, this: str = "the new version") -> dict[str, Any]:
    """Whether ``new``'s training scored ``active`` on ``new``'s own held-out pieces with the same
    measure (the done metrics' ``compared`` block, from ``continuo train --compare-with``).

    Returns ``{"fair": True, "value", "base_value", "pieces", "set", "words"}`` (``words``: the
    figures in a sentence that names the pieces and the measure) or ``{"fair": False, "why"}``,
    ``why`` in plain words, about ``active`` ("it")."""
    m = new.metrics or {}
    c = m.get("compared") if isinstance(m.get("compared"), dict) else None
    held = m.get("held_out") if isinstance(m.get("held_out"), dict) else {}
    c_held = (c or {}).get("held_out") if isinstance((c or {}).get("held_out"), dict) else {}
    pieces = held.get("pieces", c_held.get("pieces"))
    key = held.get("key") or c_held.get("key")
    new_full = figure_at(m, "nll_full_per_beat.model", "model.nll_full")
    trained = (c or {}).get("trained_on_held_out")
    why: str | None = None
    if c is None:
        why = (f"it was not scored on {this}'s held-out pieces, and each version's own figure was measured on "
               "other pieces")
    elif c.get("version") != active.version:
        why = f"the run scored version {c.get('version')} on its held-out pieces, not this one"
    elif held.get("key") and c_held.get("key") and held["key"] != c_held["key"]:
        why = f"it was scored on other pieces than {this}'s held-out set"
    elif not isinstance(trained, int) or isinstance(trained, bool):
        why = f"the run did not say whether it trained on {this}'s held-out pieces"
    elif trained > 0:
        why = (f"it trained on {trained} of {this}'s {_plural(pieces if pieces is not None else '?', 'held-out piece')}, "
               "so its figure on them would flatter it")
    elif new_full is None:
        why = (f"{this} has only the sounding-notes NLL, a different measure from the NLL with struck/held"
               if figure_at(m, "nll_per_beat.model", "model.nll_sounding") is not None else f"{this} has no held-out NLL")
    elif figure_at(c, "nll_full") is None:
        sounding = figure_at(c, "nll_sounding")
        figure = f" ({sounding:.4f})" if sounding is not None else ""
        why = (f"it has only the sounding-notes NLL{figure}, a different measure from {this}'s NLL with struck/held "
               f"(it is a {c.get('encoding') or 'different'} model)")
    if why is not None:
        return {"fair": False, "why": why}
    base_full = figure_at(c, "nll_full")
    on = f"{this}'s {_plural(pieces, 'held-out piece')}" if pieces is not None else f"{this}'s held-out pieces"
    words = (f"{FULL_MEASURE} on {on}{f' (set {str(key)[:8]}…)' if key else ''}: "
             f"{new_full:.4f} vs {base_full:.4f} of the active {active.version}")
    return {"fair": True, "value": new_full, "base_value": base_full, "pieces": pieces, "set": key, "words": words}


def should_activate(new: ModelVersion, active: ModelVersion | None, *, force: bool) -> tuple[bool, str]:
    """Whether a freshly trained version replaces the active one, and why (or why not).

    Only a fair comparison puts a version on air by itself: the active model scored on the new
    version's own held-out pieces (the run's ``compared`` block), having trained on none of them,
    with the same measure (the NLL with struck/held), and the new version no worse. Each
    version's own header figure is no basis: it was measured on other pieces (an upload changes
    the split; a bundled model was measured on pieces not in the library), and a seed model only
    has the sounding-notes figure. Without a fair comparison the version stays off air, and the
    reason says why: an admin can still activate it by hand (or retrain with ``force``)."""
    if force:
        return True, "force=true"
    if active is None:
        return True, "no active version yet"
    fair = same_pieces_comparison(new, active)
    if not fair["fair"]:
        return False, f"no fair comparison with the active {active.version}: {fair['why']}; {BY_HAND}"
    if fair["value"] <= fair["base_value"]:
        return True, f"{fair['words']} (lower is better)"
    return False, f"{fair['words']}: the new version is worse (lower is better); {BY_HAND}"
