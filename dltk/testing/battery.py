"""The shared layer test battery: one function per check, each taking a :class:`LayerCase`.

Every catalog layer configuration is described by a :class:`~dltk.testing.case.LayerCase`
(``tests/cases/<family>.py``); ``tests/test_layer_battery.py`` runs every check
below on every case, and :func:`dltk.checkLayer` reuses the pieces on a
student's own layer. A check returns ``None`` when it passes, raises
``AssertionError`` with a readable message when it fails, and raises
:class:`CheckSkipped` when it does not apply to the case (the reason says why).

Conventions shared by all checks:

* The layer is built with ``case.make()`` and converted to float64; it runs in
  training mode when ``case.train`` and in evaluation mode otherwise.
* The layer is run once on the case inputs before anything is compared, so
  that layers with ``'auto'`` sizes create their parameters.
* Random layers: ``torch.manual_seed(0)`` is called before every run that is
  compared with another run (see :func:`seeded`).
* Output layers (``is_output_layer``): the compared value is
  ``layer.loss(y, targets)`` with ``targets = case.targets()``; a bad input
  given as a pair ``(y, targets)`` is passed to ``layer.loss``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.autograd.gradcheck import GradcheckError

from ..errors import LayerInputError
from .case import LayerCase

__all__ = [
    "CheckSkipped",
    "CHECKS",
    "build",
    "case_inputs",
    "case_targets",
    "run_case",
    "seeded",
    "single_thread",
    "leftover_instrumentation",
    "check_reference",
    "check_gradcheck",
    "check_record_unchanged",
    "check_signals",
    "check_description",
    "check_state_dict",
    "check_bad_inputs",
    "check_matlab_front",
]


#: gradcheck compares full Jacobians up to this many input + parameter elements, and
#: beyond it random projections (``fast_mode``: u^T J v, numerical vs analytical)
FULL_GRADCHECK_MAX = 200


class CheckSkipped(Exception):  # noqa: N818 - reads as "the check was skipped"
    """A check that does not apply to a case (the message says why)."""


# --------------------------------------------------------------------- helpers
def build(case: LayerCase) -> nn.Module:
    """``case.make()`` in float64, in the case's mode, run once on the case inputs."""
    layer = case.make().double()
    layer.train(case.train)
    inputs, targets = case_inputs(case), case_targets(case)
    with torch.no_grad(), seeded():
        run_case(layer, case, inputs, targets)
    return layer


def case_inputs(case: LayerCase) -> list[Any]:
    """The case inputs (floating tensors as float64), identical on every call:
    ``case.inputs()`` runs after ``torch.manual_seed(0)``."""
    out = []
    with seeded():
        xs = case.inputs()
    for x in xs:
        if isinstance(x, torch.Tensor):
            x = x.detach().clone()
            if x.is_floating_point():
                x = x.double()
        out.append(x)
    return out


def case_targets(case: LayerCase) -> Any:
    """``case.targets()`` (drawn after ``torch.manual_seed(0)``), floating targets as float64."""
    with seeded():
        t = case.targets() if case.targets is not None else None
    if isinstance(t, torch.Tensor) and t.is_floating_point():
        t = t.double()
    return t


def run_case(layer: nn.Module, case: LayerCase, inputs: Sequence[Any], targets: Any = None) -> Any:
    """The value the battery compares: the forward output, or the loss of an output layer
    (``targets``: from :func:`case_targets`)."""
    if getattr(layer, "is_output_layer", False):
        y = layer(*inputs)
        if targets is None:
            return y
        return layer.loss(*inputs, targets, **case.kwargs)
    return layer(*inputs, **case.kwargs)


