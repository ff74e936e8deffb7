"""One declarative test case per layer configuration (PyTorch's ModuleInfo idea).

Every catalog layer contributes :class:`LayerCase` entries (in
``tests/cases/<family>.py``, list ``CASES``); the shared battery
(:mod:`dltk.testing.battery`) runs the same checks over all of them:
reference match in float64, gradcheck, recording leaves outputs unchanged,
documented signals present with their shapes, description/repr, state-dict
round trip, bad-input errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

Tensor = torch.Tensor


@dataclass
class Bench:
    """A layer's entry in the per-layer benchmark (``benchmarks/bench_layers.py``).

    The layer at the sizes a student's network feeds it, beside its PyTorch
    counterpart; float32, evaluation mode unless ``train``.

    Attributes:
        torch: builds the PyTorch side: its module (``nn.Conv2d`` …) or a
            callable doing the op or formula of ``torch_equivalent``.
        inputs: the input tensors (float32, benchmark sizes).
        make: builds the dltk layer; None: the case's own ``make``.
        layouts: input layouts given to ``setup`` (default: from the ranks).
        train: time both sides in training mode (dropout).
        targets: output layers: ``targets()``; then ``layer.loss(y, targets)``
            is timed against ``torch(y, targets)``.
        note: a remark printed beside the row.
    """

    torch: Callable[[], Callable[..., Any]]
    inputs: Callable[[], Sequence[Any]]
    make: Callable[[], Any] | None = None
    layouts: Sequence[str | None] = ()
    train: bool = False
    targets: Callable[[], Any] | None = None
    note: str = ""


@dataclass
class LayerCase:
    """How to build, feed and check one layer configuration.

    Attributes:
        id: test id, e.g. ``"lstmLayer-last"``.
        make: builds the layer (the battery converts it to float64).
        inputs: returns the float64 input tensors (small: a few observations).
        reference: ``reference(layer, *inputs) -> output`` computed
            independently in float64 — with the corresponding PyTorch module or
            functional op (weights copied from ``layer``), or an explicit formula
            where PyTorch has none. ``None`` only for layers with no math (input
            layers check normalization through this too).
        kwargs: extra keyword arguments for ``forward`` (e.g. ``lengths``).
        targets: for output layers, ``targets()`` -> the target tensor; then
            ``reference`` receives ``(layer, *inputs, targets)`` and returns the loss.
        train: run the layer in training mode (batch-norm statistics, dropout).
            Random layers must be checked with a seeded generator: the battery
            calls ``torch.manual_seed(0)`` before both runs it compares.
        gradcheck: run ``torch.autograd.gradcheck`` on inputs and parameters.
        signal_shapes: ``{signal: shape}`` expected from ``dltk.record``
            (omitted signals are only checked for presence). Every name in
            ``layer.signals`` must be recorded unless listed in ``absent_signals``.
        absent_signals: signals legitimately not produced in this configuration.
        bad_inputs: ``[(inputs_tuple, message_fragment), …]`` — each must raise a
            ``dltk.errors.LayerInputError`` whose message contains the fragment.
        atol, rtol: tolerances of the reference match (float64).
        bench: the layer's per-layer benchmark entry (one case per catalog
            layer carries one), or None.
    """

    id: str
    make: Callable[[], Any]
    inputs: Callable[[], Sequence[Tensor]]
    reference: Callable[..., Any] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    targets: Callable[[], Tensor] | None = None
    train: bool = False
    gradcheck: bool = True
    signal_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    absent_signals: tuple[str, ...] = ()
    bad_inputs: list[tuple[Sequence[Any], str]] = field(default_factory=list)
    atol: float = 1e-10
    rtol: float = 1e-7
    bench: Bench | None = None
