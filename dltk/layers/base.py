"""The base class of every dltk layer.

A dltk layer is a :class:`torch.nn.Module` with, in addition:

* a MATLAB-style :attr:`Name` (empty until a network names it ``lstm_1`` …);
* a class-level tuple :attr:`signals` naming its internal signals, and
  :attr:`signal_docs` giving each one's meaning and layout;
* a one-line MATLAB-like :meth:`description`
  (``"100 LSTM hidden units, OutputMode 'last'"``);
* cheap *signal points*: inside ``forward`` a layer calls
  ``self._emit("name", tensor)``; that is a single ``is None`` test unless a
  recording (:func:`dltk.record`) is active;
* input checks that raise :class:`~dltk.errors.LayerInputError` naming the
  layer, the expected layout and the received shape in both notations.

Subclasses follow the PyTorch pattern: validate arguments, create parameters,
``reset_parameters()`` with MATLAB's initializers, short ``forward``.
Layers whose input size is ``'auto'`` (as in MATLAB) create their parameters
on the first call, or when a network is assembled (:meth:`setup`).
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.modules import module as _torch_module

from ..errors import LayerInputError
from ..layouts import default_layout, describe, describe_expected

_NAME_RE = re.compile(r"^[^/]*$")

#: "not looked up yet" (see :attr:`Layer._held_dtype`)
_UNKNOWN: Any = object()

#: the floating-point dtypes (a set test is cheaper than ``dtype.is_floating_point``)
_FLOATING = frozenset(
    d for d in vars(torch).values() if isinstance(d, torch.dtype) and d.is_floating_point and not d.is_complex
)

#: PyTorch's own module call (``torch.fx`` swaps ``nn.Module.__call__`` while it traces)
_MODULE_CALL = nn.Module.__call__
_tracing_state = torch._C._get_tracing_state
_HOOK_DICTS = (
    "_global_forward_pre_hooks",
    "_global_forward_hooks",
    "_global_backward_pre_hooks",
    "_global_backward_hooks",
)
#: the state ``Layer.__call__`` reads to know that nothing observes a call (PyTorch ≥ 2.2 has it; a
#: PyTorch without it keeps ``nn.Module.__call__`` for every layer)
_DIRECT_CALL = hasattr(nn.Module, "_compiled_call_impl") and all(hasattr(_torch_module, n) for n in _HOOK_DICTS)


def matlab_property(attr: str, doc: str = "", readonly: bool = False) -> property:
    """A MATLAB-named property that reads (and writes) a Pythonic attribute.

    ``OutputMode = matlab_property("output_mode")`` makes ``layer.OutputMode``
    and ``layer.output_mode`` the same state.
    """

    def fget(self: Any) -> Any:
        return getattr(self, attr)

    def fset(self: Any, value: Any) -> None:
        setattr(self, attr, value)

    return property(fget, None if readonly else fset, doc=doc or f"MATLAB name of ``{attr}``.")


class Layer(nn.Module):
    """Base class of dltk layers (see the module docstring)."""

    #: names of the internal signals this layer can record
    signals: ClassVar[tuple[str, ...]] = ()
    #: signal name -> meaning and layout, shown in docs and by ``dltk.record``
    signal_docs: ClassVar[dict[str, str]] = {}
    #: the MATLAB constructor, e.g. ``"lstmLayer"``
    matlab_name: ClassVar[str] = ""
    #: the MATLAB ``Type`` shown by analyzeNetwork, e.g. ``"LSTM"``
    type_name: ClassVar[str] = "Layer"
    #: prefix of MATLAB's automatic names, e.g. ``"lstm"`` -> ``lstm_1``
    name_prefix: ClassVar[str] = "layer"
    #: the PyTorch module or op this layer corresponds to (catalog table)
    torch_equivalent: ClassVar[str] = ""
    #: True for layers that start a network (no inputs from other layers)
    is_input_layer: ClassVar[bool] = False
    #: True for loss layers that end a network
    is_output_layer: ClassVar[bool] = False
    #: True if ``forward`` accepts ``lengths=`` (per-observation sequence lengths)
    accepts_lengths: ClassVar[bool] = False
    #: True for recurrent layers (carry state between calls, see ``resetState``)
    is_recurrent: ClassVar[bool] = False
    #: MATLAB positional arguments -> names of the Python keyword arguments
    matlab_positional: ClassVar[tuple[str, ...]] = ()
    #: MATLAB name-value options -> names of the Python keyword arguments
    #: (``Name`` -> ``name`` is always accepted)
    matlab_options: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_matlab(cls, *args: Any, **kwargs: Any) -> Layer:
        """Build the layer from MATLAB-style arguments.

        ``LSTM.from_matlab(100, "OutputMode", "last")`` and
        ``LSTM.from_matlab(100, OutputMode="last")`` both work; this is what
        ``dltk.lstmLayer`` calls.
        """
        from ..options import split_args

        names = {"Name": "name", **cls.matlab_options}
        pos, opts = split_args(cls.matlab_name or cls.__name__, args, kwargs, cls.matlab_positional, names)
        return cls(**pos, **{names[k]: v for k, v in opts.items()})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_dltk_records_config", False):
            cls.__init__ = _recording_init(init)  # type: ignore[method-assign]

    def init_config(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The constructor arguments this layer was created with, ``(args, kwargs)``.

        Recorded generically for every subclass (the outermost ``__init__``
        call), so that ``type(layer)(*args, **kwargs)`` rebuilds the same
        configuration; :func:`dltk.save` stores them.
        """
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        return tuple(args), dict(kwargs)

    def learn_factors(self) -> dict[str, tuple[Any, Any]]:
        """Per-parameter (learn-rate factor, L2 factor), as MATLAB's
        ``…LearnRateFactor`` / ``…L2Factor`` properties.

        Reads attributes ``<param>_learn_rate_factor`` and ``<param>_l2_factor``
        when a layer defines them; defaults are 1 and 1 (0 for biases).
        Factors may be scalars or per-gate vectors.
        """
        out = {}
        for pname, _ in self.named_parameters(recurse=False):
            lr = getattr(self, f"{pname}_learn_rate_factor", 1.0)
            l2 = getattr(self, f"{pname}_l2_factor", 0.0 if "bias" in pname else 1.0)
            out[pname] = (lr, l2)
        return out

    def __init__(self, name: str = "") -> None:
        super().__init__()
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise LayerInputError(f"{type(self).__name__}: Name must be text without '/', got {name!r}.")
        self.name = name
        #: layout of the (first) input, set by :meth:`setup`; None = infer from rank
        self.input_layout: str | None = None
        self._recorder = None  # set by dltk.record while recording

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``forward``, as :class:`torch.nn.Module` calls it, without its two extra Python frames.

        PyTorch's call goes through ``_wrapped_call_impl`` and ``_call_impl`` to reach ``forward``
        even when nothing hooks the module; on a 60 µs ReLU that is most of what a call adds. Here
        ``forward`` is called directly when no hook is registered (on the layer or globally), the
        layer is not compiled (``layer.compile()``), and no ``torch.jit.trace`` or ``torch.fx`` trace
        runs; otherwise PyTorch's own call runs, with every hook.
        """
        m = _torch_module
        if (
            self._forward_pre_hooks
            or self._forward_hooks
            or self._backward_pre_hooks
            or self._backward_hooks
            or m._global_forward_pre_hooks
            or m._global_forward_hooks
            or m._global_backward_pre_hooks
            or m._global_backward_hooks
            or self._compiled_call_impl is not None
            or nn.Module.__call__ is not _MODULE_CALL
            or _tracing_state()
        ):
            return nn.Module.__call__(self, *args, **kwargs)
        return self.forward(*args, **kwargs)

    if not _DIRECT_CALL:  # a PyTorch without the state read above: its own call, always
        __call__ = nn.Module.__call__

    # ------------------------------------------------------------------ names
    Name = matlab_property("name", "Layer name (MATLAB ``Name``).")

    @property
    def input_names(self) -> tuple[str, ...]:
        """Input port names (MATLAB ``InputNames``)."""
        return () if self.is_input_layer else ("in",)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Output port names (MATLAB ``OutputNames``)."""
        return () if self.is_output_layer else ("out",)

    @property
    def NumInputs(self) -> int:  # noqa: N802 - MATLAB name
        return len(self.input_names)

    @property
    def InputNames(self) -> list[str]:  # noqa: N802
        return list(self.input_names)

    @property
    def NumOutputs(self) -> int:  # noqa: N802
        return len(self.output_names)

    @property
    def OutputNames(self) -> list[str]:  # noqa: N802
        return list(self.output_names)

    @property
    def label(self) -> str:
        """The name, or the auto-name prefix while the layer is unnamed."""
        return self.name or self.name_prefix

    # ------------------------------------------------------------ description
    def description(self) -> str:
        """One line in MATLAB's style, e.g. ``"100 LSTM hidden units, OutputMode 'last'"``."""
        return self.type_name

    def __str__(self) -> str:
        return f"{self.label}: {self.description()}" if self.name else self.description()

    def _repr_html_(self) -> str:
        from html import escape

        sig = ", ".join(self.signals) or "—"
        n = sum(p.numel() for p in self.parameters() if not isinstance(p, nn.parameter.UninitializedParameter))
        return (
            "<table class='dltk-layer'><tr><th style='text-align:left'>"
            f"{escape(self.label)}</th><td>{escape(self.type_name)}</td></tr>"
            f"<tr><td colspan=2>{escape(self.description())}</td></tr>"
            f"<tr><td>learnables</td><td>{n:,}</td></tr><tr><td>signals</td><td>{escape(sig)}</td></tr></table>"
        )

    # ------------------------------------------------------------- recording
    def _emit(self, signal: str, value: torch.Tensor, layout: str | None = None) -> None:
        """Pass an intermediate through the named signal point ``signal``.

        Costs one attribute test when no recording is active.
        """
        rec = self._recorder
        if rec is not None:
            rec.store(self, signal, value, layout)

    def _wants(self, signal: str) -> bool:
        """True while a recording that wants ``signal`` of this layer is active."""
        rec = self._recorder
        return rec is not None and rec.wants(self, signal)

    def _reserve(self, nbytes: int, what: str) -> None:
        """Tell an active recording that ``nbytes`` are about to be captured.

        Raises :class:`~dltk.errors.RecordingBudgetError` before anything is
        allocated when the budget would be exceeded.
        """
        rec = self._recorder
        if rec is not None:
            rec.reserve(self, nbytes, what)

    # ------------------------------------------------------------------ setup
    def setup(self, example_inputs: list[torch.Tensor], layouts: list[str | None]) -> None:
        """Prepare the layer for inputs like ``example_inputs``.

        Called by a network when it is assembled, in topological order, with
        small example inputs (batch 1). Layers with ``'auto'`` sizes create
        their parameters here; every layer records the input layout (which
        disambiguates rank-5 tensors: ``BCDHW`` vs ``BTCHW``).
        """
        if layouts:
            self.input_layout = layouts[0]

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        """Layout of the (first) output for inputs with ``input_layouts``.

        The default keeps the layout of the first input.
        """
        return input_layouts[0] if input_layouts else None

    # ----------------------------------------------------------- input checks
    #: dtype of the layer's floating-point parameters, which inputs must have (None: no parameters);
    #: ``_UNKNOWN`` until the first check, and again after a conversion (``.double()``) or a new parameter
    _held_dtype: Any = _UNKNOWN

    def _find_held_dtype(self) -> torch.dtype | None:
        """The dtype inputs must have: that of the first floating-point parameter (cached)."""
        for p in self.parameters():
            if isinstance(p, nn.parameter.UninitializedParameter):
                return None  # created on the first call: nothing to compare with yet (not cached)
            if p.is_floating_point():
                self.__dict__["_held_dtype"] = p.dtype
                return p.dtype
        self.__dict__["_held_dtype"] = None
        return None

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:  # .double(), .to(...), .half(): look again
        self.__dict__.pop("_held_dtype", None)
        return super()._apply(fn, *args, **kwargs)

    def register_parameter(self, name: str, param: nn.Parameter | None) -> None:
        self.__dict__.pop("_held_dtype", None)
        super().register_parameter(name, param)

    def _layout_of(self, x: torch.Tensor) -> str | None:
        if self.input_layout is not None and len(self.input_layout) == x.ndim:
            return self.input_layout
        return default_layout(x.ndim)

    def _fail(self, expected: str, x: torch.Tensor | Any, why: str = "") -> LayerInputError:
        if isinstance(x, torch.Tensor):
            got = describe(tuple(x.shape), self._layout_of(x)).replace(f" (rank {x.ndim})", "")
            got += f" {str(x.dtype).replace('torch.', '')}"
        else:
            got = f"{type(x).__name__}"
        why = f" ({why})" if why else ""
        return LayerInputError(
            f"{self.matlab_name or type(self).__name__} '{self.label}': expected {expected}, got {got}{why}."
        )

    def _check_input(
        self,
        x: Any,
        layouts: str | tuple[str, ...],
        sizes: dict[str, int | None] | None = None,
        *,
        allow_empty: bool = False,
        allow_integer: bool = False,
    ) -> str:
        """Check rank, known sizes and dtype; return the matched layout.

        Args:
            x: the input.
            layouts: accepted dltk layouts, e.g. ``"BTC"`` or ``("BC", "BTC")``.
            sizes: known axis sizes, e.g. ``{"C": 12}``; ``None`` values are skipped.
            allow_empty: accept a batch of size 0.
            allow_integer: accept integer tensors too (indices), not only floating point.
        """
        # the common case costs a few attribute tests and one lookup (the layouts by rank are
        # worked out once); anything unusual takes the full check below, with the messages
        if isinstance(x, torch.Tensor):
            held = self._held_dtype  # the parameters' dtype (None: no parameters), found once per conversion
            if held is _UNKNOWN:
                held = self._find_held_dtype()
            dtype = x.dtype
            if (
                dtype is held
                or (held is None or allow_integer)
                and (dtype in _FLOATING or allow_integer and _is_integer(x))
            ):
                shape = x.shape  # rank, emptiness and sizes from one read of the tensor
                try:
                    by_rank = _RANK_MAP_VALUES[layouts]
                except (KeyError, TypeError):  # first time (or a list): worked out and cached
                    by_rank = _RANK_MAPS.get(layouts)
                lay = by_rank.get(len(shape))
                if lay.__class__ is tuple:  # one rank, several layouts (BCDHW / BTCHW): set-up decides
                    lay = self.input_layout if self.input_layout in lay else lay[0]
                if lay is not None and (allow_empty or 0 not in shape):
                    if not sizes:
                        return lay
                    for axis, want in sizes.items():
                        if want is not None:
                            k = lay.find(axis)
                            if k >= 0 and shape[k] != want:
                                break
                    else:
                        return lay
        return self._check_input_full(x, layouts, sizes, allow_empty=allow_empty, allow_integer=allow_integer)

    def _check_input_full(
        self,
        x: Any,
        layouts: str | tuple[str, ...],
        sizes: dict[str, int | None] | None = None,
        *,
        allow_empty: bool = False,
        allow_integer: bool = False,
    ) -> str:
        """:meth:`_check_input` for every case, with the error messages."""
        layouts = (layouts,) if isinstance(layouts, str) else tuple(layouts)

        def expected() -> str:  # built only for the error message: the plain path stays cheap
            return " or ".join(describe_expected(lay, sizes) for lay in layouts)

        if not isinstance(x, torch.Tensor):
            raise self._fail(expected(), x, "not a tensor")
        match = [lay for lay in layouts if len(lay) == x.ndim]
        if not match:
            raise self._fail(expected(), x, f"rank {x.ndim}")
        lay = match[0]
        if len(match) > 1 and self.input_layout in match:
            lay = self.input_layout
        if x.is_complex():
            raise self._fail(
                expected(),
                x,
                "complex values: dltk layers compute on real tensors; pass x.real, x.abs(), or the real and "
                "imaginary parts as channels, e.g. torch.view_as_real(x)",
            )
        if allow_integer and not (x.is_floating_point() or _is_integer(x)):
            raise self._fail(expected(), x, "a floating-point or integer tensor is needed")
        if not (allow_integer or x.is_floating_point()):
            raise self._fail(expected(), x, "a floating-point tensor is needed; use x.float()")
        for axis, want in (sizes or {}).items():
            if want is None or axis not in lay:
                continue
            got = x.shape[lay.index(axis)]
            if got != want:
                raise self._fail(expected(), x, f"{axis} is {got}, expected {want}")
        if not allow_empty and x.numel() == 0:
            raise self._fail(expected(), x, "empty input")
        held = self._find_held_dtype()
        if x.is_floating_point() and held is not None and x.dtype != held and not allow_integer:
            raise self._fail(expected(), x, _dtype_advice(held, x.dtype))
        return lay