class seeded:  # noqa: N801 - used like a function: ``with seeded(): …``
    """Context manager: ``torch.manual_seed(seed)`` on entry (default 0)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def __enter__(self) -> seeded:
        torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class single_thread:  # noqa: N801 - used like a function: ``with single_thread(): …``
    """Run torch on one thread inside the block (restored afterwards).

    Finite differences evaluate a small layer hundreds of times on tiny
    tensors; there, waking a second thread costs far more than the work
    (on a busy machine a 2×2×5×6 convolution goes from microseconds to tens of
    milliseconds).
    """

    def __enter__(self) -> single_thread:
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc: Any) -> None:
        torch.set_num_threads(self.threads)


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _assert_close(actual: Any, expected: Any, atol: float, rtol: float, what: str) -> None:
    a, e = _tensors(actual), _tensors(expected)
    if len(a) != len(e):
        raise AssertionError(f"{what}: {len(a)} output tensors, expected {len(e)}")
    for i, (x, y) in enumerate(zip(a, e)):
        label = what if len(a) == 1 else f"{what} (output {i + 1})"
        if tuple(x.shape) != tuple(y.shape):
            raise AssertionError(f"{label}: shape {tuple(x.shape)}, expected {tuple(y.shape)}")
        if not x.is_floating_point() or not y.is_floating_point():
            if not torch.equal(x.to(y.dtype), y):
                raise AssertionError(f"{label}: values differ")
            continue
        try:
            torch.testing.assert_close(x.detach().double(), y.detach().double(), atol=atol, rtol=rtol, equal_nan=True)
        except AssertionError as err:
            raise AssertionError(f"{label} (atol {atol:g}, rtol {rtol:g}):\n{err}") from None


def leftover_instrumentation(layer: nn.Module) -> list[str]:
    """Recorders or hooks still attached to ``layer`` or its submodules (should be none)."""
    left = []
    for name, m in layer.named_modules():
        where = name or type(layer).__name__
        if getattr(m, "_recorder", None) is not None:
            left.append(f"{where}: recorder still attached")
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks"):
            if getattr(m, kind, None):
                left.append(f"{where}: {len(getattr(m, kind))} {kind.strip('_').replace('_', ' ')} left")
    return left


def _record(layer: nn.Module, case: LayerCase, inputs: Sequence[Any]) -> Any:
    from ..introspect import record

    extra = set(case.kwargs) - {"lengths"}
    if extra:
        raise CheckSkipped(f"dltk.record passes only lengths=, the case also needs {sorted(extra)}")
    X = inputs[0] if len(inputs) == 1 else tuple(inputs)
    targets = case_targets(case) if getattr(layer, "is_output_layer", False) else None
    with seeded():
        return record(layer, X, lengths=case.kwargs.get("lengths"), targets=targets)


def _layer_name(layer: nn.Module) -> str:
    return getattr(layer, "matlab_name", "") or type(layer).__name__


# ---------------------------------------------------------------------- checks
def check_reference(case: LayerCase) -> None:
    """The layer's output (an output layer's loss) equals ``case.reference`` in float64."""
    if case.reference is None:
        raise CheckSkipped("the case has no reference (a layer without math)")
    layer = build(case)
    inputs, ref_inputs, targets = case_inputs(case), case_inputs(case), case_targets(case)
    extra = [targets] if getattr(layer, "is_output_layer", False) and targets is not None else []
    with torch.no_grad():
        with seeded():
            out = run_case(layer, case, inputs, targets)
        with seeded():
            ref = case.reference(layer, *ref_inputs, *extra)
    _assert_close(out, ref, case.atol, case.rtol, f"{case.id}: output vs reference")


class _Call(nn.Module):
    """Wraps a layer so that ``torch.func.functional_call`` can swap its parameters."""

    def __init__(self, layer: nn.Module, case: LayerCase) -> None:
        super().__init__()
        self.layer = layer
        self.case = case
        self.targets = case_targets(case)

    def forward(self, *inputs: Any) -> Any:
        with seeded():
            return run_case(self.layer, self.case, inputs, self.targets)


def check_gradcheck(case: LayerCase) -> None:
    """``torch.autograd.gradcheck`` (float64) w.r.t. the floating inputs and the parameters
    (full Jacobians for small cases, random projections beyond :data:`FULL_GRADCHECK_MAX` elements)."""
    if not case.gradcheck:
        raise CheckSkipped("the case marks this layer as not differentiable (gradcheck=False)")
    layer = build(case)
    inputs = case_inputs(case)
    wrapper = _Call(layer, case)
    params = {f"layer.{n}": p.detach().clone() for n, p in layer.named_parameters()}
    diff_in = [i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.is_floating_point()]
    names = list(params)
    if not diff_in and not names:
        raise CheckSkipped("no floating-point inputs and no parameters")

    def fn(*args: torch.Tensor) -> Any:
        xs = list(inputs)
        for i, a in zip(diff_in, args[: len(diff_in)]):
            xs[i] = a
        swapped = dict(zip(names, args[len(diff_in) :]))
        return torch.func.functional_call(wrapper, swapped, tuple(xs))

    args = [inputs[i].requires_grad_(True) for i in diff_in] + [params[n].requires_grad_(True) for n in names]
    try:
        fast = sum(a.numel() for a in args) > FULL_GRADCHECK_MAX
        with single_thread():
            torch.autograd.gradcheck(fn, tuple(args), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=fast)
    except GradcheckError as err:
        labels = [f"input {i + 1}" for i in diff_in] + [n.removeprefix("layer.") for n in names]
        raise AssertionError(f"{case.id}: gradcheck failed (arguments in order: {labels}):\n{err}") from None


def check_record_unchanged(case: LayerCase) -> None:
    """``dltk.record`` gives the plain run's output and leaves no recorder or hook behind,
    also when the forward pass raises."""
    layer = build(case)
    inputs, rec_inputs, targets = case_inputs(case), case_inputs(case), case_targets(case)
    with torch.no_grad():
        with seeded():
            plain = run_case(layer, case, inputs, targets)
        rec = _record(layer, case, rec_inputs)
    left = leftover_instrumentation(layer)
    assert not left, f"{case.id}: after dltk.record: {left}"
    _assert_close(rec.output, plain, case.atol, case.rtol, f"{case.id}: recorded output vs plain run")
    if not getattr(layer, "is_output_layer", False):
        recorded = rec[layer.label]["output"]
        first = plain[0] if isinstance(plain, tuple) else plain
        _assert_close(recorded, first, case.atol, case.rtol, f"{case.id}: recorded 'output' signal vs plain run")
    # a forward pass that raises must not leave the recorder attached
    from ..introspect import record

    bad = torch.zeros((1,) * 7, dtype=torch.float64)
    X = bad if len(case_inputs(case)) == 1 else tuple(bad for _ in case_inputs(case))
    try:
        record(layer, X)
    except Exception:  # noqa: BLE001 - any error is fine here; what matters is the cleanup
        pass
    left = leftover_instrumentation(layer)
    assert not left, f"{case.id}: after dltk.record raised: {left}"


def check_signals(case: LayerCase) -> None:
    """Every declared signal is recorded (unless absent in this configuration) with the
    documented shape, and every declared signal is documented in ``signal_docs``."""
    layer = build(case)
    undocumented = [s for s in layer.signals if not str(layer.signal_docs.get(s, "")).strip()]
    assert not undocumented, f"{case.id}: signals without an entry in signal_docs: {undocumented}"
    unknown = sorted(set(case.signal_shapes) - set(layer.signals) - {"output"})
    assert not unknown, f"{case.id}: signal_shapes names undeclared signals {unknown}; declared: {layer.signals}"
    with torch.no_grad():
        rec = _record(layer, case, case_inputs(case))
    got = rec[layer.label] if layer.label in rec else {}
    missing = [s for s in layer.signals if s not in got and s not in case.absent_signals]
    assert not missing, f"{case.id}: declared signals not recorded: {missing}; recorded: {list(got)}"
    for s, shape in case.signal_shapes.items():
        if s in case.absent_signals:
            continue
        assert s in got, f"{case.id}: signal {s!r} not recorded; recorded: {list(got)}"
        assert tuple(got[s].shape) == tuple(shape), (
            f"{case.id}: signal {s!r} has shape {tuple(got[s].shape)}, documented {tuple(shape)}"
        )


def check_description(case: LayerCase) -> None:
    """A non-empty one-line ``description()``, and non-empty ``repr`` and ``str``."""
    layer = build(case)
    d = layer.description()
    assert isinstance(d, str) and d.strip(), f"{case.id}: description() is empty: {d!r}"
    assert "\n" not in d, f"{case.id}: description() must be one line, got {d!r}"
    for kind, text in (("repr", repr(layer)), ("str", str(layer)), ("_repr_html_", layer._repr_html_())):
        assert isinstance(text, str) and text.strip(), f"{case.id}: {kind} is empty"
    layer.name = "probe"
    assert "probe" in str(layer), f"{case.id}: str() of a named layer does not show its name: {str(layer)!r}"


def check_state_dict(case: LayerCase) -> None:
    """``state_dict`` round trip into a fresh ``case.make()`` gives identical outputs."""
    a = build(case)
    b = build(case)  # a fresh layer, also materialized
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), f"{case.id}: state {k!r} differs after load_state_dict"
    inputs, targets = case_inputs(case), case_targets(case)
    with torch.no_grad():
        with seeded():
            ya = run_case(a, case, inputs, targets)
        with seeded():
            yb = run_case(b, case, inputs, targets)
    _assert_close(yb, ya, 0.0, 0.0, f"{case.id}: output after state_dict round trip")


def check_bad_inputs(case: LayerCase) -> None:
    """Each ``case.bad_inputs`` entry raises ``LayerInputError`` naming the layer and
    containing the case's message fragment."""
    if not case.bad_inputs:
        raise CheckSkipped("the case lists no bad inputs")
    layer = build(case)
    names = {n for n in (getattr(layer, "matlab_name", ""), layer.label) if n}
    for i, (bad, fragment) in enumerate(case.bad_inputs):
        bad = tuple(bad) if isinstance(bad, (tuple, list)) else (bad,)
        # floating inputs in the layer's float64, as the good inputs: each entry probes shapes or
        # values; a dtype that differs from the layer's is a mistake of its own (tests/test_input_errors.py)
        bad = tuple(x.double() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in bad)
        call = layer.loss if getattr(layer, "is_output_layer", False) and len(bad) == 2 else layer
        what = f"{case.id}: bad input {i + 1} ({_shapes(bad)})"
        try:
            call(*bad)
        except LayerInputError as err:
            msg = str(err)
            assert fragment in msg, f"{what}: message lacks {fragment!r}: {msg}"
            assert any(n in msg for n in names), f"{what}: message names neither of {sorted(names)}: {msg}"
        except Exception as err:  # noqa: BLE001
            raise AssertionError(f"{what}: raised {type(err).__name__}, expected LayerInputError: {err}") from None
        else:
            raise AssertionError(f"{what}: no error raised, expected LayerInputError containing {fragment!r}")


