"""``dltk.record``: run one forward pass and keep what happens inside.

The design follows TransformerLens' hook points: every dltk layer has named
signal points (``Layer._emit``) that cost one ``is None`` test when unused. A
:class:`Recorder` is attached to the layers for the duration of one forward
pass only — it is always detached in a ``finally`` block, even when the
forward pass raises — and the captured tensors land in a :class:`Recording`,
keyed ``rec[layer_name][signal_name]``.

Any ``torch.nn.Module`` can be recorded, not only dltk networks: the PyTorch
modules of :mod:`dltk.introspect.torch_modules` (``nn.LSTM``, ``nn.Conv2d``,
``nn.BatchNorm2d`` …) are recorded under their qualified names
(``"encoder.lstm"``) with the signals of their dltk counterparts; every other
module is a black box whose output is recorded and whose name is listed in
``rec.unrecognised``.

Every layer also has the implicit signal ``"output"`` (what MATLAB's
``activations`` returns), captured by a forward hook that exists only during
the recording.

A recording never changes the model: the modules keep their mode
(training/prediction), their parameters and their buffers (a batch
normalization in training mode normalizes with the batch statistics but does
not move its running statistics), and all hooks are removed afterwards.

Memory guard: a recording has a byte budget (default 512 MB, see
``dltk.config.record_budget_bytes`` or the ``DLTK_RECORD_BUDGET_MB``
environment variable; per call ``budget_mb=``). A capture that would exceed it
raises :class:`~dltk.errors.RecordingBudgetError` *before* allocating, saying
how much was needed and how to restrict ``layers=`` / ``signals=``
(:func:`_check_budget`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._config import budget_bytes
from ..errors import RecordingBudgetError
from ..layers.base import Layer
from ._memory import keep_freed_memory
from .torch_modules import Probe, recogniser_for
from .torch_modules.base import first_tensor

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


class Derived:
    """A signal that follows from tensors the recording holds anyway, computed when first read.

    ``pre_bias = y − b``, ``padded_input = pad(x)``, ``normalized = (x − μ)/σ``, the max-pooling
    ``switch_mask`` … cost a pass over memory each; a recording keeps the function and its
    sources (already recorded, or the module's input) and computes the tensor on first access
    (then keeps it). Its bytes count against the budget when it is recorded, like any signal.
    """

    __slots__ = ("fn", "sources", "grad", "shape", "dtype")

    def __init__(self, fn: Any, sources: list[torch.Tensor], grad: bool, shape: Any, dtype: torch.dtype) -> None:
        self.fn, self.sources, self.grad, self.shape, self.dtype = fn, sources, grad, torch.Size(shape), dtype

    def value(self) -> torch.Tensor:
        with torch.set_grad_enabled(self.grad):
            return self.fn(*self.sources)

    def nbytes(self) -> int:
        return self.shape.numel() * self.dtype.itemsize


class LayerSignals(Mapping[str, torch.Tensor]):
    """The signals recorded for one layer: ``rec["lstm_1"]["forget_gate"]``."""

    def __init__(self, layer: str) -> None:
        self.layer = layer
        self._data: dict[str, torch.Tensor] = {}
        self.layouts: dict[str, str | None] = {}
        self._aliases: dict[str, str] = {}  # other names of a signal (``forget_gate_l0`` -> ``forget_gate``)

    def __getitem__(self, key: str) -> torch.Tensor:
        key = self._aliases.get(key, key)
        try:
            v = self._data[key]
        except KeyError:
            raise KeyError(
                f"layer '{self.layer}' has no recorded signal {key!r}; recorded: {', '.join(self._data) or 'none'}"
            ) from None
        if v.__class__ is Derived:
            v = self._data[key] = v.value()
        return v

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def shape(self, key: str) -> torch.Size:
        """The shape of a signal without computing it."""
        return self._data[self._aliases.get(key, key)].shape

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self._data.items())
        return f"<signals of '{self.layer}': {inner}>"


class Recording(Mapping[str, LayerSignals]):
    """The result of :func:`record`: ``rec[layer_name][signal_name] -> Tensor``.

    Attributes:
        output: the network's (or layer's) output of the recorded pass.
        nbytes: bytes held by the recorded signals.
        budget: the byte budget the recording ran under.
        unrecognised: names of the modules recorded as black boxes (their output only).
        kinds: layer name -> class name of the recorded module.
    """

    def __init__(self, budget: int) -> None:
        self._layers: dict[str, LayerSignals] = {}
        self.output: Any = None
        self.nbytes = 0
        self.budget = budget
        #: qualified names of the modules recorded as black boxes (output only): PyTorch
        #: modules dltk does not recognise, and custom modules computing with their own parameters
        self.unrecognised: list[str] = []
        #: layer name -> the module's class name (``"LSTM"``, ``"Conv2d"``, ``"Network"`` …)
        self.kinds: dict[str, str] = {}

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

    def _put(self, layer: str, signal: str, value: torch.Tensor, layout: str | None, nbytes: int | None = None) -> None:
        entry = self._layers.get(layer)
        if entry is None:
            entry = self._layers[layer] = LayerSignals(layer)
        old = entry._data.get(signal)
        if old is not None:
            self.nbytes -= old.nbytes() if old.__class__ is Derived else old.element_size() * old.numel()
        entry._data[signal] = value
        entry.layouts[signal] = layout
        self.nbytes += value.element_size() * value.numel() if nbytes is None else nbytes

    def _alias(self, layer: str, alias: str, signal: str) -> None:
        entry = self._layers.get(layer)
        if entry is not None and signal in entry._data:
            entry._aliases[alias] = signal

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
            lines.append(f"  {lname}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in sigs._data.items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(ln)}</td><td>{escape(sn)}</td><td>{tuple(v.shape)}</td>"
            f"<td>{escape(str(sigs.layouts.get(sn) or ''))}</td></tr>"
            for ln, sigs in self._layers.items()
            for sn, v in sigs._data.items()
        )
        return (
            f"<b>Recording</b>: {len(self)} layers, {_mb(self.nbytes)} of {_mb(self.budget)}"
            "<table><tr><th>layer</th><th>signal</th><th>shape</th><th>layout</th></tr>" + rows + "</table>"
        )


def _check_budget(recording: Recording, reserved: int, nbytes: int, name: str, what: str) -> None:
    """Refuse a capture of ``nbytes`` that would take the recording over its budget.

    Called *before* the bytes are allocated (by :meth:`Recorder.reserve` ahead of a
    computation, and by :meth:`Recorder.store` for a tensor that already exists).
    """
    need = recording.nbytes + reserved + nbytes
    if need > recording.budget:
        raise RecordingBudgetError(
            f"dltk.record: capturing {what} of layer '{name}' needs {_mb(nbytes)}; with the "
            f"{_mb(recording.nbytes + reserved)} already recorded that is {_mb(need)}, over the budget of "
            f"{_mb(recording.budget)}. Record fewer layers or signals, e.g. "
            f"dltk.record(net, X, layers=['{name}'], signals=['hidden_state']), use fewer observations "
            f"or time steps, or raise the budget with budget_mb=…"
        )


def _budget_bytes(budget_mb: Any) -> int:
    """The byte budget of one recording (``budget_mb=`` or ``dltk.config.record_budget_bytes``).

    A positive number of MB; anything else is a clear ``OptionError`` (see ``dltk._config.budget_bytes``).
    """
    return budget_bytes(budget_mb)


class Recorder:
    """Collects signals during one forward pass (attached to layers by :func:`record`).

    ``names`` maps ``id(module)`` to the name its signals are recorded under
    (a dltk layer's label, or the qualified name in a plain PyTorch model).
    """

    def __init__(
        self,
        recording: Recording,
        layers: Iterable[str] | None = None,
        signals: Iterable[str] | None = None,
        keep_graph: bool = False,
        names: dict[int, str] | None = None,
    ) -> None:
        self.recording = recording
        self.layers = None if layers is None else set(layers)
        self.signals = None if signals is None else set(signals)
        self.keep_graph = keep_graph
        self.reserved = 0
        self.names = names or {}
        #: data_ptr of every recorded tensor -> [(layer, signal)]: an in-place module clones them first
        self._ptrs: dict[int, list[tuple[str, str]]] = {}
        #: True when the model has in-place modules (``inplace=True``): then recorded tensors are tracked
        self.track_inplace = False
        #: run recurrent modules as differentiable step loops (``record(..., differentiable=True)``)
        self.differentiable = False

    def name_of(self, layer: nn.Module) -> str:
        name = self.names.get(id(layer))
        return name if name is not None else (getattr(layer, "label", None) or type(layer).__name__)

    def wants(self, layer: nn.Module, signal: str) -> bool:
        return self.wants_name(self.name_of(layer), signal)

    def wants_name(self, name: str, signal: str) -> bool:
        return (self.layers is None or name in self.layers) and (self.signals is None or signal in self.signals)

    def _check_budget(self, layer: nn.Module, nbytes: int, what: str) -> None:
        _check_budget(self.recording, self.reserved, nbytes, self.name_of(layer), what)

    def reserve(self, layer: nn.Module, nbytes: int, what: str) -> None:
        """Check the budget for ``nbytes`` that are about to be allocated."""
        self.reserve_name(self.name_of(layer), nbytes, what)

    def reserve_name(self, name: str, nbytes: int, what: str) -> None:
        _check_budget(self.recording, self.reserved, nbytes, name, what)
        self.reserved += nbytes

    def store(self, layer: nn.Module, signal: str, value: Any, layout: str | None = None) -> None:
        self.store_name(self.name_of(layer), signal, value, layout)

    def store_name(self, name: str, signal: str, value: Any, layout: str | None = None) -> None:
        if not isinstance(value, torch.Tensor):
            return
        if (self.layers is not None and name not in self.layers) or (
            self.signals is not None and signal not in self.signals
        ):
            return
        nbytes = value.element_size() * value.numel()
        # reserved bytes turn into stored bytes as they arrive
        self.reserved = max(0, self.reserved - nbytes)
        rec = self.recording
        if rec.nbytes + self.reserved + nbytes > rec.budget:
            _check_budget(rec, self.reserved, nbytes, name, f"signal '{signal}'")
        v = value if self.keep_graph or not value.requires_grad else value.detach()
        rec._put(name, signal, v, layout, nbytes)
        if self.track_inplace and nbytes:
            self._ptrs.setdefault(v.data_ptr(), []).append((name, signal))

    def store_derived(
        self,
        name: str,
        signal: str,
        fn: Any,
        sources: list[torch.Tensor],
        shape: Any,
        dtype: torch.dtype,
        layout: str | None,
    ) -> None:
        """Record ``fn(*sources)`` (of ``shape``/``dtype``) to be computed when first read (see :class:`Derived`)."""
        if (self.layers is not None and name not in self.layers) or (
            self.signals is not None and signal not in self.signals
        ):
            return
        if not self.keep_graph:
            sources = [t.detach() if t.requires_grad else t for t in sources]
        d = Derived(fn, sources, self.keep_graph and torch.is_grad_enabled(), shape, dtype)
        nbytes = d.nbytes()
        self.reserved = max(0, self.reserved - nbytes)
        rec = self.recording
        if rec.nbytes + self.reserved + nbytes > rec.budget:
            _check_budget(rec, self.reserved, nbytes, name, f"signal '{signal}'")
        rec._put(name, signal, d, layout, nbytes)  # type: ignore[arg-type]
        if self.track_inplace:
            for t in sources:
                if t.numel():
                    self._ptrs.setdefault(t.data_ptr(), []).append((name, signal))

    def protect(self, x: Any) -> None:
        """Before a module overwrites ``x`` in place: keep a copy of any recorded tensor sharing its memory."""
        if not isinstance(x, torch.Tensor) or not self._ptrs or not x.numel():
            return
        copies: dict[int, torch.Tensor] = {}

        def copy(t: torch.Tensor) -> torch.Tensor:
            if id(t) not in copies:
                copies[id(t)] = t.clone()
            return copies[id(t)]

        ptr = x.data_ptr()
        for layer, signal in self._ptrs.pop(ptr, ()):
            sigs = self.recording._layers[layer]
            old = sigs._data[signal]
            if old.__class__ is Derived:
                old.sources = [copy(t) if t.data_ptr() == ptr else t for t in old.sources]
            elif old.data_ptr() == ptr:
                sigs._data[signal] = copy(old)


# ----------------------------------------------------------------------- the plan
@dataclass
class _Entry:
    """One module of the model as the recording sees it."""

    name: str
    module: nn.Module
    kind: str  # "dltk" (a dltk layer), "torch" (a recognised PyTorch module), "container", "opaque"
    signals: tuple[str, ...]
    recogniser: Any = None


_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _is_dltk_network(model: nn.Module) -> bool:
    """A dltk ``Network`` (its layers are named by their labels), recognised without importing it."""
    return hasattr(model, "layer_names") and hasattr(model, "nodes") and hasattr(model, "activation_layouts")


def _plan(model: nn.Module) -> list[_Entry]:
    """Every module of ``model`` with its recording name, kind and signal names (call order comes later)."""
    if isinstance(model, Layer):
        return [_Entry(model.label, model, "dltk", tuple(model.signals))]
    if _is_dltk_network(model):
        return [_Entry(m.label, m, "dltk", tuple(m.signals)) for m in model.modules() if isinstance(m, Layer)]
    entries = []
    for qual, m in model.named_modules():
        name = qual or type(m).__name__.lower()
        if isinstance(m, Layer):
            entries.append(_Entry(name, m, "dltk", tuple(m.signals)))
            continue
        rec = recogniser_for(m)
        if rec is not None:
            entries.append(_Entry(name, m, "torch", tuple(rec.signals(m)), rec))
        elif isinstance(m, _CONTAINERS) or (
            next(m.children(), None) is not None and next(m.parameters(recurse=False), None) is None
        ):
            if qual:  # the root container's output is rec.output
                entries.append(_Entry(name, m, "container", ()))
        else:
            entries.append(_Entry(name, m, "opaque", ()))
    return entries


def _closest_first(bad: str, names: Sequence[str]) -> list[str]:
    close = difflib.get_close_matches(bad, names, n=len(names), cutoff=0.0)
    return close or list(names)


def _check_names(entries: list[_Entry], layers: list[str] | None, signals: list[str] | None) -> None:
    """Unknown ``layers=`` names or ``signals=`` entries: a clear error listing what exists, closest first."""
    known = [e.name for e in entries]
    for bad in [n for n in layers or () if n not in known]:
        raise ValueError(
            f"dltk.record: no layer named {bad!r}. Layers: {', '.join(_closest_first(bad, known)) or 'none'}."
        )
    if signals is None:
        return
    chosen = [e for e in entries if layers is None or e.name in layers]
    available = list(dict.fromkeys(s for e in chosen for s in (*e.signals, OUTPUT)))
    for bad in [s for s in signals if s not in available]:
        where = "the chosen layers" if layers is not None else "any layer"
        raise ValueError(
            f"dltk.record: {where} has no signal {bad!r}. Signals: {', '.join(_closest_first(bad, available))}."
        )


# --------------------------------------------------------------- model protection
class _Guard:
    """Keeps the model as it was: each module's mode, and the buffers a training-mode module may move."""

    def __init__(self, model: nn.Module) -> None:
        self.modes = [(m, m.training) for m in model.modules()]
        self.buffers = []
        for m, training in self.modes:
            if training and m._buffers:
                for k, b in m._buffers.items():
                    if b is not None:
                        self.buffers.append((m, k, b, b._version, b.clone()))

    def restore(self) -> None:
        for m, mode in self.modes:
            if m.training != mode:
                m.training = mode
        with torch.no_grad():
            for m, k, b, version, saved in self.buffers:
                if m._buffers.get(k) is not b:
                    m._buffers[k] = b
                if b._version != version:
                    b.copy_(saved)


# ----------------------------------------------------------------------- record
def record(
    model: Any,
    *inputs: Any,
    layers: Sequence[str] | str | None = None,
    signals: Sequence[str] | str | None = None,
    budget_mb: float | None = None,
    lengths: Any = None,
    targets: Any = None,
    keep_graph: bool = False,
    differentiable: bool = False,
    **forward_kwargs: Any,
) -> Recording:
    """Run one forward pass of ``model`` on ``inputs`` and record the signals inside.

    Args:
        model: a :class:`dltk.network.Network`, a single dltk layer, or any
            ``torch.nn.Module`` (a student's own model). A layer array (list
            of layers) is taken by :func:`dltk.record`, which assembles it.
        inputs: what the model's forward takes. A dltk network also accepts what
            :meth:`Network.forward` accepts (e.g. a list of variable-length
            sequences); a multi-input dltk layer takes one tuple of tensors.
        layers: restrict capture to these layer names (dltk layer names, or the
            qualified names of ``model.named_modules()`` such as ``"encoder.lstm"``).
            Default: all. An unknown name is an error listing the names that exist.
        signals: restrict capture to these signal names (``"output"`` is the
            layer output). Default: all. A name no chosen layer has is an error.
        budget_mb: byte budget in MB. Default: ``dltk.config.record_budget_bytes`` (512 MB).
        lengths: per-observation sequence lengths for padded sequence batches (dltk models).
        targets: with a dltk network that ends in an output layer, also compute the
            loss so the loss layer's signals are recorded.
        keep_graph: keep the autograd graph on the recorded tensors (for
            gradients of signals, e.g. the gradient-flow view).
        differentiable: put the recorded signals of ``nn.LSTM`` modules on the loss's path: the
            module runs as a step loop on its own weights, each signal is a leaf tensor the loop
            goes through, so after ``loss.backward()`` on ``rec.output``,
            ``rec["lstm"]["cell_state"].grad[:, t]`` is ∂loss/∂c_t (the total derivative, through
            every later step). Implies ``keep_graph``; needs autograd on; slower (a Python loop
            over T). Other modules are recorded as usual.
        forward_kwargs: further keyword arguments of a plain module's forward.

    Returns:
        A :class:`Recording`. ``rec.output`` is the forward output;
        ``rec.unrecognised`` lists the modules recorded as black boxes.

    The model runs in the mode it is in (training or prediction) and is not
    changed: parameters, buffers and modes are as before, the hooks are removed
    afterwards, also when the forward pass raises (the error comes through
    unchanged). Outputs equal those of a plain forward pass (to float tolerance).
    """
    if isinstance(model, (list, tuple)):
        raise TypeError(
            "dltk.introspect.record takes a module; for a layer array use dltk.record(layers, X), "
            "which assembles (and caches) the network"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"dltk.record: expected a network, a list of layers or a module, got {type(model).__name__}")
    budget = _budget_bytes(budget_mb)
    keep_freed_memory()  # no page fault per recorded page when recording again (see ._memory)
    keep_graph = keep_graph or differentiable
    layers = [layers] if isinstance(layers, str) else (None if layers is None else list(layers))
    signals = [signals] if isinstance(signals, str) else (None if signals is None else list(signals))
    entries = _plan(model)
    _check_names(entries, layers, signals)
    recording = Recording(budget)
    names = {id(e.module): e.name for e in entries}
    recorder = Recorder(recording, layers, signals, keep_graph, names)
    recorder.differentiable = differentiable
    chosen = [e for e in entries if layers is None or e.name in layers]
    recording.unrecognised = [e.name for e in entries if e.kind == "opaque"]
    recording.kinds = {e.name: type(e.module).__name__ for e in entries}
    want_output = signals is None or OUTPUT in signals
    guard = _Guard(model)
    recorder.track_inplace = any(m.__dict__.get("inplace", False) is True for m, _ in guard.modes)
    undo: list[Any] = []
    probes = []
    try:
        for e in chosen:
            if e.kind == "dltk":
                e.module._recorder = recorder
                undo.append(_Unset(e.module))
                if want_output:
                    undo.append(e.module.register_forward_hook(_dltk_output_hook(recorder)))
            elif e.kind == "torch":
                probe = Probe(e.name, e.module, recorder)
                probes.append((e, probe))
                undo.extend(e.recogniser.install(probe, want_output))
            elif want_output:
                undo.append(e.module.register_forward_hook(_output_hook(recorder, e.name)))
        with torch.set_grad_enabled(keep_graph or torch.is_grad_enabled()):
            out = _forward(model, inputs, lengths, targets, forward_kwargs)
        for e, probe in probes:
            e.recogniser.finish(probe)
        recording.output = out if keep_graph else _detach(out)
    finally:
        for u in reversed(undo):
            u.remove()
        guard.restore()
    return recording


class _Unset:
    """Detaches the recorder from a dltk layer (a removable, like a hook handle)."""

    def __init__(self, layer: nn.Module) -> None:
        self.layer = layer

    def remove(self) -> None:
        self.layer._recorder = None


def _dltk_output_hook(recorder: Recorder) -> Any:
    def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
        out = output[0] if isinstance(output, tuple) and output else output
        lay = mod.output_layout([getattr(mod, "input_layout", None)]) if hasattr(mod, "output_layout") else None
        if isinstance(out, torch.Tensor) and lay is not None and len(lay) != out.ndim:
            lay = None
        recorder.store(mod, OUTPUT, out, lay)

    return hook


def _output_hook(recorder: Recorder, name: str) -> Any:
    def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
        recorder.store_name(name, OUTPUT, *first_tensor(output))

    return hook


def _detach(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.detach()
    if isinstance(out, tuple) and hasattr(out, "_fields"):  # named tuples, PackedSequence
        return type(out)(*(_detach(o) for o in out))
    if isinstance(out, (tuple, list)):
        return type(out)(_detach(o) for o in out)
    if isinstance(out, dict):
        return {k: _detach(v) for k, v in out.items()}
    return out


def _forward(module: nn.Module, inputs: tuple[Any, ...], lengths: Any, targets: Any, kwargs: dict[str, Any]) -> Any:
    if isinstance(module, Layer):
        X = inputs[0] if len(inputs) == 1 else inputs
        if isinstance(X, (tuple, list)) and len(module.input_names) > 1:  # multi-input layer: one tensor per port
            xs = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.get_default_dtype()) for x in X]
            return module(*xs, **kwargs)
        x = X if isinstance(X, torch.Tensor) else torch.as_tensor(X, dtype=torch.get_default_dtype())
        if module.is_output_layer:
            if targets is None:
                return module(x)
            if lengths is not None:
                return module.loss(x, targets, lengths=lengths)
            return module.loss(x, targets)
        if module.accepts_lengths and lengths is not None:
            return module(x, lengths=lengths, **kwargs)
        return module(x, **kwargs)
    if targets is not None and hasattr(module, "loss"):
        return module.loss(*inputs, targets, lengths=lengths, **kwargs)
    if lengths is not None:
        return module(*inputs, lengths=lengths, **kwargs)
    return module(*inputs, **kwargs)
