"""``dltk.checkLayer``: MATLAB's ``checkLayer`` for your own layer.

MATLAB: ``checkLayer(layer, validInputSize, ObservationDimension=dim)``.

It runs the test suite MATLAB runs on a custom layer without a ``backward``
method (``nnet.checklayer.TestLayerWithoutBackward``; PyTorch's autograd
plays the role of MATLAB's automatic differentiation), plus two dltk tests:

=======================================  ===================================================
test                                     passes when
=======================================  ===================================================
functionSyntaxesAreCorrect               the layer is a module taking one tensor per input size
predictDoesNotError                      the layer runs in evaluation mode (``layer.eval()``)
forwardDoesNotError                      the layer runs in training mode (``layer.train()``)
forwardPredictAreConsistentInSize        both modes give outputs of the same sizes
backwardPropagationDoesNotError          autograd computes dL/dX and dL/dW
predictIsConsistentInType                float32 in → float32 out, float64 in → float64 out
forwardIsConsistentInType                the same in training mode
gradientsAreNumericallyCorrect           autograd gradients equal 5-point finite differences
                                         of L = Σ R ⊙ Y for a fixed random R (float64, step 1e-5,
                                         relative *or* absolute tolerance 1e-6; every entry of
                                         tensors up to 600 entries, else 600 drawn at random)
multipleObservationsAreConsistent        (dltk) observation i of a batch gives the same output
                                         as observation i alone
signalsAreConsistent                     (dltk) declared signals are documented and recorded (in
                                         training or prediction mode); ``dltk.record`` leaves the
                                         output unchanged and no recorder or hook behind
=======================================  ===================================================

``(Observations=one|multiple)`` variants run on one observation and on a batch
of two; as in MATLAB, the multiple-observation variants are **skipped unless
ObservationDimension is given**, and ``Device=gpu`` variants are skipped
without a CUDA device.

Input sizes (``validInputSize``) are MATLAB sizes of one observation; they
become dltk tensors like this (B = number of observations):

=====================  ==================  ===============  ====================
validInputSize         ObservationDim.     MATLAB format    dltk tensor
=====================  ==================  ===============  ====================
``[h w c]``            4 (or none)         SSCB             (B, c, h, w)
``[h w d c]``          5 (or none)         SSSCB            (B, c, d, h, w)
``[c]`` / ``[c 1]``    2 (or none)         CB               (B, c)
``[c 1 T]``            2                   CBT              (B, T, c)
=====================  ==================  ===============  ====================

A size may include the observation entry (``[5 5 20 1]`` with dimension 4);
its value is ignored (one observation, then two). A layer with several inputs
takes a list of sizes, one per input, in ``InputNames`` order.

Example:
    >>> result = dltk.checkLayer(dltk.preluLayer(20), [5, 5, 20], ObservationDimension=4)
    >>> bool(result), len(result.passed)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import OptionError
from ..layouts import describe
from .battery import CheckSkipped, leftover_instrumentation, single_thread

__all__ = ["checkLayer", "CheckLayerResult", "input_from_size"]

SUITE = "nnet.checklayer.TestLayerWithoutBackward"
TOL = 1e-6  # MATLAB's relative-or-absolute tolerance of gradientsAreNumericallyCorrect
STEP = 1e-5  # finite-difference step (5-point stencil, float64)
MAX_ELEMENTS = 600  # per tensor; larger tensors are checked at MAX_ELEMENTS entries drawn at random

_OBS_DIMS = {2: "sequence or feature data", 4: "2-D image data", 5: "3-D image data"}


@dataclass
class CheckLayerResult:
    """What :func:`checkLayer` found: test names in ``passed``, ``failed``, ``skipped``.

    ``reasons`` maps each failed or skipped test to the reason; ``bool(result)``
    is True when nothing failed.
    """

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    def __bool__(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """MATLAB's summary line: ``12 Passed, 0 Failed, 0 Incomplete, 16 Skipped.``"""
        return f"{len(self.passed)} Passed, {len(self.failed)} Failed, 0 Incomplete, {len(self.skipped)} Skipped."

    def __repr__(self) -> str:
        lines = [f"CheckLayerResult: {self.summary()}"]
        lines += [f"  FAILED {n}: {self.reasons[n]}" for n in self.failed]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(n)}</td><td>{status}</td><td>{escape(self.reasons.get(n, ''))}</td></tr>"
            for status, names in (("failed", self.failed), ("passed", self.passed), ("skipped", self.skipped))
            for n in names
        )
        return f"<b>checkLayer</b>: {escape(self.summary())}<table>{rows}</table>"


