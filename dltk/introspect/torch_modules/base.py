"""The recogniser contract and the registry of recognised PyTorch modules.

A :class:`Recogniser` knows one family of ``torch.nn`` modules: the signal
names it records (those of the dltk counterpart) and how to get them during
one forward pass, in one of three ways:

* ``before(probe, module, args, kwargs)``: a forward pre-hook (signals that
  need the input before an in-place module overwrites it);
* ``after(probe, module, args, kwargs, output)``: a forward hook (signals that
  follow from the input and the output, e.g. ``pre_bias = y − b``);
* ``forward(probe, module, *args, **kwargs)``: replaces the module's forward
  for the recording only (the recurrent modules run layer by layer; batch
  normalization uses the batch statistics without moving its running ones;
  max pooling also returns its switches). It must return exactly what the
  module's own forward returns.

A :class:`Probe` is the recogniser's handle on the recording for one module:
``probe.wants(signal)``, ``probe.reserve(nbytes, what)`` *before* allocating,
``probe.store(signal, tensor, layout)``. Everything installed is removed after
the pass (``install`` returns removables), also when the forward raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

#: layout of a channel-first PyTorch tensor by rank (``BCT``: (B, C, L) of the 1-D modules)
CHANNEL_FIRST = {2: "BC", 3: "BCT", 4: "BCHW", 5: "BCDHW"}


def channel_first(x: Any) -> str | None:
    """The dltk-style layout of a batched channel-first tensor (None when unbatched or unknown)."""
    return CHANNEL_FIRST.get(x.dim()) if isinstance(x, torch.Tensor) else None


def first_tensor(output: Any) -> tuple[torch.Tensor | None, str | None]:
    """The tensor a module's ``"output"`` signal records, and its layout if known.

    A tensor is itself; a tuple/list/dict gives its first tensor; a
    ``PackedSequence`` is padded to (B, T, C) (``"BTC"``, zeros after each end).
    """
    if isinstance(output, torch.Tensor):
        return output, None
    if isinstance(output, PackedSequence):
        return pad_packed_sequence(output, batch_first=True)[0], "BTC"
    items = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else ()
    for o in items:
        t, lay = first_tensor(o)
        if t is not None:
            return t, lay
    return None, None


class Probe:
    """One recognised module's handle on the active recording."""

    __slots__ = ("name", "module", "recorder", "state")

    def __init__(self, name: str, module: nn.Module, recorder: Any) -> None:
        self.name = name
        self.module = module
        self.recorder = recorder
        self.state: dict[str, Any] = {}  # per-recording scratch (e.g. the steps of a cell)

    def wants(self, signal: str) -> bool:
        return self.recorder.wants_name(self.name, signal)

    def reserve(self, nbytes: int, what: str) -> None:
        """Check the budget for ``nbytes`` about to be allocated (raises before any allocation)."""
        self.recorder.reserve_name(self.name, nbytes, what)

    def store(self, signal: str, value: Any, layout: str | None = None) -> None:
        self.recorder.store_name(self.name, signal, value, layout)

    def derive(
        self, signal: str, fn: Any, sources: list[torch.Tensor], shape: Any, dtype: torch.dtype, layout: str | None
    ) -> None:
        """Record ``fn(*sources)`` to be computed when first read (a pass over memory saved when never read)."""
        self.recorder.store_derived(self.name, signal, fn, sources, shape, dtype, layout)

    def alias(self, alias: str, signal: str) -> None:
        """Let ``rec[name][alias]`` read the recorded ``signal`` (no second copy)."""
        self.recorder.recording._alias(self.name, alias, signal)

    @property
    def keep_graph(self) -> bool:
        return self.recorder.keep_graph

    def signal_grad(self) -> contextlib.AbstractContextManager:
        """Autograd for signal computations: only when the recording keeps the graph."""
        return torch.set_grad_enabled(torch.is_grad_enabled() and self.recorder.keep_graph)


class _Removable:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def remove(self) -> None:
        self.fn()


_MISSING = object()


