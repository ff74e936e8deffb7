"""Fuzz dltk.load with hypothesis: bit flips, truncations, mutated JSON values, mutated zip headers.

Whatever the damage, a load either gives back the saved network unchanged or raises DataError —
never another exception — and its peak memory stays small (Python objects via tracemalloc; torch
allocations are bounded by the load's allocation guard, whose peak is read here too).
"""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltk
from dltk import io as dio
from dltk.errors import DataError

LIMIT_MB = 16  # Python-side peak per load; the saved file is ~5 KB


def _net():
    torch.manual_seed(0)
    return dltk.network.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(Classes=["no", "yes"]),
        ]
    )


NET = _net()


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    path = dltk.save(NET, tmp_path_factory.mktemp("fuzz") / "good.dltk")
    dltk.load(path)  # warm up: the first load imports torch's meta kernels (tens of MB of Python objects)
    return path.read_bytes()


class _GuardPeak:
    """Records the peak live bytes the load's allocation guard saw."""

    def __init__(self) -> None:
        self.peak = 0
        self._exit = dio._AllocationGuard.__exit__

    def __enter__(self):  # noqa: ANN204
        spy = self

        def exit_(guard, *a):  # noqa: ANN001, ANN202
            spy.peak = max(spy.peak, guard.peak)
            return spy._exit(guard, *a)

        dio._AllocationGuard.__exit__ = exit_
        return self

    def __exit__(self, *a) -> None:  # noqa: ANN002
        dio._AllocationGuard.__exit__ = self._exit


def _load_checked(data: bytes, path: Path) -> None:
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with _GuardPeak() as guard:
            try:
                back = dltk.load(path)
            except DataError:
                back = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= LIMIT_MB * 2**20, f"{peak / 2**20:.1f} MB of Python objects"
    assert guard.peak <= dio.BUILD_SLACK + dio.BUILD_FACTOR * len(data)
    if back is not None:  # a damage that still loads may not change a weight
        assert back.layer_names == NET.layer_names
        for (k, a), (_, b) in zip(NET.state_dict().items(), back.state_dict().items()):
            assert torch.equal(a, b), k


FUZZ = settings(
    max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(data=st.data())
def test_bit_flips_and_truncations(good, tmp_path, data):
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4), "flips")):
        pos = data.draw(st.integers(0, len(raw) - 1), "pos")
        raw[pos] ^= 1 << data.draw(st.integers(0, 7), "bit")
    if data.draw(st.booleans(), "truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw)), "length")]
    _load_checked(bytes(raw), tmp_path / "f.dltk")


def _paths(obj, prefix=()):  # noqa: ANN001, ANN202
    """Every (path, value) in a JSON tree."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["dltk.nonexistent:X", "os:system", "dltk.io:load", "torch.load", "nan", "__tensor__"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(data=st.data())
def test_mutated_json(good, tmp_path, data):
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        meta, tensors = json.loads(z.read("network.json")), z.read("tensors.pt")
    for _ in range(data.draw(st.integers(1, 3), "edits")):
        paths = [p for p, _ in _paths(meta) if p]
        where = data.draw(st.sampled_from(paths), "where")
        parent = meta
        for k in where[:-1]:
            parent = parent[k]
        if data.draw(st.booleans(), "delete") and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(JSON_VALUES, "value")
    path = tmp_path / "m.dltk"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("network.json", json.dumps(meta))
        z.writestr("tensors.pt", tensors)
    _load_checked(path.read_bytes(), path)


@FUZZ
@given(data=st.data())
def test_mutated_zip_headers(good, tmp_path, data):
    """Overwrite size, method and offset fields of local and central headers with hostile values."""
    raw = bytearray(good)
    heads = [i for i in range(len(raw) - 4) if raw[i : i + 4] in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06")]
    for _ in range(data.draw(st.integers(1, 3), "edits")):
        h = data.draw(st.sampled_from(heads), "header")
        kind = raw[h + 2 : h + 4]
        fields = {  # offset in the header, struct format
            b"\x03\x04": [(8, "<H"), (18, "<I"), (22, "<I"), (26, "<H"), (28, "<H")],
            b"\x01\x02": [(10, "<H"), (20, "<I"), (24, "<I"), (28, "<H"), (30, "<H"), (42, "<I")],
            b"\x05\x06": [(8, "<H"), (10, "<H"), (12, "<I"), (16, "<I")],
        }[bytes(kind)]
        off, fmt = data.draw(st.sampled_from(fields), "field")
        top = 2**16 - 1 if fmt == "<H" else 2**32 - 1
        value = data.draw(st.sampled_from([0, 1, 8, 12, 99, top, top // 2]) | st.integers(0, top), "value")
        if h + off + struct.calcsize(fmt) <= len(raw):
            struct.pack_into(fmt, raw, h + off, value)
    _load_checked(bytes(raw), tmp_path / "z.dltk")
