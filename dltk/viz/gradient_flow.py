"""How far back the loss gradient reaches through an LSTM: ‖∂L/∂c_t‖ and ‖∂L/∂h_t‖ per time step.

The fused LSTM kernel does not expose its per-step states to autograd, so for
the chosen layer the recurrence is unrolled step by step in the layer's own
parameters (the same equations, checked to reproduce the layer's output) and
spliced into the network's forward pass with a forward hook while
``dltk.record(..., keep_graph=True)`` runs. ``torch.autograd.grad`` then gives
the *total* derivative of the loss with respect to every :math:`c_t` and
:math:`h_t` — through the output at later steps and through the recurrence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ..errors import NetworkError, OptionError
from ..introspect import record
from ..layers import GATE_FUNCTIONS, STATE_FUNCTIONS
from . import style as S

__all__ = ["GradientFlow", "gradient_flow", "unrolled_lstm"]


def _initial(state: Any, B: int, H: int, like: torch.Tensor) -> torch.Tensor:
    if state is None:
        return like.new_zeros(B, H)
    s = state.to(dtype=like.dtype, device=like.device)
    return s.expand(B, H) if s.ndim == 1 or s.shape[0] == 1 else s


def unrolled_lstm(layer: Any, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Run a dltk LSTM layer step by step on x (B, T, D); return (output, [c_t], [h_t]).

    Every :math:`c_t`, :math:`h_t` is a node of the autograd graph, so
    gradients with respect to them can be asked for.
    """
    gate = GATE_FUNCTIONS[layer.gate_activation_function]
    state = STATE_FUNCTIONS[layer.state_activation_function]
    W, R, b = layer.input_weights, layer.recurrent_weights, layer.bias
    B, T, _ = x.shape
    H = layer.num_hidden_units
    h = _initial(layer.hidden_state, B, H, x)
    c = _initial(layer.cell_state, B, H, x)
    xw = x @ W.t() + b  # (B, T, 4H)
    cs, hs = [], []
    for t in range(T):
        z = xw[:, t] + h @ R.t()  # (B, 4H)
        i, f, o = gate(z[:, :H]), gate(z[:, H : 2 * H]), gate(z[:, 3 * H :])
        g = state(z[:, 2 * H : 3 * H])
        c = f * c + i * g
        h = o * state(c)
        cs.append(c)
        hs.append(h)
    y = torch.stack(hs, 1) if layer.output_mode == "sequence" else hs[-1]
    return y, cs, hs