def patch_forward(module: nn.Module, fn: Any) -> _Removable:
    """Give ``module`` the instance forward ``fn`` until ``.remove()`` (hooks still run around it)."""
    old = module.__dict__.get("forward", _MISSING)
    module.__dict__["forward"] = fn

    def undo() -> None:
        if old is _MISSING:
            module.__dict__.pop("forward", None)
        else:
            module.__dict__["forward"] = old

    return _Removable(undo)


class Recogniser:
    """How one family of PyTorch modules is recorded (see the module docstring)."""

    #: the module classes this recogniser knows (subclasses that keep their forward count too)
    types: ClassVar[tuple[type, ...]] = ()
    #: the signal names (those of the dltk counterpart)
    signal_names: ClassVar[tuple[str, ...]] = ()
    #: signal name -> meaning and layout
    signal_docs: ClassVar[dict[str, str]] = {}

    def needs_forward(self, module: nn.Module) -> bool:
        """Replace the forward even when no signal is wanted (batch normalization in training mode:
        keeps the running statistics)."""
        return False

    def accepts(self, module: nn.Module, cls: type) -> bool:
        """Whether ``module`` (an instance of registered ``cls``) is recognised: by default only when
        its class keeps ``cls``'s forward (a subclass with its own forward computes something else)."""
        return type(module).forward is cls.forward

    def signals(self, module: nn.Module) -> tuple[str, ...]:
        """The signal names this module can record."""
        return self.signal_names

    def output_layout(self, module: nn.Module, out: Any, layout: str | None) -> str | None:
        """Layout of the recorded ``"output"`` (default: channel first by rank)."""
        return layout or channel_first(out)

    def install(self, probe: Probe, output: bool = True) -> list[Any]:
        """Attach to ``probe.module`` for one pass (``output``: also record its ``"output"``);
        returns the removables."""
        m, cls, handles = probe.module, type(self), []
        if m.__dict__.get("inplace", False) is True:  # keep what was recorded before the module overwrites it
            handles.append(
                m.register_forward_pre_hook(lambda mod, args: probe.recorder.protect(args[0] if args else None))
            )
        rec = probe.recorder
        if rec.layers is not None and probe.name not in rec.layers:
            wanted = False
        else:
            wanted = rec.signals is None or any(s in rec.signals for s in self.signals(m))
        if cls.before is not Recogniser.before and wanted:
            handles.append(
                m.register_forward_pre_hook(lambda mod, a, k: self.before(probe, mod, a, k), with_kwargs=True)
            )
        if cls.forward is not Recogniser.forward and (wanted or self.needs_forward(m)):
            handles.append(patch_forward(m, lambda *a, **k: self.forward(probe, m, *a, **k)))
        after = cls.after is not Recogniser.after and wanted
        if after or output:  # one hook: the output, then the recogniser's signals

            def hook(mod: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
                if output:
                    t, lay = first_tensor(out)
                    probe.store("output", t, self.output_layout(mod, t, lay))
                if after:
                    self.after(probe, mod, args, kwargs, out)

            handles.append(m.register_forward_hook(hook, with_kwargs=True))
        return handles

    def before(self, probe: Probe, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """Forward pre-hook (override to use)."""

    def after(self, probe: Probe, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        """Forward hook (override to use)."""

    def forward(self, probe: Probe, module: nn.Module, *args: Any, **kwargs: Any) -> Any:
        """Replacement forward (override to use)."""
        raise NotImplementedError

    def finish(self, probe: Probe) -> None:
        """After the pass (e.g. stack the steps of a cell)."""


_REGISTRY: dict[type, Recogniser] = {}


def register(cls: type[Recogniser]) -> type[Recogniser]:
    """Class decorator: make ``cls`` the recogniser of its ``types``."""
    inst = cls()
    for t in cls.types:
        _REGISTRY[t] = inst
    return cls


def recogniser_for(module: nn.Module) -> Recogniser | None:
    """The recogniser of ``module``, or None (a subclass that overrides ``forward`` is not recognised)."""
    for cls in type(module).__mro__:
        rec = _REGISTRY.get(cls)
        if rec is not None:
            return rec if rec.accepts(module, cls) else None
    return None


def recognised_types() -> Iterator[type]:
    """Every PyTorch module class with a recogniser."""
    return iter(_REGISTRY)
