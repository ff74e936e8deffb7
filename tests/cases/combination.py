"""Battery cases for the combination layers (references: torch.add/mul/cat, explicit sums)."""

from __future__ import annotations

import torch

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img


def _weighted(layer, *xs):
    return sum(float(layer.Weights[0, i]) * x for i, x in enumerate(xs))


CASES = [
    LayerCase(
        id="additionLayer-2-features",
        make=lambda: dltk.additionLayer(2),
        inputs=lambda: [torch.randn(3, 4), torch.randn(3, 4)],
        reference=lambda layer, a, b: torch.add(a, b),
        signal_shapes={"input_1": (3, 4), "input_2": (3, 4)},
        bad_inputs=[
            ([torch.randn(3, 4), torch.randn(3, 5)], "in1 is (3, 4) BC [MATLAB 4×3 CB] but in2 is (3, 5)"),
            ([torch.randn(3, 4)], "expected 2 inputs"),
            ([torch.randn(3, 4), torch.randn(3, 4, 1)], "in2 is (3, 4, 1) BTC"),
        ],
        bench=Bench(make=lambda: dltk.additionLayer(2), torch=lambda: torch.add, inputs=lambda: [img(), img()]),
    ),
    LayerCase(
        id="additionLayer-3-image",
        make=lambda: dltk.additionLayer(3, "Name", "add"),
        inputs=lambda: [torch.randn(2, 3, 4, 4) for _ in range(3)],
        reference=lambda layer, a, b, c: a + b + c,
        signal_shapes={"input_3": (2, 3, 4, 4)},
        bad_inputs=[([torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 5)], "in3 is")],
    ),
    LayerCase(
        id="multiplicationLayer-2-sequence",
        make=lambda: dltk.multiplicationLayer(2),
        inputs=lambda: [torch.randn(2, 5, 3), torch.randn(2, 5, 3)],
        reference=lambda layer, a, b: torch.mul(a, b),
        signal_shapes={"input_1": (2, 5, 3)},
        bad_inputs=[([torch.randn(2, 5, 3), torch.randn(2, 6, 3)], "but in2 is (2, 6, 3)")],
        bench=Bench(make=lambda: dltk.multiplicationLayer(2), torch=lambda: torch.mul, inputs=lambda: [img(), img()]),
    ),
    LayerCase(
        id="depthConcatenationLayer-2-image",
        make=lambda: dltk.depthConcatenationLayer(2),
        inputs=lambda: [torch.randn(2, 3, 4, 4), torch.randn(2, 2, 4, 4)],
        reference=lambda layer, a, b: torch.cat([a, b], 1),
        signal_shapes={"input_1": (2, 3, 4, 4), "input_2": (2, 2, 4, 4)},
        bad_inputs=[([torch.randn(2, 3, 4, 4), torch.randn(2, 2, 5, 4)], "same size except along C")],
        bench=Bench(
            make=lambda: dltk.depthConcatenationLayer(2),
            torch=lambda: lambda a, b: torch.cat([a, b], 1),
            inputs=lambda: [img(), img(c=8)],
        ),
    ),
    LayerCase(
        id="depthConcatenationLayer-3-sequence",
        make=lambda: dltk.depthConcatenationLayer(3),
        inputs=lambda: [torch.randn(2, 5, 1), torch.randn(2, 5, 2), torch.randn(2, 5, 3)],
        reference=lambda layer, *xs: torch.cat(xs, 2),
        signal_shapes={"input_3": (2, 5, 3)},
    ),
    LayerCase(
        id="concatenationLayer-dim3-image-channels",
        make=lambda: dltk.concatenationLayer(3, 2),
        inputs=lambda: [torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4)],
        reference=lambda layer, a, b: torch.cat([a, b], 1),
        bad_inputs=[([torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 3)], "same size except along C")],
        bench=Bench(
            make=lambda: dltk.concatenationLayer(3, 2),
            torch=lambda: lambda a, b: torch.cat([a, b], 1),
            inputs=lambda: [img(), img(c=8)],
        ),
    ),
    LayerCase(
        id="concatenationLayer-dim1-image-height",
        make=lambda: dltk.concatenationLayer(1, 2),
        inputs=lambda: [torch.randn(2, 3, 4, 5), torch.randn(2, 3, 2, 5)],
        reference=lambda layer, a, b: torch.cat([a, b], 2),
    ),
    LayerCase(
        id="concatenationLayer-dim1-sequence-channels",
        make=lambda: dltk.concatenationLayer(1, 2),
        inputs=lambda: [torch.randn(2, 5, 3), torch.randn(2, 5, 2)],
        reference=lambda layer, a, b: torch.cat([a, b], 2),
        bad_inputs=[([torch.randn(2, 5, 3), torch.randn(2, 4, 2)], "same size except along C")],
    ),
    LayerCase(
        id="concatenationLayer-dim3-sequence-time",
        make=lambda: dltk.concatenationLayer(3, 2),
        inputs=lambda: [torch.randn(2, 5, 3), torch.randn(2, 2, 3)],
        reference=lambda layer, a, b: torch.cat([a, b], 1),
        bad_inputs=[([torch.randn(2, 5), torch.randn(2, 5)], "dim 3 of CB data")],
    ),
    LayerCase(
        id="concatenationLayer-dim4-rejects-batch",
        make=lambda: dltk.concatenationLayer(4, 2),
        inputs=lambda: [torch.randn(2, 3, 2, 2, 2), torch.randn(2, 1, 2, 2, 2)],  # SSSCB: dim 4 = C
        reference=lambda layer, a, b: torch.cat([a, b], 1),
        bad_inputs=[([torch.randn(2, 3, 2, 2), torch.randn(1, 3, 2, 2)], "the batch dimension")],
    ),
    LayerCase(
        id="weightedAdditionLayer-3-image",
        make=lambda: dltk.weightedAdditionLayer(3, "wadd"),
        inputs=lambda: [torch.randn(2, 3, 2, 2) for _ in range(3)],
        reference=_weighted,
        signal_shapes={"weighted_1": (2, 3, 2, 2), "weighted_3": (2, 3, 2, 2)},
        bad_inputs=[
            ([torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 1)], "in3 is (2, 3, 2, 1)"),
            ([torch.randn(2, 3, 2, 2)], "expected 3 inputs"),
        ],
        bench=Bench(
            make=lambda: dltk.weightedAdditionLayer(2),
            torch=lambda: (lambda w: lambda a, b: w[0] * a + w[1] * b)(torch.rand(2)),
            inputs=lambda: [img(), img()],
        ),
    ),
]