def _is_integer(x: torch.Tensor) -> bool:
    """An integer (not bool, not floating/complex) tensor."""
    return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)


class _RankMapCache:
    """The accepted layouts of a ``layouts`` argument keyed by rank, worked out once per distinct value.

    Keyed by the value itself (``"BTC"``, ``("BC", "BTC")``): equal arguments share an entry and
    two different ones never do. Layouts built afresh on every call are bounded by ``limit``.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.maps: dict[str | tuple[str, ...], dict[int, Any]] = {}

    def get(self, layouts: str | tuple[str, ...]) -> dict[int, Any]:
        """``{rank: layout}``, or ``{rank: (layouts of that rank, …)}`` where several share a rank."""
        if isinstance(layouts, list):  # e.g. a custom layer's; cached as a tuple
            layouts = tuple(layouts)
        hit = self.maps.get(layouts)
        if hit is not None:
            return hit
        by_rank: dict[int, Any] = {}
        for lay in (layouts,) if isinstance(layouts, str) else layouts:
            old = by_rank.get(len(lay))
            by_rank[len(lay)] = lay if old is None else (*(old if isinstance(old, tuple) else (old,)), lay)
        if len(self.maps) >= self.limit:
            self.maps.clear()
        self.maps[layouts] = by_rank
        return by_rank


_RANK_MAPS = _RankMapCache()
_RANK_MAP_VALUES = _RANK_MAPS.maps  # the plain path reads the dict directly (no method call)


def _by_rank(layouts: str | tuple[str, ...]) -> dict[int, Any]:
    """The accepted layouts of ``layouts`` keyed by rank (cached, see :class:`_RankMapCache`)."""
    return _RANK_MAPS.get(layouts)


_DTYPE_METHODS = {
    torch.float32: "float",
    torch.float64: "double",
    torch.float16: "half",
    torch.bfloat16: "bfloat16",
}


def _dtype_advice(held: torch.dtype, got: torch.dtype) -> str:
    """The dtype mismatch and its fix, for :meth:`Layer._check_input`'s message."""
    name = str(held).replace("torch.", "")
    method = _DTYPE_METHODS.get(held)
    fix = f"convert the input with x.{method}()" if method else f"convert the input with x.to({held})"
    if got in (torch.float32, torch.float64):  # layers compute in these dtypes on every device
        fix += f", or the layer with layer.{_DTYPE_METHODS[got]}()"
    return f"the layer holds {name} parameters and the input is {str(got).replace('torch.', '')}: {fix}"


def _recording_init(init: Any) -> Any:
    """Wrap a Layer subclass ``__init__`` so the outermost call records its arguments."""

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - replaces the class's __init__
        outer = "_init_args" not in self.__dict__
        if outer:
            object.__setattr__(self, "_init_args", (args, dict(kwargs)))
        init(self, *args, **kwargs)

    __init__._dltk_records_config = True  # type: ignore[attr-defined]
    __init__.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
    return __init__
