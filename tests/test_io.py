"""dltk.save / dltk.load: bit-exact round trip, safe format, clear errors."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import DataError


def _trained():
    torch.manual_seed(0)
    X, Y = dltk.data.waveforms(12, length=(5, 12), channels=2, seed=1)
    layers = [
        dltk.sequenceInputLayer(2, Normalization="zscore"),
        dltk.bilstmLayer(5, OutputMode="last"),
        dltk.dropoutLayer(0.2),
        dltk.fullyConnectedLayer(4, WeightL2Factor=2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    net, _ = dltk.trainNetwork(X, Y, layers, dltk.trainingOptions("adam", MaxEpochs=1, MiniBatchSize=6, Verbose=False))
    return net, X


def test_round_trip_is_bit_exact(tmp_path):
    net, X = _trained()
    net, _ = dltk.predictAndUpdateState(net, X[:3])  # carry a recurrent state too
    path = dltk.save(net, tmp_path / "net")
    assert path.suffix == ".dltk"
    back = dltk.load(path)
    assert back.layer_names == net.layer_names and back.connections == net.connections
    assert back.classes == net.classes and not back.training
    for (k, a), (k2, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and torch.equal(a, b), k
    np.testing.assert_array_equal(back.input_layers[0].Mean.numpy(), net.input_layers[0].Mean.numpy())
    assert torch.equal(back["bilstm"].HiddenState, net["bilstm"].HiddenState)
    assert back["fc"].WeightL2Factor == 2 and back["dropout"].Probability == 0.2
    # the carried state belongs to 3 observations
    # (bit-exact for the same batching; across batchings float32 sums may round differently)
    np.testing.assert_array_equal(
        dltk.predict(back, X[3:6], MiniBatchSize=2), dltk.predict(net, X[3:6], MiniBatchSize=2)
    )
    np.testing.assert_allclose(dltk.predict(back, X[3:6], MiniBatchSize=2), dltk.predict(net, X[3:6]), rtol=1e-6)
    with pytest.raises(dltk.NetworkError, match="state belongs to 3 observations .* but X has 12"):
        dltk.predict(back, X)
    labels, _ = dltk.classify(back, X[:3])
    np.testing.assert_array_equal(labels, dltk.classify(net, X[:3])[0])


def test_int_labels_dag_and_float64(tmp_path):
    lg = dltk.layerGraph(
        [
            dltk.featureInputLayer(3, Name="in"),
            dltk.fullyConnectedLayer(3, Name="fc1"),
            dltk.reluLayer(Name="relu"),
            dltk.additionLayer(2, Name="add"),
            dltk.fullyConnectedLayer(2, Name="fc2"),
            dltk.softmaxLayer(Name="sm"),
            dltk.classificationLayer(Name="out"),
        ]
    )
    lg = dltk.connectLayers(lg, "fc1", "add/in2")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20) * 3 + 1
    net, _ = dltk.trainNetwork(X, y, lg, dltk.trainingOptions("sgdm", MaxEpochs=2, MiniBatchSize=10, Verbose=False))
    net = net.double()
    back = dltk.load(dltk.save(net, tmp_path / "dag.dltk"))
    assert back["fc1"].weight.dtype == torch.float64 and torch.equal(back["fc1"].weight, net["fc1"].weight)
    assert sorted(back.connections) == sorted(net.connections)
    labels, _ = dltk.classify(back, X)
    assert labels.dtype.kind == "i" and set(labels) <= {1, 4}


def test_corrupt_and_foreign_files(tmp_path):
    net, _ = _trained()
    good = dltk.save(net, tmp_path / "good.dltk")
    (tmp_path / "text.dltk").write_text("hello")
    with pytest.raises(DataError, match="is not a dltk network file"):
        dltk.load(tmp_path / "text.dltk")
    with zipfile.ZipFile(tmp_path / "foreign.dltk", "w") as z:
        z.writestr("network.json", '{"format": "something-else"}')
        z.writestr("tensors.pt", b"")
    with pytest.raises(DataError, match="missing the 'dltk-network' header"):
        dltk.load(tmp_path / "foreign.dltk")
    # tensors.pt replaced by an arbitrary pickle: refused by torch.load(weights_only=True)
    import pickle

    with zipfile.ZipFile(good) as z:
        meta = z.read("network.json")
    with zipfile.ZipFile(tmp_path / "evil.dltk", "w") as z:
        z.writestr("network.json", meta)
        z.writestr("tensors.pt", pickle.dumps(print))
    with pytest.raises(DataError, match="tensor data is not in the format dltk.save writes"):
        dltk.load(tmp_path / "evil.dltk")  # a bare pickle is never unpickled
    # the same pickle inside torch's own archive format: refused by torch.load(weights_only=True)
    buf = io.BytesIO()
    torch.save({"a": torch.zeros(2)}, buf)
    inner, evil = zipfile.ZipFile(buf), io.BytesIO()
    with zipfile.ZipFile(evil, "w") as w:
        for info in inner.infolist():
            w.writestr(info, pickle.dumps(print) if info.filename.endswith("data.pkl") else inner.read(info))
    with zipfile.ZipFile(tmp_path / "evil.dltk", "w") as z:
        z.writestr("network.json", meta)
        z.writestr("tensors.pt", evil.getvalue())
    with pytest.raises(DataError, match="tensor data cannot be read"):
        dltk.load(tmp_path / "evil.dltk")
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    (tmp_path / "broken.dltk").write_bytes(bytes(raw))
    with pytest.raises(DataError):
        dltk.load(tmp_path / "broken.dltk")
    with pytest.raises(FileNotFoundError):
        dltk.load(tmp_path / "missing.dltk")


def test_only_layer_classes_from_known_modules(tmp_path):
    net, _ = _trained()
    good = dltk.save(net, tmp_path / "good.dltk")
    with zipfile.ZipFile(good) as z:
        meta, tensors = z.read("network.json").decode(), z.read("tensors.pt")
    for spec, msg in (
        ("evil_not_imported:Thing", "is not imported"),
        ("os:system", "is not a dltk layer class"),
        ("dltk.io:save", "is not a dltk layer class"),
    ):
        bad = meta.replace("dltk.layers.fully_connected:FullyConnected", spec, 1)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("network.json", bad)
            z.writestr("tensors.pt", tensors)
        (tmp_path / "x.dltk").write_bytes(buf.getvalue())
        with pytest.raises(DataError, match=msg):
            dltk.load(tmp_path / "x.dltk")