# --------------------------------------------------------------- input sizes
def input_from_size(
    size: Sequence[int],
    observation_dimension: int | None,
    batch: int,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, str]:
    """A random dltk tensor for a MATLAB ``validInputSize`` (see the module docstring).

    Returns ``(tensor, dltk_layout)``.
    """
    s = [int(v) for v in size]
    od = observation_dimension
    if od is not None and od not in _OBS_DIMS:
        raise OptionError(
            f"checkLayer: ObservationDimension must be 2 (sequences/features), 4 (2-D images) or "
            f"5 (3-D images), got {od!r}."
        )
    if od is not None and len(s) >= od:
        s = s[: od - 1] + s[od:]  # drop the observation entry
    if od == 2:
        if len(s) == 1:
            shape, layout = (batch, s[0]), "BC"
        elif len(s) == 2:
            shape, layout = (batch, s[1], s[0]), "BTC"
        else:
            raise OptionError(
                f"checkLayer: with ObservationDimension 2, validInputSize must be [c], [c 1] or "
                f"[c 1 T], got {list(size)}."
            )
    elif len(s) == 1 and od is None:
        shape, layout = (batch, s[0]), "BC"
    elif len(s) == 3 and od in (None, 4):
        shape, layout = (batch, s[2], s[0], s[1]), "BCHW"
    elif len(s) == 4 and od in (None, 5):
        shape, layout = (batch, s[3], s[2], s[0], s[1]), "BCDHW"
    else:
        hint = f" with ObservationDimension {od}" if od else ""
        raise OptionError(
            f"checkLayer: cannot read validInputSize {list(size)}{hint}; use [h w c] (2-D image, "
            f"dimension 4), [h w d c] (3-D image, dimension 5) or [c 1 T] (sequence, dimension 2)."
        )
    return torch.randn(shape, dtype=dtype, generator=generator), layout


