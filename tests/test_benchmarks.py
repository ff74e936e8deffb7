"""The per-layer benchmark keeps working: every catalog layer has an entry, and every entry runs.

Speed is not asserted here (benchmarks report it); this runs each entry once with tiny
blocks, so a layer whose API changed or an entry that no longer builds shows up as a
failure instead of a silent "not measured" row.
"""

from __future__ import annotations

import math

import dltk
from benchmarks import bench_layers
from tests.cases import all_cases


def test_every_catalog_layer_has_a_benchmark_entry() -> None:
    names = {e.name for e in bench_layers.entries()}
    catalog = {cls.matlab_name for cls in dltk.layers.all_layer_classes()}
    assert catalog <= names, f"catalog layers without a benchmark entry: {sorted(catalog - names)}"


def test_one_benchmark_entry_per_layer_read_from_the_layer_cases() -> None:
    """The benchmark reads the registry: each layer's ``bench`` sits on one of its cases, once."""
    names = [e.name for e in bench_layers.entries()]
    assert sorted(names) == sorted(set(names)), (
        f"layers with two bench entries: {sorted({n for n in names if names.count(n) > 1})}"
    )
    with_bench = [c for c in all_cases() if c.bench is not None]
    assert len(with_bench) == len(names)
    for case in with_bench:  # the bench sits on a case of the same layer
        assert case.id.split("-")[0] == type((case.bench.make or case.make)()).matlab_name, case.id


def test_the_criterion_follows_the_pytorch_time() -> None:
    """Under 20 µs per PyTorch call a layer is judged by what dltk adds (≤ 2 µs), else by the ratio."""
    small = {"torch_ms": 0.001, "added_us": 1.5, "ratio": 3.0}
    assert bench_layers.criterion(small) == ("added ≤ 2 µs", True)
    assert bench_layers.criterion({**small, "added_us": 4.9}) == ("added ≤ 2 µs", False)
    big = {"torch_ms": 0.5, "added_us": 40.0, "ratio": 1.04}
    assert bench_layers.criterion(big) == ("ratio ≤ 1.05", True)
    assert bench_layers.criterion({**big, "ratio": 1.07}) == ("ratio ≤ 1.05", False)


def test_every_entry_runs_and_the_table_lists_it() -> None:
    rows = bench_layers.measure(repeats=1, rounds=1, block_s=1e-4)
    errors = [f"{r['layer']}: {r['error']}" for r in rows if "error" in r]
    assert not errors, errors
    assert all(math.isfinite(r["ratio"]) and r["ratio"] > 0 for r in rows)
    table = bench_layers.markdown(rows)
    for r in rows:
        assert f"| {r['layer']} |" in table
    assert f"{len(rows)} layers measured, 0 not measured" in table
    assert all(r["layer"] in table.split("| criterion |")[1] for r in rows)
    assert "| added ≤ 2 µs |" in table and "| ratio ≤ 1.05 |" in table


def test_training_benchmark_loops_compare_like_with_like() -> None:
    """The plain loops of bench_train: packed and unpacked agree where no sequence is padded, the
    unpacked 'last' reads step T, and the packed per-step loss leaves padded steps out."""
    import torch

    from benchmarks import bench_train

    for family in ("BiLSTM", "LSTM", "GRU"):
        for mode in ("last", "sequence"):
            torch.manual_seed(0)
            packed = bench_train.PlainRNN(family, True, mode, c=3, h=4, k=2)
            padded = bench_train.PlainRNN(family, False, mode, c=3, h=4, k=2)
            padded.load_state_dict(packed.state_dict())
            x, full = torch.randn(2, 5, 3), torch.tensor([5, 5])
            torch.testing.assert_close(packed(x, full), padded(x, full), atol=1e-6, rtol=0)
    torch.manual_seed(0)
    packed = bench_train.PlainRNN("LSTM", True, "last", c=3, h=4, k=2)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 2])
    short = packed(x[1:, :2], lengths[1:])  # the second sequence alone, unpadded
    torch.testing.assert_close(packed(x, lengths)[1:], short, atol=1e-6, rtol=0)
    z, y = torch.randn(2, 5, 3), torch.tensor([0, 2])
    real = torch.nn.functional.cross_entropy(torch.cat([z[0], z[1, :2]]), torch.tensor([0] * 5 + [2] * 2))
    torch.testing.assert_close(bench_train._loss(z, y, lengths, packed=True), real)
    assert not torch.allclose(bench_train._loss(z, y, lengths, packed=False), real)
