"""The shape of ``radio/``: floors that import only downwards, no import circles, small modules.

Every import counts, including those inside functions (a circle broken by a late import is
still a circle); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

RADIO = Path(__file__).resolve().parents[1] / "radio"
MAX_LINES = 400

# The floors, lowest first: a module may import its own floor or a lower one, never a higher.
# The top-level modules are the ground every stage stands on; `styles` and `style_file` stand
# on `music` (a style's form plan is a music type). `station` assembles a channel from the
# stages below it (the composer's model, the synth, the frame queue), so it sits above them.
FLOORS: list[tuple[str, ...]] = [
    ("radio", "radio.config", "radio.errors", "radio.files", "radio.metrics", "radio.timestamps"),
    ("radio.music",),
    ("radio.styles", "radio.style_file"),
    ("radio.library",),
    ("radio.model",),
    ("radio.audio",),
    ("radio.broadcast",),
    ("radio.station",),
    ("radio.admin",),
    ("radio.web",),
    ("radio.commands", "radio.cli"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(RADIO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(RADIO.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    return skipped


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The radio modules ``name`` imports at run time (``from a import b`` counts a.b if it is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def floor(name: str) -> int:
    for level, members in enumerate(FLOORS):
        if any(name == m or (m != "radio" and name.startswith(m + ".")) for m in members):
            return level
    raise AssertionError(f"{name} is on no floor: add its package to FLOORS in {Path(__file__).name}")


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_reader_sees_late_and_relative_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from radio.web import app\n"
        "def f():\n    from radio.station import channel\n"
        "from ..music import notes\n"
    )
    known = {"radio.web.app", "radio.station.channel", "radio.music.notes", "radio.music"}
    # as if the file were radio/audio/m.py
    tree_name = "radio.audio.m"
    real = RADIO / "audio" / "m.py"
    assert imports(tree_name, source, known) == {"radio.station.channel", "radio.music", "radio.music.notes"}
    assert not real.exists()


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_radio():
    assert circles(graph()) == []


def test_no_import_runs_up_a_floor():
    upward = sorted(
        f"{a} (floor {floor(a)}) imports {b} (floor {floor(b)})"
        for a, targets in graph().items()
        for b in targets
        if floor(b) > floor(a)
    )
    assert upward == []


def test_no_module_is_over_the_size_limit():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}, f"split these by job (limit {MAX_LINES} lines)"
