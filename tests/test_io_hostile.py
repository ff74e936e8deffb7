"""dltk.save / dltk.load on hostile and damaged files: bounded memory, only DataError, atomic saves.

Crafted files (each a few KB, or a small compressed bomb) that declare far more than they hold:
a stride-0 expanded tensor, a 12000×12000 layer, a resize to 40000×40000, a zip bomb in tensors.pt
(outer and inner archive), 256 MB of JSON whitespace, 10^12 elements. Every one is refused with a
DataError before the memory is taken; the peak memory of loading them all, measured as the growth of
the maximum resident set size in a fresh process, stays under a small bound.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import dltk
from dltk import io as dio
from dltk.errors import DataError, OptionError


def _net():
    torch.manual_seed(0)
    return dltk.network.Network(
        [
            dltk.featureInputLayer(3),
            dltk.fullyConnectedLayer(4),
            dltk.softmaxLayer(),
            dltk.classificationLayer(Classes=list("abcd")),
        ]
    )


def _image_net():
    torch.manual_seed(0)
    return dltk.network.Network(
        [
            dltk.imageInputLayer([8, 8, 1]),
            dltk.resize2dLayer(Scale=2),
            dltk.convolution2dLayer(3, 2),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(Classes=list("ab")),
        ]
    )


def _rnn_net():
    torch.manual_seed(0)
    net = dltk.network.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.regressionLayer(),
        ]
    )
    net, _ = dltk.predictAndUpdateState(net, [torch.randn(5, 3) for _ in range(2)])  # carries a state
    return net


def _parts(path: Path) -> tuple[dict, bytes]:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("network.json")), z.read("tensors.pt")


def _pack(path: Path, meta, raw: bytes, *, json_deflate: bool = True) -> Path:
    text = meta if isinstance(meta, (str, bytes)) else json.dumps(meta)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("network.json", text, compress_type=zipfile.ZIP_DEFLATED if json_deflate else zipfile.ZIP_STORED)
        z.writestr("tensors.pt", raw)
    return path


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _stream_member(path: Path, name: str, chunk: bytes, n: int, other: dict[str, bytes]) -> None:
    """A member of ``n`` × ``chunk`` bytes written deflated in pieces (a zip bomb, built without the memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in other.items():
            z.writestr(k, v)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            for _ in range(n):
                f.write(chunk)


def hostile_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, the DataError text expected)."""
    good = dltk.save(_net(), tmp / "good.dltk")
    meta, raw = _parts(good)
    tensors = torch.load(io.BytesIO(raw), weights_only=True)
    out: dict[str, tuple[Path, str]] = {}

    # a stride-0 view: 1 stored element that expands to 16000 × 16000 (1 GB) when cloned
    t = dict(tensors)
    t[next(k for k in tensors if k.endswith("weight"))] = torch.zeros(1).expand(16000, 16000)
    out["stride0"] = (_pack(tmp / "stride0.dltk", meta, _torch_bytes(t)), "expanded view")

    # 10^12 elements declared by a view of one element
    t = dict(tensors)
    t[next(k for k in tensors if k.endswith("bias"))] = torch.zeros(1).expand(10**6, 10**6)
    out["1e12"] = (_pack(tmp / "1e12.dltk", meta, _torch_bytes(t)), "expanded view")

    # a recurrent state (cloned on load) that expands from 1 element to 16000 × 16000 (1 GB)
    rnn = dltk.save(_rnn_net(), tmp / "rnn.dltk")
    m, r = _parts(rnn)
    t = torch.load(io.BytesIO(r), weights_only=True)
    t["state/lstm/hidden_state"] = torch.zeros(1).expand(16000, 16000)
    out["stride0_state"] = (_pack(tmp / "stride0_state.dltk", m, _torch_bytes(t)), "expanded view")

    # a 12000 × 12000 fully connected layer declared in the JSON, with the small weights of the good file
    m = json.loads(json.dumps(meta))
    m["layers"][0]["kwargs"]["input_size"] = 12000
    m["layers"][1]["kwargs"]["output_size"] = 12000
    out["12000x12000"] = (_pack(tmp / "big_layer.dltk", m, raw), "building the network it describes needs more than")
    m = json.loads(json.dumps(meta))
    m["layers"][1]["kwargs"]["output_size"] = 10**12
    out["1e12_layer"] = (_pack(tmp / "huge_layer.dltk", m, raw), "building the network it describes needs more than")

    # a resize to 40000 × 40000 (an operation's output, not a weight)
    img = dltk.save(_image_net(), tmp / "image.dltk")
    m, r = _parts(img)
    m["layers"][1]["kwargs"]["scale"] = 5000
    out["resize"] = (_pack(tmp / "resize.dltk", m, r), "building the network it describes needs more than")

    # zip bomb: 256 MB of zeros deflated to about 250 KB as tensors.pt
    _stream_member(tmp / "bomb.dltk", "tensors.pt", bytes(2**20), 256, {"network.json": json.dumps(meta)})
    out["zip_bomb"] = (tmp / "bomb.dltk", "would expand from")

    # a record inside torch's own archive stored deflated (torch would inflate it to its declared size)
    inner_src = zipfile.ZipFile(io.BytesIO(raw))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as w:
        for info in inner_src.infolist():
            data = inner_src.read(info)
            info.compress_type = zipfile.ZIP_DEFLATED if "/data/" in info.filename else zipfile.ZIP_STORED
            w.writestr(info, data)
    out["inner_deflate"] = (_pack(tmp / "inner.dltk", meta, inner.getvalue()), "do not fit")

    # 256 MB of JSON whitespace, deflated
    _stream_member(tmp / "ws.dltk", "network.json", b" " * 2**20, 256, {"tensors.pt": raw})
    out["json_whitespace"] = (tmp / "ws.dltk", "network.json")

    # nested JSON 5,000 deep
    m = json.loads(json.dumps(meta))
    m["layers"][1]["kwargs"]["output_size"] = "PLACEHOLDER"
    deep = json.dumps(m).replace('"PLACEHOLDER"', "[" * 5000 + "]" * 5000)
    out["deep_json"] = (_pack(tmp / "deep.dltk", deep, raw), "nested deeper than")
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize(
    "name",
    [
        "stride0",
        "stride0_state",
        "1e12",
        "12000x12000",
        "1e12_layer",
        "resize",
        "zip_bomb",
        "inner_deflate",
        "json_whitespace",
        "deep_json",
    ],
)
def test_hostile_file_is_refused_clearly(hostile, name):
    path, text = hostile[name]
    with pytest.raises(DataError, match=text):
        dltk.load(path)


PEAK_PROBE = """
import resource, sys, tracemalloc
import dltk
from dltk.errors import DataError
dltk.load(sys.argv[1])  # warm up: imports, meta kernels
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
for p in sys.argv[2:]:
    tracemalloc.reset_peak()
    try:
        dltk.load(p)
        print("LOADED", p)
    except DataError:
        pass
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024
    print(p, rss, tracemalloc.get_traced_memory()[1] // 2**20)
"""


def test_peak_memory_of_hostile_loads_is_small(hostile, tmp_path):
    """Peak memory of each hostile load in a fresh process: Python objects (tracemalloc, per file, MB) and
    the growth of the peak resident set (ru_maxrss, over all files, MB; covers torch's allocations)."""
    good = dltk.save(_image_net(), tmp_path / "warm.dltk")
    files = [str(p) for p, _ in hostile.values()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(good), *files], capture_output=True, text=True, env=env, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "LOADED" not in res.stdout, res.stdout
    rows = [line.rsplit(" ", 2) for line in res.stdout.splitlines()]
    # the largest file is ~0.5 MB; before the fix the same files cost +0.95 GB … +2 GB each
    assert max(int(r[1]) for r in rows) <= 48, res.stdout
    assert max(int(r[2]) for r in rows) <= 16, res.stdout


def test_load_limit_is_settable(tmp_path, monkeypatch):
    net = dltk.network.Network([dltk.featureInputLayer(200), dltk.fullyConnectedLayer(2000), dltk.regressionLayer()])
    path = dltk.save(net, tmp_path / "big.dltk")  # 1.6 MB of weights
    with pytest.raises(DataError, match=r"over the load limit of 1\.0 MB.*max_mb"):
        dltk.load(path, max_mb=1)
    monkeypatch.setattr(dltk.config, "load_limit_bytes", 2**20)
    with pytest.raises(DataError, match="over the load limit"):
        dltk.load(path)
    assert dltk.load(path, max_mb=4)["fc"].Weights.shape == (2000, 200)
    monkeypatch.setattr(dltk.config, "load_limit_bytes", 2**30)
    assert dltk.load(path)["fc"].Weights.shape == (2000, 200)
    for bad in ("10", float("nan"), -1, 0):
        with pytest.raises(OptionError, match="dltk.load: max_mb must be a positive number"):
            dltk.load(path, max_mb=bad)


# ------------------------------------------------------------------------------------ malformed content
def _json_cases(meta: dict) -> dict[str, tuple[dict | str, str]]:
    def edit(fn):  # noqa: ANN001, ANN202
        m = json.loads(json.dumps(meta))
        fn(m)
        return m

    def setk(m, i, k, v):  # noqa: ANN001, ANN202
        m["layers"][i]["kwargs"][k] = v

    return {
        "version_abc": (edit(lambda m: m.update(version="abc")), "format version is 'abc'"),
        "version_none": (edit(lambda m: m.update(version=None)), "format version is None"),
        "version_nan": (json.dumps(meta).replace('"version": 1', '"version": NaN'), "format version is nan"),
        "version_float": (edit(lambda m: m.update(version=1.5)), "format version is 1.5"),
        "version_true": (edit(lambda m: m.update(version=True)), "format version is True"),
        "version_newer": (edit(lambda m: m.update(version=99)), "newer dltk"),
        "no_format": (edit(lambda m: m.pop("format")), "missing the 'dltk-network' header"),
        "not_a_dict": ("[1, 2, 3]", "missing the 'dltk-network' header"),
        "not_json": ("{'format': 1", "JSONDecodeError"),
        "module_missing": (
            edit(lambda m: m["layers"][1].update({"class": "dltk.nonexistent:Foo"})),
            "needs the module 'dltk.nonexistent'",
        ),
        "module_garbage": (edit(lambda m: m["layers"][1].update({"class": "dltk..x:Foo"})), "dltk does not have"),
        "class_no_colon": (edit(lambda m: m["layers"][1].update({"class": "Foo"})), "must be written 'module:Class'"),
        "class_dunder": (
            edit(lambda m: m["layers"][1].update({"class": "dltk.io:__builtins__.eval"})),
            "is not a dltk layer class",
        ),
        "kwarg_type": (edit(lambda m: setk(m, 1, "output_size", "abc")), "cannot be built from the stored options"),
        "kwarg_list": (edit(lambda m: setk(m, 1, "output_size", [1, 2])), "cannot be built from the stored options"),
        "kwarg_nan": (
            edit(lambda m: setk(m, 1, "output_size", {"__float__": "nan"})),
            "cannot be built from the stored options",
        ),
        "kwarg_unknown": (edit(lambda m: setk(m, 1, "bogus", 1)), "cannot be built from the stored options"),
        "float_garbage": (edit(lambda m: setk(m, 1, "output_size", {"__float__": "abc"})), "not one dltk.save writes"),
        "tensor_missing": (edit(lambda m: setk(m, 1, "output_size", {"__tensor__": "x"})), "missing from the tensor"),
        "tuple_garbage": (edit(lambda m: setk(m, 1, "output_size", {"__tuple__": 5})), "not one dltk.save writes"),
        "layers_none": (edit(lambda m: m.update(layers=None)), "'layers' must be a non-empty list"),
        "layer_not_dict": (edit(lambda m: m["layers"].__setitem__(1, "fc")), "layer entry 2 is malformed"),
        "name_number": (edit(lambda m: m["layers"][1].update(name=5)), "layer entry 2 is malformed"),
        "kwargs_list": (edit(lambda m: m["layers"][1].update(kwargs=[1])), "layer entry 2 is malformed"),
        "classes_number": (edit(lambda m: m["layers"][3].update(classes=5)), "layer entry 4 is malformed"),
        "connections_bad": (edit(lambda m: m.update(connections=[["a"]])), "'connections' must be a list"),
        "connections_unknown": (
            edit(lambda m: m.update(connections=[["input/out", "nowhere/in"]])),
            "do not form a network",
        ),
        "dtype_evil": (edit(lambda m: m.update(dtype="torch.load")), "unknown parameter dtype"),
        "wrong_weights": (edit(lambda m: setk(m, 0, "input_size", 5)), "do not fit the architecture"),
    }


@pytest.fixture(scope="module")
def good_parts(tmp_path_factory):
    return _parts(dltk.save(_net(), tmp_path_factory.mktemp("good") / "good.dltk"))


def test_malformed_json_content_gives_clear_data_errors(good_parts, tmp_path):
    meta, raw = good_parts
    wrong = {}
    for name, (m, text) in _json_cases(meta).items():
        try:
            dltk.load(_pack(tmp_path / f"{name}.dltk", m, raw))
            wrong[name] = "loaded"
        except DataError as e:
            if not re.search(text, str(e)):
                wrong[name] = str(e)
        except Exception as e:  # noqa: BLE001
            wrong[name] = f"{type(e).__name__}: {e}"
    assert not wrong, wrong


def test_malformed_tensor_data_gives_clear_data_errors(good_parts, tmp_path):
    meta, raw = good_parts
    tensors = torch.load(io.BytesIO(raw), weights_only=True)
    cases = {
        "not_a_dict": (_torch_bytes([torch.zeros(1)]), "not a dict of tensors"),
        "not_tensors": (_torch_bytes({"a": 1}), "not a dict of tensors"),
        "sparse": (_torch_bytes({**tensors, "x": torch.eye(2).to_sparse()}), "not a plain dense tensor"),
        "empty": (b"", "not in the format"),
        "legacy_pickle": (pickle.dumps({"a": 1}), "not in the format"),
        "missing_weight": (_torch_bytes({k: v for k, v in tensors.items() if "weight" not in k}), "do not fit"),
        "truncated": (raw[: len(raw) // 2], "tensor data"),
    }
    for name, (r, text) in cases.items():
        path = _pack(tmp_path / f"{name}.dltk", meta, r)
        with pytest.raises(DataError, match=text):
            dltk.load(path)
    with zipfile.ZipFile(tmp_path / "nojson.dltk", "w") as z:
        z.writestr("tensors.pt", raw)
    with pytest.raises(DataError, match="has no 'network.json'"):
        dltk.load(tmp_path / "nojson.dltk")


def test_every_bit_flip_and_truncation_is_a_data_error_or_the_same_network(tmp_path):
    """Deterministic sweep (the hypothesis fuzz test below draws more): flips over the whole file."""
    net = _net()
    good = dltk.save(net, tmp_path / "good.dltk")
    data = good.read_bytes()
    bad = tmp_path / "bad.dltk"
    kinds: dict[str, int] = {}
    for pos in range(0, len(data), max(1, len(data) // 150)):
        for bit in (0, 5):
            flipped = bytearray(data)
            flipped[pos] ^= 1 << bit
            bad.write_bytes(bytes(flipped))
            try:
                back = dltk.load(bad)
            except DataError as e:
                kinds[str(e).split(":")[2][:40] if str(e).count(":") > 2 else str(e)[:40]] = 1
                continue
            for (k, a), (_, b) in zip(net.state_dict().items(), back.state_dict().items()):
                assert torch.equal(a, b), (pos, bit, k)  # a flip that loads never changes a weight
    for n in (0, 1, 22, len(data) // 3, len(data) - 1):
        bad.write_bytes(data[:n])
        with pytest.raises(DataError):
            dltk.load(bad)


# ----------------------------------------------------------------------------------------- atomic save
def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = dltk.save(_net(), tmp_path / "net.dltk")
    before = path.read_bytes()
    real = zipfile.ZipFile.writestr

    def disk_full(self, name, data, *a, **k):  # noqa: ANN001, ANN202
        if getattr(name, "filename", name) == "tensors.pt":
            real(self, name, data[: len(data) // 3], *a, **k)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, name, data, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    other = _image_net()
    with pytest.raises(OSError, match="No space left"):
        dltk.save(other, path)

    def interrupted(self, name, data, *a, **k):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dltk.save(other, path)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", real)
    assert path.read_bytes() == before  # untouched, still loadable
    assert dltk.load(path).layer_names == _net().layer_names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.dltk"]  # no temporary file left behind
    # a good save replaces the file, keeps its permissions and leaves nothing else
    os.chmod(path, 0o640)
    dltk.save(other, path)
    assert (path.stat().st_mode & 0o777) == 0o640 and dltk.load(path).layer_names == other.layer_names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.dltk"]


def test_save_renames_a_complete_temporary_file(tmp_path, monkeypatch):
    """The target name appears only by os.replace of a finished temporary file in the same folder."""
    seen = []
    real = os.replace

    def spy(src, dst):  # noqa: ANN001, ANN202
        seen.append((Path(src).parent, Path(dst)))
        with zipfile.ZipFile(src) as z:  # complete and valid when renamed
            assert z.testzip() is None and set(z.namelist()) == {"network.json", "tensors.pt"}
        assert not Path(dst).exists()
        return real(src, dst)

    monkeypatch.setattr(dio.os, "replace", spy)
    path = dltk.save(_net(), tmp_path / "sub" / "n")
    assert seen == [(tmp_path / "sub", tmp_path / "sub" / "n.dltk")] and path.is_file()
