"""``python -m benchmarks [name ...]``: run every ``bench_*.py`` module's ``main()`` (or the named ones)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def run(names: list[str] | None = None) -> None:
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in names] if names else found
    for name in wanted:
        if name not in found:
            raise SystemExit(f"benchmarks: no module {name!r}; available: {', '.join(found)}")
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()


if __name__ == "__main__":
    run(sys.argv[1:])