# ------------------------------------------------------------------- helpers
def _outputs(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [v for v in value if isinstance(v, torch.Tensor)]
    raise AssertionError(f"the layer returned {type(value).__name__}, expected a tensor or a tuple of tensors")


def _float_outputs(value: Any) -> list[torch.Tensor]:
    return [o for o in _outputs(value) if o.is_floating_point()]


class _Checker:
    def __init__(self, layer: nn.Module, sizes: list[Sequence[int]], od: int | None) -> None:
        self.layer, self.sizes, self.od = layer, sizes, od
        self.layouts: list[str] = []
        self.base = copy.deepcopy(layer)
        ex = self.inputs(1, torch.get_default_dtype())
        if hasattr(self.base, "setup"):
            with torch.no_grad():
                self.base.setup(ex, list(self.layouts))
        self.base.eval()
        with torch.no_grad():
            self.base(*ex)  # layers with 'auto' sizes create their parameters here

    def inputs(self, batch: int, dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        out, self.layouts = [], []
        for s in self.sizes:
            x, lay = input_from_size(s, self.od, batch, torch.float64, g)
            out.append(x.to(dtype))
            self.layouts.append(lay)
        return out

    def copy(self, dtype: torch.dtype = torch.float64, train: bool = False, device: str = "cpu") -> nn.Module:
        m = copy.deepcopy(self.base).to(device=device, dtype=dtype)
        return m.train(train)

    def batch(self, obs: str) -> int:
        if obs == "multiple" and self.od is None:
            raise CheckSkipped("multi-observation tests need ObservationDimension")
        return 1 if obs == "one" else 2

    def where(self, xs: Sequence[torch.Tensor]) -> str:
        return "; ".join(describe(tuple(x.shape), lay) for x, lay in zip(xs, self.layouts))

    # ----------------------------------------------------------------- tests
    def syntax(self) -> None:
        assert isinstance(self.layer, nn.Module), f"a layer must be a torch.nn.Module, got {type(self.layer).__name__}"
        n = len(getattr(self.layer, "input_names", ("in",)))
        assert n == len(self.sizes), f"the layer has {n} inputs but {len(self.sizes)} input sizes were given"

    def runs(self, obs: str, train: bool) -> None:
        xs = self.inputs(self.batch(obs), torch.float64)
        with torch.no_grad():
            self._call(self.copy(train=train), xs)

    def _call(self, m: nn.Module, xs: Sequence[torch.Tensor]) -> Any:
        try:
            return m(*xs)
        except Exception as e:  # noqa: BLE001 - reported as the test's failure reason
            raise AssertionError(f"{type(e).__name__} for input {self.where(xs)}: {e}") from None

    def same_size(self, obs: str) -> None:
        xs = self.inputs(self.batch(obs), torch.float64)
        with torch.no_grad():
            p = [tuple(o.shape) for o in _outputs(self._call(self.copy(train=False), xs))]
            f = [tuple(o.shape) for o in _outputs(self._call(self.copy(train=True), xs))]
        assert p == f, f"predict (eval) gives sizes {p}, forward (train) gives {f}"

    def backward(self, obs: str) -> None:
        m = self.copy(train=True)
        xs = [x.requires_grad_(True) for x in self.inputs(self.batch(obs), torch.float64)]
        outs = _float_outputs(self._call(m, xs))
        assert outs, "the layer has no floating-point output to differentiate"
        sum(o.sum() for o in outs).backward()
        for i, x in enumerate(xs):
            assert x.grad is not None, f"no gradient reaches input {i + 1}"
            assert x.grad.shape == x.shape, f"dL/dX of input {i + 1} has size {tuple(x.grad.shape)}, not {x.shape}"
        for n, p in m.named_parameters():
            if p.requires_grad:
                assert p.grad is not None, f"no gradient reaches learnable '{n}'"

    def dtype(self, precision: str, device: str, train: bool) -> None:
        if device == "gpu" and not torch.cuda.is_available():
            raise CheckSkipped("no compatible GPU device found")
        dt = torch.float32 if precision == "single" else torch.float64
        dev = "cuda" if device == "gpu" else "cpu"
        xs = [x.to(dev) for x in self.inputs(1, dt)]
        with torch.no_grad():
            outs = _float_outputs(self._call(self.copy(dt, train, dev), xs))
        bad = [str(o.dtype).replace("torch.", "") for o in outs if o.dtype != dt or o.device.type != dev]
        assert not bad, f"{str(dt).replace('torch.', '')} input on {dev} gave outputs of type {bad}"

    def gradients(self, obs: str) -> None:
        m = self.copy(train=True)
        xs = self.inputs(self.batch(obs), torch.float64)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(0)
            weights = [torch.randn(o.shape, dtype=torch.float64, generator=g) for o in _float_outputs(m(*xs))]

        def loss() -> torch.Tensor:
            torch.manual_seed(0)  # the same dropout mask in every evaluation
            return sum((o * w).sum() for o, w in zip(_float_outputs(m(*xs)), weights))

        targets = [(f"dL/dX (input {i + 1})", x) for i, x in enumerate(xs)]
        targets += [(f"dL/d{n} (learnable '{n}')", p) for n, p in m.named_parameters() if p.requires_grad]
        for x in xs:
            x.requires_grad_(True)
        with torch.random.fork_rng(), single_thread():
            auto = torch.autograd.grad(loss(), [t for _, t in targets], allow_unused=True)
            for x in xs:
                x.requires_grad_(False)
            problems = []
            for (label, t), a in zip(targets, auto):
                a = torch.zeros_like(t) if a is None else a
                problems += self._compare(label, t, a, loss)
        assert not problems, "gradients differ from finite differences:\n  " + "\n  ".join(problems)

    @staticmethod
    def _compare(label: str, t: torch.Tensor, auto: torch.Tensor, loss: Callable[[], torch.Tensor]) -> list[str]:
        flat = t.data.view(-1)
        n = flat.numel()
        idx = range(n) if n <= MAX_ELEMENTS else torch.randperm(n, generator=torch.Generator().manual_seed(2))
        idx = list(idx)[:MAX_ELEMENTS]
        worst = None
        with torch.no_grad():
            for i in idx:
                v = flat[i].item()
                f = []
                for k in (2, 1, -1, -2):
                    flat[i] = v + k * STEP
                    f.append(loss().item())
                flat[i] = v
                num = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * STEP)
                a = auto.reshape(-1)[i].item()
                err = abs(a - num)
                if err > TOL and err > TOL * abs(num) and (worst is None or err > worst[0]):
                    worst = (err, i, a, num)
        if worst is None:
            return []
        err, i, a, num = worst
        pos = tuple(int(j) for j in torch.unravel_index(torch.tensor(i), t.shape))
        return [
            f"{label}: at index {pos} autograd gives {a:.10g}, finite differences {num:.10g} "
            f"(difference {err:.3g}, tolerance {TOL:g} absolute or relative)"
        ]

    def observations(self) -> None:
        self.batch("multiple")
        m = self.copy(train=False)
        xs = self.inputs(2, torch.float64)
        with torch.no_grad():
            whole = _outputs(self._call(m, xs))
            for i in range(2):
                alone = _outputs(self._call(m, [x[i : i + 1] for x in xs]))
                for k, (w, a) in enumerate(zip(whole, alone)):
                    if w.shape[0] != 2 or tuple(a.shape) != (1, *w.shape[1:]):
                        raise AssertionError(
                            f"output {k + 1}: batch of 2 gives {tuple(w.shape)}, one observation gives {tuple(a.shape)}"
                        )
                    err = (w[i : i + 1].double() - a.double()).abs()
                    if w.is_floating_point() and bool((err > TOL * (1 + a.double().abs())).any()):
                        raise AssertionError(
                            f"output {k + 1}: observation {i + 1} of a batch differs from the "
                            f"same observation alone by up to {err.max().item():.3g} — the layer "
                            f"mixes observations (batch-dependent output)"
                        )

    def signals(self) -> None:
        from ..introspect import record

        m = self.copy(train=False)
        declared = tuple(getattr(m, "signals", ()))
        docs = getattr(m, "signal_docs", {})
        undocumented = [s for s in declared if not str(docs.get(s, "")).strip()]
        assert not undocumented, f"signals without an entry in signal_docs: {undocumented}"
        if not hasattr(m, "_emit"):
            raise CheckSkipped("not a dltk Layer: no signal points")
        xs = self.inputs(1, torch.float64)
        seen: set[str] = set()
        for train in (False, True):  # some signals exist in one mode only (dropout mask, batch statistics)
            m.train(train)
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(0)
                plain = _outputs(m(*xs))
                torch.manual_seed(0)
                rec = record(m, xs[0] if len(xs) == 1 else tuple(xs))
            left = leftover_instrumentation(m)
            assert not left, f"dltk.record left {left}"
            mode = "training" if train else "prediction"
            for k, (a, b) in enumerate(zip(_outputs(rec.output), plain)):
                if not torch.allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True):
                    raise AssertionError(
                        f"output {k + 1} changes while recording in {mode} mode (max difference "
                        f"{(a - b).abs().max().item():.3g})"
                    )
            seen |= set(rec[m.label]) if m.label in rec else set()
        missing = [s for s in declared if s not in seen]
        assert not missing, f"declared signals never recorded: {missing} (call self._emit(name, tensor) in forward)"


