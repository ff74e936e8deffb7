"""The recording contract (issues 16 and 13): a recording never changes the network, never returns
empty silently, and recording a layer array costs what recording the assembled network costs."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

import dltk
from dltk.front import assembled


def _seq_layers(dropout: float = 0.5) -> list:
    return [
        dltk.sequenceInputLayer(3),
        dltk.lstmLayer(6, Name="lstm"),
        dltk.gruLayer(5, Name="gru"),
        dltk.bilstmLayer(4, OutputMode="last", Name="bilstm"),
        dltk.batchNormalizationLayer(Name="bn"),
        dltk.dropoutLayer(dropout, Name="drop"),
        dltk.fullyConnectedLayer(2, Name="fc"),
    ]


def _state(net: torch.nn.Module) -> dict:
    """Every parameter and buffer, and the recurrent layers' stored states."""
    out = {k: v.detach().clone() for k, v in net.state_dict().items()}
    for name, m in net.named_modules():
        for attr in ("hidden_state", "cell_state"):
            v = getattr(m, attr, None)
            if isinstance(v, torch.Tensor):
                out[f"{name}.{attr}"] = v.clone()
    return out


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} changed"


def test_a_layer_array_is_recorded_in_prediction_mode() -> None:
    torch.manual_seed(0)
    layers = _seq_layers()
    net = dltk.Network(layers)  # same layers: their trained statistics
    x = torch.randn(4, 7, 3)
    with torch.no_grad():
        net.layer("bn").running_mean.fill_(0.3)
    net.eval()
    want = net(x)
    net.train()
    before = _state(net)
    rec1 = dltk.record(layers, x)
    rec2 = dltk.record(layers, x)
    torch.testing.assert_close(rec1.output, want)  # prediction: dropout off, trained statistics
    torch.testing.assert_close(rec2.output, rec1.output, atol=0, rtol=0)
    assert "mask" not in rec1["drop"] and "batch_mean" not in rec1["bn"]
    _same(_state(net), before)
    assert all(lay.training for lay in layers)  # the layers' own mode is given back


def test_a_network_is_recorded_in_its_own_mode_and_no_stateful_layer_moves() -> None:
    torch.manual_seed(1)
    net = dltk.Network(_seq_layers())
    net.layer("lstm").HiddenState = torch.randn(6)
    net.layer("lstm").CellState = torch.randn(6)
    net.layer("gru").HiddenState = torch.randn(5)
    x = torch.randn(4, 7, 3)
    before = _state(net)
    rec = dltk.record(net, x)  # training mode (a Network starts in it, like any nn.Module)
    assert "mask" in rec["drop"] and "batch_mean" in rec["bn"]
    _same(_state(net), before)
    assert net.training
    net.eval()
    rec = dltk.record(net, x)
    assert "mask" not in rec["drop"] and not net.layer("bn").training
    _same(_state(net), before)


@pytest.mark.parametrize(
    "module",
    [
        torch.nn.BatchNorm1d(5),
        torch.nn.BatchNorm1d(5, momentum=None),
        torch.nn.Dropout(0.5),
        torch.nn.Dropout1d(0.5),
        torch.nn.AlphaDropout(0.5),  # a black box: its buffers/parameters are still guarded
        torch.nn.LSTM(4, 4, num_layers=2, dropout=0.5, batch_first=True),
    ],
    ids=lambda m: type(m).__name__,
)
def test_plain_stateful_modules_are_not_changed(module: torch.nn.Module) -> None:
    model = torch.nn.Sequential(module).train()
    x = torch.randn(3, 5, 4)
    before = _state(model)
    dltk.record(model, x)
    _same(_state(model), before)
    assert model.training and module.training


def test_unknown_layer_or_signal_names_raise_listing_what_exists() -> None:
    net = dltk.Network(_seq_layers())
    x = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match=r"no layer named 'lstm1'\. Layers: lstm, ") as e:
        dltk.record(net, x, layers=["lstm1"])
    assert "bilstm" in str(e.value)
    with pytest.raises(ValueError, match=r"no signal 'forget_gat'\. Signals: forget_gate, "):
        dltk.record(net, x, signals=["forget_gat"])
    with pytest.raises(ValueError, match=r"the chosen layers has no signal 'reset_gate'"):
        dltk.record(net, x, layers=["lstm"], signals=["reset_gate"])
    rec = dltk.record(net, x, layers=["gru"], signals=["reset_gate"])  # a valid choice still works
    assert list(rec["gru"]) == ["reset_gate"]


def test_the_assembly_of_a_layer_array_is_cached_and_reassembled_on_change() -> None:
    layers = _seq_layers()
    x = torch.randn(2, 5, 3)
    net = assembled(layers, (x,))
    assert assembled(layers, (x,)) is net  # same layers, same shapes: the cached network
    dltk.record(layers, x)
    assert assembled(layers, (x,)) is net
    assert assembled(layers, (torch.randn(3, 9, 3),)) is not net  # another input shape
    net2 = assembled(layers, (x,))
    changed = list(layers)
    changed[-1] = dltk.fullyConnectedLayer(3, Name="fc")  # another layer
    net3 = assembled(changed, (x,))
    assert net3 is not net2 and dltk.record(changed, x).output.shape == (2, 3)
    layers2 = list(changed)
    layers2[3].output_mode = "sequence"  # a layer changed in place
    assert assembled(layers2, (x,)) is not net3
    assert dltk.record(layers2, x).output.shape == (2, 5, 3)


def test_the_cache_does_not_keep_the_layers_alive() -> None:
    layers = _seq_layers()
    dltk.record(layers, torch.randn(2, 5, 3))
    ref = weakref.ref(layers[1])
    del layers
    gc.collect()
    assert ref() is None
