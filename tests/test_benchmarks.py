"""The per-layer benchmark keeps working: every catalog layer has an entry, and every entry runs.

Speed is not asserted here (benchmarks report it); this runs each entry once with tiny
blocks, so a layer whose API changed or an entry that no longer builds shows up as a
failure instead of a silent "not measured" row.
"""

from __future__ import annotations

import math

import dltk
from benchmarks import bench_layers


def test_every_catalog_layer_has_a_benchmark_entry() -> None:
    names = {e.name for e in bench_layers.entries()}
    catalog = {cls.matlab_name for cls in dltk.layers.all_layer_classes()}
    assert catalog <= names, f"catalog layers without a benchmark entry: {sorted(catalog - names)}"


def test_every_entry_runs_and_the_table_lists_it() -> None:
    rows = bench_layers.measure(repeats=1, rounds=1, block_s=1e-4)
    errors = [f"{r['layer']}: {r['error']}" for r in rows if "error" in r]
    assert not errors, errors
    assert all(math.isfinite(r["ratio"]) and r["ratio"] > 0 for r in rows)
    table = bench_layers.markdown(rows)
    for r in rows:
        assert f"| {r['layer']} |" in table
    assert f"{len(rows)} layers measured, 0 not measured" in table
