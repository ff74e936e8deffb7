"""Battery cases for the activation layers (references: torch.nn.functional ops in float64)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img


def _seq_layout(layer, layout="BTCHW"):
    layer.input_layout = layout
    return layer


def _prelu_explicit(layer, x):
    # channel axis: 1 for BC/BCHW, 2 for BTC
    c_axis = 2 if x.ndim == 3 else 1
    alpha = layer.Alpha.reshape([-1] + [1] * (x.ndim - c_axis - 1))
    return torch.where(x > 0, x, alpha * x)


_INT = torch.ones(2, 3, dtype=torch.int64)

CASES = [
    LayerCase(
        id="reluLayer-features",
        make=lambda: dltk.reluLayer(),
        inputs=lambda: [torch.randn(4, 6)],
        reference=lambda layer, x: F.relu(x),
        signal_shapes={"active": (4, 6)},
        bad_inputs=[([torch.randn(6)], "rank 1"), ([_INT], "floating-point")],
        bench=Bench(make=lambda: dltk.reluLayer(), torch=lambda: nn.ReLU(), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="reluLayer-image",
        make=lambda: dltk.reluLayer(Name="r"),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=lambda layer, x: F.relu(x),
        signal_shapes={"active": (2, 3, 4, 5)},
    ),
    LayerCase(
        id="leakyReluLayer-default-sequence",
        make=lambda: dltk.leakyReluLayer(),
        inputs=lambda: [torch.randn(2, 5, 3)],
        reference=lambda layer, x: F.leaky_relu(x, 0.01),
        signal_shapes={"negative": (2, 5, 3)},
        bad_inputs=[([torch.randn(1, 1, 1, 1, 1, 1)], "rank 6")],
        bench=Bench(make=lambda: dltk.leakyReluLayer(), torch=lambda: nn.LeakyReLU(0.01), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="leakyReluLayer-scale-image3d",
        make=lambda: dltk.leakyReluLayer(0.2),
        inputs=lambda: [torch.randn(2, 2, 3, 3, 3)],
        reference=lambda layer, x: F.leaky_relu(x, 0.2),
        signal_shapes={"negative": (2, 2, 3, 3, 3)},
    ),
    LayerCase(
        id="clippedReluLayer-image",
        make=lambda: dltk.clippedReluLayer(1.5),
        inputs=lambda: [2 * torch.randn(2, 3, 4, 4)],
        reference=lambda layer, x: F.hardtanh(x, 0.0, 1.5),
        signal_shapes={"clipped_low": (2, 3, 4, 4), "clipped_high": (2, 3, 4, 4)},
        bad_inputs=[([torch.randn(3)], "rank 1")],
        bench=Bench(make=lambda: dltk.clippedReluLayer(6), torch=lambda: nn.Hardtanh(0, 6), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="eluLayer-default-sequence",
        make=lambda: dltk.eluLayer(),
        inputs=lambda: [torch.randn(3, 4, 2)],
        reference=lambda layer, x: F.elu(x, 1.0),
        signal_shapes={"negative": (3, 4, 2)},
        bench=Bench(make=lambda: dltk.eluLayer(), torch=lambda: nn.ELU(), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="eluLayer-alpha-features",
        make=lambda: dltk.eluLayer(0.5, Name="elu_half"),
        inputs=lambda: [torch.randn(5, 3)],
        reference=lambda layer, x: F.elu(x, 0.5),
        signal_shapes={"negative": (5, 3)},
        bad_inputs=[([_INT], "floating-point")],
    ),
    LayerCase(
        id="tanhLayer-sequence",
        make=lambda: dltk.tanhLayer(),
        inputs=lambda: [torch.randn(2, 6, 3)],
        reference=lambda layer, x: torch.tanh(x),
        bad_inputs=[([torch.randn(4)], "rank 1")],
        bench=Bench(make=lambda: dltk.tanhLayer(), torch=lambda: nn.Tanh(), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="sigmoidLayer-image",
        make=lambda: dltk.sigmoidLayer(),
        inputs=lambda: [torch.randn(2, 3, 2, 2)],
        reference=lambda layer, x: torch.sigmoid(x),
        bad_inputs=[([_INT], "floating-point")],
        bench=Bench(make=lambda: dltk.sigmoidLayer(), torch=lambda: nn.Sigmoid(), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="softmaxLayer-features",
        make=lambda: dltk.softmaxLayer(),
        inputs=lambda: [torch.randn(4, 5)],
        reference=lambda layer, x: F.softmax(x, dim=1),
        signal_shapes={"logits": (4, 5), "probabilities": (4, 5)},
        bad_inputs=[([torch.randn(5)], "rank 1")],
        bench=Bench(make=lambda: dltk.softmaxLayer(), torch=lambda: nn.Softmax(dim=1), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="softmaxLayer-sequence",
        make=lambda: dltk.softmaxLayer(),
        inputs=lambda: [torch.randn(2, 7, 4)],
        reference=lambda layer, x: F.softmax(x, dim=2),
        signal_shapes={"logits": (2, 7, 4), "probabilities": (2, 7, 4)},
    ),
    LayerCase(
        id="softmaxLayer-image-per-pixel",
        make=lambda: dltk.softmaxLayer(),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=lambda layer, x: F.softmax(x, dim=1),
        signal_shapes={"probabilities": (2, 3, 4, 5)},
    ),
    LayerCase(
        id="softmaxLayer-image-sequence",
        make=lambda: _seq_layout(dltk.softmaxLayer()),
        inputs=lambda: [torch.randn(2, 3, 4, 2, 2)],
        reference=lambda layer, x: F.softmax(x, dim=2),
        signal_shapes={"probabilities": (2, 3, 4, 2, 2)},
    ),
    LayerCase(
        id="preluLayer-image",
        make=lambda: dltk.preluLayer(3, "prelu"),
        inputs=lambda: [torch.randn(2, 3, 4, 4)],
        reference=lambda layer, x: F.prelu(x, layer.Alpha.reshape(-1)),
        signal_shapes={"negative_part": (2, 3, 4, 4)},
        bad_inputs=[([torch.randn(2, 4, 4, 4)], "C is 4, expected 3"), ([torch.randn(3)], "rank 1")],
        bench=Bench(make=lambda: dltk.preluLayer(16), torch=lambda: nn.PReLU(16), inputs=lambda: [img()]),
    ),
    LayerCase(
        id="preluLayer-sequence",
        make=lambda: dltk.preluLayer(4),
        inputs=lambda: [torch.randn(2, 5, 4)],
        reference=_prelu_explicit,
        signal_shapes={"negative_part": (2, 5, 4)},
        bad_inputs=[([torch.randn(2, 5, 3)], "C is 3, expected 4")],
    ),
]
