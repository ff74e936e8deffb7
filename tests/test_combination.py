"""Combination layers: ports, MATLAB dimension mapping, gradients, size errors naming both inputs."""

from __future__ import annotations

import pytest
import torch

import dltk
from dltk.errors import LayerInputError, OptionError

D = torch.float64


def test_ports_and_descriptions() -> None:
    add = dltk.additionLayer(3, "Name", "add")
    assert add.InputNames == ["in1", "in2", "in3"] and add.NumInputs == 3 and add.OutputNames == ["out"]
    assert add.signals == ("input_1", "input_2", "input_3") and set(add.signal_docs) == set(add.signals)
    assert str(add) == "add: Element-wise addition of 3 inputs"
    assert dltk.multiplicationLayer(2).description() == "Element-wise multiplication of 2 inputs"
    assert dltk.depthConcatenationLayer(4).description() == "Depth concatenation of 4 inputs"
    assert dltk.concatenationLayer(3, 2).description() == "Concatenation of 2 inputs along dimension 3"
    with pytest.raises(OptionError, match="additionLayer: numInputs must be at least 2"):
        dltk.additionLayer(1)
    with pytest.raises(OptionError, match="concatenationLayer: dim must be a positive integer"):
        dltk.concatenationLayer(0, 2)


@pytest.mark.parametrize(
    "layout, dims",
    [
        ("BC", {1: 1}),  # C×B
        ("BTC", {1: 2, 3: 1}),  # C×B×T
        ("BCHW", {1: 2, 2: 3, 3: 1}),  # h×w×c×B
        ("BCDHW", {1: 3, 2: 4, 3: 2, 4: 1}),  # h×w×d×c×B
        ("BTCHW", {1: 3, 2: 4, 3: 2, 5: 1}),  # h×w×c×B×T
    ],
)
def test_concatenation_dim_follows_the_matlab_array(layout, dims) -> None:
    batch_dim = len(layout) - (1 if "T" in layout else 0)  # B is the last MATLAB dim (before T)
    for dim, axis in dims.items():
        assert dltk.concatenationLayer(dim, 2).torch_axis(layout) == axis
    with pytest.raises(LayerInputError, match="the batch dimension"):
        dltk.concatenationLayer(batch_dim, 2).torch_axis(layout)


def test_gradients_match_torch_ops() -> None:
    xs = [torch.randn(2, 3, 4, dtype=D, requires_grad=True) for _ in range(3)]
    cases = [
        (dltk.additionLayer(3), lambda a, b, c: a + b + c),
        (dltk.multiplicationLayer(3), lambda a, b, c: a * b * c),
        (dltk.depthConcatenationLayer(3), lambda *t: torch.cat(t, 2)),
        (dltk.concatenationLayer(3, 3), lambda *t: torch.cat(t, 1)),  # CBT dim 3 = time
    ]
    for layer, ref in cases:
        y, y_ref = layer(*xs), ref(*xs)
        g = torch.randn_like(y)
        got = torch.autograd.grad((y * g).sum(), xs)
        want = torch.autograd.grad((y_ref * g).sum(), xs)
        assert torch.equal(y, y_ref), layer.matlab_name
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, atol=1e-14, rtol=0)


def test_weighted_addition_is_the_matlab_custom_layer_example() -> None:
    layer = dltk.weightedAdditionLayer(3, "wadd").double()
    assert layer.name == "wadd" and tuple(layer.Weights.shape) == (1, 3) and layer.InputNames == ["in1", "in2", "in3"]
    assert 0 <= layer.Weights.min() and layer.Weights.max() < 1
    xs = [torch.randn(2, 4, 3, 3, dtype=D, requires_grad=True) for _ in range(3)]
    y = layer(*xs)
    dz = torch.randn_like(y)
    (y * dz).sum().backward()
    w = layer.Weights.detach()[0]
    for i, x in enumerate(xs):  # MATLAB: dX_i = W_i dZ, dW_i = sum(dZ .* X_i)
        torch.testing.assert_close(x.grad, w[i] * dz)
        torch.testing.assert_close(layer.Weights.grad[0, i], (dz * x.detach()).sum())
    rec = dltk.record(layer, tuple(x.detach() for x in xs))
    torch.testing.assert_close(rec["wadd"]["weighted_2"], w[1] * xs[1].detach())


def test_size_mismatch_names_both_inputs_in_both_notations() -> None:
    with pytest.raises(LayerInputError) as err:
        dltk.additionLayer(2, Name="add")(torch.randn(2, 3, 4, 4), torch.randn(2, 3, 5, 4))
    msg = str(err.value)
    assert "additionLayer 'add'" in msg
    assert "in1 is (2, 3, 4, 4) BCHW [MATLAB 4×4×3×2 SSCB]" in msg
    assert "in2 is (2, 3, 5, 4) BCHW [MATLAB 5×4×3×2 SSCB]" in msg
    with pytest.raises(LayerInputError, match="depthConcatenationLayer 'depthcat'.*except along C.*in2 is"):
        dltk.depthConcatenationLayer(2)(torch.randn(2, 3, 4, 4), torch.randn(3, 1, 4, 4))
    with pytest.raises(LayerInputError, match=r"multiplicationLayer 'multiplication': expected 2 inputs \(in1, in2\)"):
        dltk.multiplicationLayer(2)(torch.randn(2, 3))


@pytest.mark.parametrize(
    "second, why",
    [
        (torch.randn(2, 3, 4), "in2 is \\(2, 3, 4\\) BTC"),  # another rank: torch.cat refuses, the check says why
        (torch.randn(2, 3, 4, 5), "except along C"),  # another width
        (torch.empty(0), "in2|empty|rank"),  # torch.cat would skip a legacy empty (0,) tensor silently
        (torch.empty(2, 0, 4, 4), "empty"),  # no channels
        (torch.ones(2, 3, 4, 4, dtype=torch.int64), "floating-point"),
    ],
)
def test_concatenation_refuses_what_torch_cat_would_accept_or_refuse_opaquely(second: torch.Tensor, why: str) -> None:
    for layer in (dltk.depthConcatenationLayer(2, Name="cat"), dltk.concatenationLayer(3, 2, Name="cat")):
        with pytest.raises(LayerInputError, match=f"'cat'.*({why})"):
            layer(torch.randn(2, 3, 4, 4), second)
