"""Each lesson's run time and peak memory, in fast and full mode (``make lesson-report``).

Targets (issue: lessons and Binder): fast mode ≤ 60 s per lesson on 2 cores,
full mode ≤ 5 min, peak memory ≤ 1.5 GB (Binder allows 2 GB).

    python -m benchmarks.lesson_report            # both modes
    python -m benchmarks.lesson_report --fast     # fast mode only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lesson_runner import lesson_paths, run_lesson  # noqa: E402

FAST_LIMIT_S, FULL_LIMIT_S, MEM_LIMIT_MB = 60, 300, 1536


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fast", action="store_true", help="fast mode only")
    ap.add_argument("lessons", nargs="*", help="lesson file names (default: all)")
    args = ap.parse_args(argv)
    paths = [p for p in lesson_paths() if not args.lessons or p.name in args.lessons or p.stem in args.lessons]
    modes = [True] if args.fast else [True, False]
    print(
        f"| lesson | {' | '.join(('fast s | fast MB' if m else 'full s | full MB') for m in modes)} | within targets |"
    )
    print("|---|" + "---|---|" * len(modes) + "---|")
    ok_all = True
    for p in paths:
        cells, ok = [], True
        for fast in modes:
            r = run_lesson(p, fast=fast, mode="student", timeout=900)
            cells += [f"{r.seconds:.1f}", f"{r.peak_mb:.0f}"]
            ok &= r.seconds <= (FAST_LIMIT_S if fast else FULL_LIMIT_S) and r.peak_mb <= MEM_LIMIT_MB
        ok_all &= ok
        print(f"| {p.stem} | {' | '.join(cells)} | {'yes' if ok else 'NO'} |", flush=True)
    print(f"\ntargets: fast ≤ {FAST_LIMIT_S} s, full ≤ {FULL_LIMIT_S} s, peak ≤ {MEM_LIMIT_MB} MB")
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