def checkLayer(
    layer: nn.Module,
    validInputSize: Sequence[int] | Sequence[Sequence[int]],
    ObservationDimension: int | None = None,
    *,
    verbose: bool = True,
) -> CheckLayerResult:
    """Check a (custom) layer the way MATLAB's ``checkLayer`` does.

    MATLAB: ``checkLayer(layer, validInputSize, ObservationDimension=dim)``.

    Args:
        layer: the layer to check (a :class:`dltk.layers.Layer`, or any
            ``torch.nn.Module`` taking one tensor per input). It is not changed:
            every test works on a copy.
        validInputSize: MATLAB size of one observation, e.g. ``[5, 5, 20]`` for a
            5×5×20 image, or a list of sizes for a layer with several inputs.
        ObservationDimension: MATLAB position of the observation dimension —
            4 for 2-D images, 5 for 3-D images, 2 for sequences/features. Without
            it the multiple-observation tests are skipped, as in MATLAB.
            Default: ``None``.
        verbose: print MATLAB's test log and summary. Default: ``True``.

    Returns:
        A :class:`CheckLayerResult` (``passed``, ``failed``, ``skipped``,
        ``reasons``; true when nothing failed).

    See the module docstring for the tests and for how sizes become tensors.
    """
    sizes = validInputSize
    nested = isinstance(sizes, (list, tuple)) and sizes and isinstance(sizes[0], (list, tuple, torch.Size))
    sizes = [list(s) for s in sizes] if nested else [list(sizes)]
    if getattr(layer, "is_output_layer", False):
        raise OptionError(
            "checkLayer: output layers (loss layers) are not supported yet; check the loss with "
            "dltk.testing.battery on a LayerCase with targets."
        )
    if ObservationDimension is not None:
        ObservationDimension = int(ObservationDimension)
    with single_thread():  # small test tensors: a second thread only adds overhead
        return _check(layer, sizes, ObservationDimension, verbose)


