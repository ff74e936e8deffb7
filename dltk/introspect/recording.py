"""``dltk.record``: run one forward pass and keep what happens inside.

The design follows TransformerLens' hook points: every layer has named signal
points (``Layer._emit``) that cost one ``is None`` test when unused. A
:class:`Recorder` is attached to the layers for the duration of one forward
pass only — it is always detached in a ``finally`` block, even when the
forward pass raises — and the captured tensors land in a :class:`Recording`,
keyed ``rec[layer_name][signal_name]``.

Every layer also has the implicit signal ``"output"`` (what MATLAB's
``activations`` returns), captured by a forward hook that exists only during
the recording.

Memory guard: a recording has a byte budget (default 512 MB, see
``dltk.config.record_budget_bytes`` or the ``DLTK_RECORD_BUDGET_MB``
environment variable; per call ``budget_mb=``). A capture that would exceed it
raises :class:`~dltk.errors.RecordingBudgetError` *before* allocating, saying
how much was needed and how to restrict ``layers=`` / ``signals=``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._config import budget_bytes
from ..errors import RecordingBudgetError

OUTPUT = "output"


def _mb(n: int) -> str:
    if n < 2**20:
        return f"{n / 2**10:,.1f} KB"
    return f"{n / 2**20:,.1f} MB"


@dataclass(frozen=True)
class NonFinite:
    """Where the first NaN/Inf of a recording appears."""

    layer: str
    signal: str
    time_step: int | None  # 0-based, None when the signal has no time axis
    observation: int | None

    def __str__(self) -> str:
        where = f"layer '{self.layer}', signal '{self.signal}'"
        if self.time_step is not None:
            where += f", time step {self.time_step + 1} (1-based; index {self.time_step})"
        if self.observation is not None:
            where += f", observation {self.observation}"
        return where


def _first_along(bad: torch.Tensor, axis: int) -> int:
    """First index along ``axis`` at which ``bad`` has a True entry."""
    per = bad.movedim(axis, 0).reshape(bad.shape[axis], -1).any(1)
    return int(torch.nonzero(per)[0])


class LayerSignals(Mapping[str, torch.Tensor]):
    """The signals recorded for one layer: ``rec["lstm_1"]["forget_gate"]``."""

    def __init__(self, layer: str) -> None:
        self.layer = layer
        self._data: dict[str, torch.Tensor] = {}
        self.layouts: dict[str, str | None] = {}

    def __getitem__(self, key: str) -> torch.Tensor:
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(
                f"layer '{self.layer}' has no recorded signal {key!r}; recorded: {', '.join(self._data) or 'none'}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self._data.items())
        return f"<signals of '{self.layer}': {inner}>"


class Recording(Mapping[str, LayerSignals]):
    """The result of :func:`record`: ``rec[layer_name][signal_name] -> Tensor``.

    Attributes:
        output: the network's (or layer's) output of the recorded pass.
        nbytes: bytes held by the recorded signals.
        budget: the byte budget the recording ran under.
    """

    def __init__(self, budget: int) -> None:
        self._layers: dict[str, LayerSignals] = {}
        self.output: Any = None
        self.nbytes = 0
        self.budget = budget

    def __getitem__(self, layer: str) -> LayerSignals:
        try:
            return self._layers[layer]
        except KeyError:
            raise KeyError(
                f"no recorded layer {layer!r}; recorded layers: {', '.join(self._layers) or 'none'}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    @property
    def layers(self) -> list[str]:
        """Names of the recorded layers, in execution order."""
        return list(self._layers)

    def signals(self, layer: str) -> list[str]:
        """Names of the signals recorded for ``layer``."""
        return list(self[layer])

    def _put(self, layer: str, signal: str, value: torch.Tensor, layout: str | None) -> None:
        entry = self._layers.setdefault(layer, LayerSignals(layer))
        if signal in entry._data:
            self.nbytes -= entry._data[signal].element_size() * entry._data[signal].numel()
        entry._data[signal] = value
        entry.layouts[signal] = layout
        self.nbytes += value.element_size() * value.numel()

    def first_nonfinite(self) -> NonFinite | None:
        """The first layer/signal/time step (in execution order) holding NaN or Inf."""
        for lname, sigs in self._layers.items():
            for sname, v in sigs.items():
                if not (v.is_floating_point() or v.is_complex()):
                    continue
                bad = ~torch.isfinite(v.detach())
                if not bool(bad.any()):
                    continue
                layout = sigs.layouts.get(sname)
                t = obs = None
                if layout and len(layout) == v.ndim:
                    if "T" in layout:
                        t = _first_along(bad, layout.index("T"))
                    if "B" in layout:
                        obs = _first_along(bad, layout.index("B"))
                return NonFinite(lname, sname, t, obs)
        return None

    def __repr__(self) -> str:
        lines = [f"Recording of {len(self)} layers, {_mb(self.nbytes)} (budget {_mb(self.budget)})"]
        for lname, sigs in self._layers.items():
            lines.append(f"  {lname}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in sigs.items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(ln)}</td><td>{escape(sn)}</td><td>{tuple(v.shape)}</td>"
            f"<td>{escape(str(sigs.layouts.get(sn) or ''))}</td></tr>"
            for ln, sigs in self._layers.items()
            for sn, v in sigs.items()
        )
        return (
            f"<b>Recording</b>: {len(self)} layers, {_mb(self.nbytes)} of {_mb(self.budget)}"
            "<table><tr><th>layer</th><th>signal</th><th>shape</th><th>layout</th></tr>" + rows + "</table>"
        )


class Recorder:
    """Collects signals during one forward pass (attached to layers by :func:`record`)."""

    def __init__(
        self,
        recording: Recording,
        layers: Iterable[str] | None = None,
        signals: Iterable[str] | None = None,
        keep_graph: bool = False,
    ) -> None:
        self.recording = recording
        self.layers = None if layers is None else set(layers)
        self.signals = None if signals is None else set(signals)
        self.keep_graph = keep_graph
        self.reserved = 0

    def wants(self, layer: nn.Module, signal: str) -> bool:
        name = getattr(layer, "label", None) or type(layer).__name__
        return (self.layers is None or name in self.layers) and (self.signals is None or signal in self.signals)

    def _check_budget(self, layer: nn.Module, nbytes: int, what: str) -> None:
        rec = self.recording
        need = rec.nbytes + self.reserved + nbytes
        if need > rec.budget:
            name = getattr(layer, "label", type(layer).__name__)
            raise RecordingBudgetError(
                f"dltk.record: capturing {what} of layer '{name}' needs {_mb(nbytes)}; with the "
                f"{_mb(rec.nbytes + self.reserved)} already recorded that is {_mb(need)}, over the budget of "
                f"{_mb(rec.budget)}. Record fewer layers or signals, e.g. "
                f"dltk.record(net, X, layers=['{name}'], signals=['hidden_state']), use fewer observations "
                f"or time steps, or raise the budget with budget_mb=…"
            )

    def reserve(self, layer: nn.Module, nbytes: int, what: str) -> None:
        """Check the budget for ``nbytes`` that are about to be allocated."""
        self._check_budget(layer, nbytes, what)
        self.reserved += nbytes

    def store(self, layer: nn.Module, signal: str, value: Any, layout: str | None = None) -> None:
        if not self.wants(layer, signal) or not isinstance(value, torch.Tensor):
            return
        nbytes = value.element_size() * value.numel()
        # reserved bytes turn into stored bytes as they arrive
        self.reserved = max(0, self.reserved - nbytes)
        self._check_budget(layer, nbytes, f"signal '{signal}'")
        v = value if self.keep_graph else value.detach()
        self.recording._put(getattr(layer, "label", type(layer).__name__), signal, v, layout)


def _dltk_layers(module: nn.Module) -> list[nn.Module]:
    from ..layers.base import Layer

    return [m for m in module.modules() if isinstance(m, Layer)]


def _runner(net: Any) -> tuple[nn.Module, list[nn.Module]]:
    """Turn a network, a layer array or a single layer into something callable."""
    from ..layers.base import Layer

    if isinstance(net, (list, tuple)):
        from ..network import Network

        net = Network(list(net))
    if not isinstance(net, nn.Module):
        raise TypeError(f"dltk.record: expected a network, a list of layers or a layer, got {type(net).__name__}")
    layers = _dltk_layers(net)
    if isinstance(net, Layer):
        layers = [net] + [m for m in layers if m is not net]
    return net, layers


def record(
    net: Any,
    X: Any,
    *,
    layers: Sequence[str] | str | None = None,
    signals: Sequence[str] | str | None = None,
    budget_mb: float | None = None,
    lengths: Any = None,
    targets: Any = None,
    keep_graph: bool = False,
) -> Recording:
    """Run one forward pass of ``net`` on ``X`` and record the layers' signals.

    Args:
        net: a :class:`dltk.network.Network`, a layer array (list of layers,
            with or without an output layer; assembled and auto-named like
            MATLAB does) or a single layer.
        X: input data (tensor or numpy array; a network also accepts what
            :meth:`Network.forward` accepts, e.g. a list of variable-length sequences).
        layers: restrict capture to these layer names. Default: all.
        signals: restrict capture to these signal names (``"output"`` is the
            layer output). Default: all.
        budget_mb: byte budget in MB. Default: ``dltk.config.record_budget_bytes`` (512 MB).
        lengths: per-observation sequence lengths for padded sequence batches.
        targets: with a network that ends in an output layer, also compute the
            loss so the loss layer's signals are recorded.
        keep_graph: keep the autograd graph on the recorded tensors (for
            gradients with respect to signals, e.g. the gradient-flow view).

    Returns:
        A :class:`Recording`. ``rec.output`` is the forward output.

    The recorder is always detached afterwards, even if the forward pass
    raises. Outputs equal those of a plain forward pass (to float tolerance).
    """
    module, mods = _runner(net)
    budget = budget_bytes(budget_mb)  # a positive number of MB (OptionError otherwise) or the default
    recording = Recording(budget)
    layers = [layers] if isinstance(layers, str) else layers
    signals = [signals] if isinstance(signals, str) else signals
    recorder = Recorder(recording, layers, signals, keep_graph)
    handles = []

    def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
        out = output[0] if isinstance(output, tuple) and output else output
        lay = mod.output_layout([getattr(mod, "input_layout", None)]) if hasattr(mod, "output_layout") else None
        if isinstance(out, torch.Tensor) and lay is not None and len(lay) != out.ndim:
            lay = None
        recorder.store(mod, OUTPUT, out, lay)

    try:
        for m in mods:
            m._recorder = recorder
            handles.append(m.register_forward_hook(hook))
        with torch.set_grad_enabled(keep_graph or torch.is_grad_enabled()):
            out = _forward(module, X, lengths, targets)
        recording.output = out if keep_graph else _detach(out)
    finally:
        for h in handles:
            h.remove()
        for m in mods:
            m._recorder = None
    return recording


def _detach(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.detach()
    if isinstance(out, (tuple, list)):
        return type(out)(_detach(o) for o in out)
    return out


def _forward(module: nn.Module, X: Any, lengths: Any, targets: Any) -> Any:
    from ..layers.base import Layer

    if isinstance(module, Layer):
        if isinstance(X, (tuple, list)) and len(module.input_names) > 1:  # multi-input layer: one tensor per port
            xs = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.get_default_dtype()) for x in X]
            return module(*xs)
        x = X if isinstance(X, torch.Tensor) else torch.as_tensor(X, dtype=torch.get_default_dtype())
        if module.is_output_layer:
            if targets is None:
                return module(x)
            if lengths is not None:
                return module.loss(x, targets, lengths=lengths)
            return module.loss(x, targets)
        if module.accepts_lengths and lengths is not None:
            return module(x, lengths=lengths)
        return module(x)
    if targets is not None and hasattr(module, "loss"):
        return module.loss(X, targets, lengths=lengths)
    if lengths is not None:
        return module(X, lengths=lengths)
    return module(X)