class GradientFlow:
    """Gradient norms through time for one LSTM layer (see the module docstring).

    Args:
        net_or_layer: a network, a layer array or a single LSTM layer.
        X: input (B, T, C) — equal-length sequences.
        targets: targets for the network's output layer; the loss is then
            MATLAB's loss. Without targets (or without an output layer) the
            loss is :math:`L = \\tfrac12 \\lVert y \\rVert^2` of the prediction.
        layer: the LSTM layer (name). Default: the first LSTM.
        observation: the observation whose gradients are shown, or None for
            the norm over the whole mini-batch. Default: None.

    Attributes:
        fig, loss (float), cell (ndarray (T,): ‖∂L/∂c_t‖), hidden (ndarray
        (T,): ‖∂L/∂h_t‖), lines (``{"cell", "hidden"}`` -> Line2D), layer.
    """

    def __init__(
        self, net_or_layer: Any, X: Any, targets: Any = None, layer: str | None = None, observation: int | None = None
    ) -> None:
        from ..layers.lstm import LSTM, BiLSTM

        where = "dltk.viz.gradient_flow"
        net = net_or_layer
        if isinstance(net, (list, tuple)):
            from ..network import Network

            net = Network(list(net))
        mods = [net] if isinstance(net, LSTM) else [m for m in net.modules() if isinstance(m, LSTM)]
        mods = [m for m in mods if not isinstance(m, BiLSTM)]
        if layer is not None:
            mods = [m for m in mods if m.label == layer]
        if not mods:
            raise OptionError(
                f"{where}: no (one-directional) LSTM layer {'named ' + repr(layer) if layer else ''} in the network."
            )
        lstm = mods[0]
        if lstm.has_state_inputs:
            raise OptionError(f"{where}: layer '{lstm.label}' has state inputs; not supported here.")
        self.layer = lstm.label
        X = torch.as_tensor(X, dtype=torch.get_default_dtype()) if not isinstance(X, torch.Tensor) else X
        captured: dict[str, Any] = {}

        def hook(mod: Any, inputs: Any, output: Any) -> Any:
            y, cs, hs = unrolled_lstm(mod, inputs[0])
            ref = output[0] if isinstance(output, tuple) else output
            if not torch.allclose(y, ref, rtol=1e-4, atol=1e-5):
                raise NetworkError(
                    f"{where}: the unrolled LSTM does not reproduce layer '{mod.label}' "
                    f"(max difference {float((y - ref).abs().max()):.3g})."
                )
            captured.update(cs=cs, hs=hs)
            return (y, *output[1:]) if isinstance(output, tuple) else y

        handle = lstm.register_forward_hook(hook)
        was_training = net.training
        net.eval()
        try:
            has_out = getattr(net, "output_layer", None) is not None or getattr(net, "is_output_layer", False)
            rec = record(
                net,
                X,
                targets=targets if has_out else None,
                keep_graph=True,
                layers=[self.layer],
                signals=["hidden_state"],
            )
            out = rec.output
            loss = out if targets is not None and has_out else 0.5 * (out**2).sum()
            grads = torch.autograd.grad(loss, captured["cs"] + captured["hs"], allow_unused=True)
        finally:
            handle.remove()
            net.train(was_training)
        T = len(captured["cs"])
        B = X.shape[0]
        if observation is not None:
            observation = S.check_index(where, "observation", observation, B)

        def norm(g: torch.Tensor | None) -> float:
            if g is None:
                return 0.0
            g = g if observation is None else g[observation]
            return float(g.detach().double().norm())

        self.loss = float(loss.detach())
        self.cell = np.array([norm(g) for g in grads[:T]])
        self.hidden = np.array([norm(g) for g in grads[T:]])
        self.observation = observation
        self._draw()

    def _draw(self) -> None:
        self.fig = fig = S.new_figure((7.5, 3.8))
        ax = fig.add_subplot(1, 1, 1)
        t = np.arange(len(self.cell))
        self.lines = {
            "cell": ax.plot(t, self.cell, lw=2, color=S.GATE_COLORS["cell_state"], label="‖∂L/∂c_t‖ cell state")[0],
            "hidden": ax.plot(
                t, self.hidden, lw=1.5, color=S.GATE_COLORS["hidden_state"], label="‖∂L/∂h_t‖ hidden state"
            )[0],
        }
        if (self.cell > 0).any() or (self.hidden > 0).any():
            ax.set_yscale("log")
        ax.set_xlabel("time step t", fontsize=9)
        ax.set_ylabel("gradient norm", fontsize=9)
        who = "whole mini-batch" if self.observation is None else f"observation {self.observation}"
        ax.set_title(f"Gradient of the loss (L = {self.loss:.4g}) through '{self.layer}' — {who}", fontsize=10)
        ax.legend(fontsize=8)
        fig.subplots_adjust(bottom=0.14, top=0.9)


def gradient_flow(
    net_or_layer: Any, X: Any, targets: Any = None, layer: str | None = None, observation: int | None = None
) -> Figure:
    """Norm of the loss gradient with respect to the cell and hidden state at each time step.

    .. math::
        \\left\\lVert \\frac{\\partial L}{\\partial c_t} \\right\\rVert, \\qquad
        \\left\\lVert \\frac{\\partial L}{\\partial h_t} \\right\\rVert, \\qquad t = 1 \\dots T

    where :math:`L` is the loss, :math:`c_t` the cell state and :math:`h_t`
    the hidden state of the LSTM layer at step :math:`t` (total derivatives,
    through all later steps). Through the additive update
    :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot g_t` the gradient reaching an
    early :math:`c_t` is multiplied only by forget gates, which is why the cell
    state carries long-term memory.

    Args:
        net_or_layer: a network, a layer array or a single LSTM layer.
        X: equal-length sequences (B, T, C) [MATLAB C×B×T CBT].
        targets: targets of the output layer; the loss is then MATLAB's
            (cross-entropy or half-MSE). Without them,
            :math:`L = \\tfrac12 \\lVert y \\rVert^2` of the prediction. Default: None.
        layer: the LSTM layer's name. Default: the first one-directional LSTM.
        observation: one observation's gradients, or None for the norm over
            the mini-batch. Default: None.

    Shape:
        ``fig.dltk_view.cell`` and ``.hidden`` are (T,): one norm per step.

    Returns:
        The figure (``fig.dltk_view`` is the :class:`GradientFlow` with the numbers).

    Example:
        >>> dltk.viz.gradient_flow(layers, X, targets=Y)
    """
    view = GradientFlow(net_or_layer, X, targets, layer, observation)
    view.fig.dltk_view = view  # type: ignore[attr-defined]
    return view.fig
