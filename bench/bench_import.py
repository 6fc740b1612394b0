"""Import the whole shared corpus (``continuo import ../shared/corpus``) into a temp home.

Prints the wall time, the throughput, and pieces / beats / most common keys per style,
plus a second (all-duplicates) run, which shows what an idempotent re-import costs.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.run_all import machine
from radio.config import REPO_ROOT

CORPUS = Path(os.environ.get("CONTINUO_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


def main() -> None:
    from radio.library import open_library
    from radio.library.importer import plan_import, run_import

    print(f"machine: {machine()}")
    if not (CORPUS / "MANIFEST.csv").is_file():
        print(f"skipped: no corpus at {CORPUS}")
        return
    with tempfile.TemporaryDirectory(prefix="continuo-bench-import-") as tmp:
        library = open_library(Path(tmp))
        try:
            t0 = time.perf_counter()
            items = plan_import(CORPUS)
            report = run_import(library, items, total=len(items), progress=False)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = run_import(library, plan_import(CORPUS), progress=False)
            second = time.perf_counter() - t0
            stats = library.catalog.stats()
        finally:
            library.close()
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    print(f"corpus: {CORPUS} ({len(items)} files)")
    print(f"first import: {first:.1f} s, {len(items) / first:.1f} files/s: {report.summary()}")
    for name, reason in report.rejected:
        print(f"  rejected {name}: {reason}")
    print(f"second import: {second:.1f} s: {again.summary()}")
    print(f"library size on disk: {size / 1e6:.1f} MB")
    print(f"{'style':<14}{'pieces':>8}{'beats':>10}{'hours@120':>11}  keys (most common)")
    for style, s in stats["styles"].items():
        hours = s["beats"] / 4 / 120 / 60  # 16th-note beats at 120 quarter notes per minute
        keys = ", ".join(f"{k} {n}" for k, n in list(s["keys"].items())[:3])
        print(f"{style:<14}{s['pieces']:>8}{s['beats']:>10}{hours:>11.2f}  {keys}")
    total_beats = sum(s["beats"] for s in stats["styles"].values())
    total_pieces = sum(s["pieces"] for s in stats["styles"].values())
    print(f"{'total':<14}{total_pieces:>8}{total_beats:>10}")


if __name__ == "__main__":
    main()