def _shapes(xs: Sequence[Any]) -> str:
    return ", ".join(
        f"{tuple(x.shape)} {str(x.dtype).replace('torch.', '')}" if isinstance(x, torch.Tensor) else type(x).__name__
        for x in xs
    )


def check_matlab_front(case: LayerCase) -> None:
    """``dltk.<matlab_name>`` exists and builds the layer's class."""
    import dltk

    layer = case.make()
    cls = type(layer)
    name = getattr(cls, "matlab_name", "")
    assert name, f"{case.id}: {cls.__name__} has no matlab_name"
    front = getattr(dltk, name, None)
    assert callable(front), f"{case.id}: dltk.{name} does not exist"
    built = getattr(front, "layer_class", None)
    assert built is cls, f"{case.id}: dltk.{name} builds {getattr(built, '__name__', built)}, expected {cls.__name__}"
    assert getattr(dltk.layers, cls.__name__, None) is cls, f"{case.id}: dltk.layers.{cls.__name__} is not exported"


#: every check, in the order the battery runs them
CHECKS: dict[str, Callable[[LayerCase], None]] = {
    "reference": check_reference,
    "gradcheck": check_gradcheck,
    "record_unchanged": check_record_unchanged,
    "signals": check_signals,
    "description": check_description,
    "state_dict": check_state_dict,
    "bad_inputs": check_bad_inputs,
    "matlab_front": check_matlab_front,
}
