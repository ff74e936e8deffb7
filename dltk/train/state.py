"""Carrying recurrent state across calls (chunked training, stateful prediction).

Recurrent layers (LSTM, BiLSTM, GRU) start every forward pass from their
stored ``hidden_state``/``cell_state`` (MATLAB ``HiddenState``/``CellState``;
zeros when empty). :class:`StateCarrier` switches their state outputs on for
the duration of a block (MATLAB ``HasStateOutputs``), captures each layer's
end-of-sequence states with a forward hook, and lets the caller set the
initial states per observation — then restores everything.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["StateCarrier", "recurrent_layers"]

States = list[tuple[torch.Tensor | None, torch.Tensor | None]]


def recurrent_layers(net: nn.Module) -> list[Any]:
    """Recurrent layers whose state is stored in the layer (no state input ports)."""
    layers = getattr(net, "layers", None) or []
    return [
        lay for lay in layers if getattr(lay, "is_recurrent", False) and not getattr(lay, "has_state_inputs", False)
    ]


class StateCarrier:
    """Context manager: capture end states of the recurrent layers of ``net``.

    Inside the block, ``set(states)`` sets the initial states of the next
    forward pass ((B, n) tensors, or None for the layer's own stored state)
    and ``ends()`` returns the end states of the last pass. On exit, the
    layers' flags and stored states are restored unless ``keep=True``.
    """

    def __init__(self, net: nn.Module, keep: bool = False) -> None:
        self.layers = recurrent_layers(net)
        self.keep = keep
        self._ends: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def __enter__(self) -> StateCarrier:
        self._saved = [
            (lay.has_state_outputs, lay.hidden_state, getattr(lay, "cell_state", None)) for lay in self.layers
        ]
        self._hooks = []
        for i, lay in enumerate(self.layers):
            lay.has_state_outputs = True
            self._hooks.append(lay.register_forward_hook(self._hook(i)))
        return self

    def _hook(self, i: int) -> Any:
        def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
            self._ends[i] = (output[1], output[2] if len(output) > 2 else None)

        return hook

    def initial(self) -> States:
        """The stored initial states (as saved on entry)."""
        return [(s[1], s[2]) for s in self._saved]

    def set(self, states: States) -> None:
        for lay, (h, c) in zip(self.layers, states):
            lay.hidden_state = h
            if hasattr(lay, "cell_state"):
                lay.cell_state = c

    def ends(self) -> States:
        return [self._ends.get(i, (None, None)) for i in range(len(self.layers))]

    def __exit__(self, *exc: Any) -> None:
        for hk in self._hooks:
            hk.remove()
        for lay, (flag, h, c) in zip(self.layers, self._saved):
            lay.has_state_outputs = flag
            if not self.keep:
                lay.hidden_state = h
                if hasattr(lay, "cell_state"):
                    lay.cell_state = c


def expand_state(s: torch.Tensor | None, B: int, n: int, like: torch.Tensor) -> torch.Tensor:
    """A stored state (None, (n,), (1, n) or (B, n)) as a (B, n) tensor."""
    if s is None:
        return like.new_zeros(B, n)
    s = s.to(dtype=like.dtype, device=like.device)
    return s.expand(B, n).clone() if s.ndim == 1 or s.shape[0] == 1 else s.clone()