def _check(
    layer: nn.Module, sizes: list[list[int]], ObservationDimension: int | None, verbose: bool
) -> CheckLayerResult:
    start = time.perf_counter()
    result = CheckLayerResult()
    log = []
    try:
        chk = _Checker(layer, sizes, ObservationDimension)
    except Exception as e:  # noqa: BLE001
        if isinstance(e, OptionError):
            raise
        result.failed.append("layerCanBeInitialized")
        result.reasons["layerCanBeInitialized"] = f"{type(e).__name__}: {e}"
        return _finish(result, log, start, verbose, ObservationDimension)
    tests: list[tuple[str, Callable[[], None]]] = [("functionSyntaxesAreCorrect", chk.syntax)]
    for obs in ("one", "multiple"):
        tests += [
            (f"predictDoesNotError(Observations={obs})", lambda o=obs: chk.runs(o, False)),
            (f"forwardDoesNotError(Observations={obs})", lambda o=obs: chk.runs(o, True)),
            (f"forwardPredictAreConsistentInSize(Observations={obs})", lambda o=obs: chk.same_size(o)),
            (f"backwardPropagationDoesNotError(Observations={obs})", lambda o=obs: chk.backward(o)),
        ]
    for fn, train in (("predictIsConsistentInType", False), ("forwardIsConsistentInType", True)):
        for prec in ("single", "double"):
            for dev in ("cpu", "gpu"):
                tests.append(
                    (f"{fn}(Precision={prec},Device={dev})", lambda p=prec, d=dev, t=train: chk.dtype(p, d, t))
                )
    for obs in ("one", "multiple"):
        tests.append((f"gradientsAreNumericallyCorrect(Observations={obs})", lambda o=obs: chk.gradients(o)))
    tests += [("multipleObservationsAreConsistent", chk.observations), ("signalsAreConsistent", chk.signals)]
    for name, test in tests:
        try:
            test()
        except CheckSkipped as why:
            result.skipped.append(name)
            result.reasons[name] = str(why)
            log.append(("skip", name))
        except AssertionError as err:
            result.failed.append(name)
            result.reasons[name] = str(err) or "assertion failed"
            log.append(("fail", name))
        except Exception as err:  # noqa: BLE001 - a crashing test is a failed test
            result.failed.append(name)
            result.reasons[name] = f"{type(err).__name__}: {err}"
            log.append(("fail", name))
        else:
            result.passed.append(name)
            log.append(("pass", name))
    return _finish(result, log, start, verbose, ObservationDimension)


def _finish(result: CheckLayerResult, log: list, start: float, verbose: bool, od: int | None) -> CheckLayerResult:
    result.elapsed = time.perf_counter() - start
    if not verbose:
        return result
    lines = []
    if od is None:
        lines += [
            "Skipping multi-observation tests. To enable tests with multiple observations, specify the "
            "'ObservationDimension' option in checkLayer.",
            "For 2-D image data, set 'ObservationDimension' to 4.",
            "For 3-D image data, set 'ObservationDimension' to 5.",
            "For sequence data, set 'ObservationDimension' to 2.",
            " ",
        ]
    if not torch.cuda.is_available():
        lines += ["Skipping GPU tests. No compatible GPU device found.", " "]
    lines += [f"Running {SUITE}", "".join("." if s != "fail" else "F" for s, _ in log)]
    for name in result.failed:
        lines += [
            "=" * 80,
            f"Verification failed in {SUITE}/{name}.",
            "    " + result.reasons[name].replace("\n", "\n    "),
            "=" * 80,
        ]
    lines += [
        f"Done {SUITE}",
        "__________",
        "",
        "Test Summary:",
        f"\t {result.summary()}",
        f"\t Time elapsed: {result.elapsed:.2f} seconds.",
    ]
    if result.failed:
        lines += ["", "Failed tests:"] + [f"\t {n}" for n in result.failed]
    print("\n".join(lines))
    return result
