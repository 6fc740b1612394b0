"""``make bench``: run every bench/bench_*.py module's ``main()`` in turn and print its figures.

Each benchmark prints the machine it ran on; a failing one is reported and the rest still run.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def machine(*details: str) -> str:
    """The line every benchmark prints first: host, cores, CPU, Python, plus ``details``."""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return ", ".join([f"{platform.node()}: {os.cpu_count()} cores", cpu, f"Python {platform.python_version()}", *details])


def main(argv: list[str]) -> int:
    only = set(argv)
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    print(f"machine: {machine()}")
    failed = 0
    took: list[tuple[str, float, bool]] = []
    for name in names:
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        print(f"\n=== {name}")
        t0 = time.perf_counter()
        ok = True
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception:
            failed += 1
            ok = False
            traceback.print_exc()
        took.append((name, time.perf_counter() - t0, ok))
        print(f"--- {name}: {took[-1][1]:.1f} s")
    # Which parts take how long: the first thing to read before running it all again.
    print("\n=== how long each part took")
    for name, seconds, ok in took:
        print(f"{name:<22} {seconds / 60:7.1f} min{'' if ok else '  FAILED'}")
    print(f"{'all':<22} {sum(t for _, t, _ in took) / 60:7.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
