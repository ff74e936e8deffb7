"""``trainingOptions``: MATLAB's training options, validated, with MATLAB's defaults.

``opts = dltk.trainingOptions("adam", MaxEpochs=50, MiniBatchSize=27)`` (or the
string pairs ``trainingOptions("adam", "MaxEpochs", 50)``) returns a
:class:`TrainingOptions` whose MATLAB property names read and write the
options (``opts.MaxEpochs``; ``opts.max_epochs`` reads the same value).
Unknown options and invalid values raise :class:`~dltk.errors.OptionError`
naming the option and the allowed values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ..errors import OptionError
from ..options import choice, flag, number, positive_int, split_args

__all__ = ["SOLVERS", "TrainingOptions", "trainingOptions"]

WHERE = "trainingOptions"
SOLVERS = ("sgdm", "adam", "rmsprop")
_CLASS = {"sgdm": "TrainingOptionsSGDM", "adam": "TrainingOptionsADAM", "rmsprop": "TrainingOptionsRMSProp"}


def _int_or_inf(option: str) -> Callable[[Any], float | int]:
    def check(v: Any) -> float | int:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isinf(v) and v > 0:
            return math.inf
        return positive_int(WHERE, option, v)

    return check


def _positive_or_inf(option: str) -> Callable[[Any], float]:
    return lambda v: number(WHERE, option, v, low=0, low_open=True)


def _seq_length(v: Any) -> str | int:
    try:
        if isinstance(v, str):
            return choice(WHERE, "SequenceLength", v, ("longest", "shortest"))
        return positive_int(WHERE, "SequenceLength", v)
    except OptionError:
        raise OptionError(
            f"{WHERE}: invalid SequenceLength {v!r}. Allowed values: 'longest', 'shortest' or a positive integer."
        ) from None


def _validation_data(v: Any) -> tuple[Any, Any] | None:
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return None
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return (v[0], v[1])
    raise OptionError(
        f"{WHERE}: ValidationData must be a pair (XValidation, YValidation) [MATLAB {{XValidation, YValidation}}], "
        f"got {type(v).__name__}."
    )


def _output_fcn(v: Any) -> tuple[Callable[..., Any], ...]:
    if v is None:
        return ()
    fns = tuple(v) if isinstance(v, (list, tuple)) else (v,)
    for f in fns:
        if not callable(f):
            raise OptionError(f"{WHERE}: OutputFcn must be a function or a list of functions, got {type(f).__name__}.")
    return fns


def _pct(option: str, high_open: bool = False) -> Callable[[Any], float]:
    return lambda v: number(WHERE, option, v, low=0, high=1, high_open=high_open)


def _num_workers(v: Any) -> str | int:
    if isinstance(v, str) and v.lower() == "auto":
        return "auto"
    try:
        return positive_int(WHERE, "NumWorkers", v)
    except OptionError:
        raise OptionError(
            f"{WHERE}: invalid NumWorkers {v!r}. Allowed values: 'auto' (one worker per CPU core, or per GPU "
            "with 'multi-gpu') or a positive integer."
        ) from None


# option -> (default or {solver: default}, validator, solvers it applies to or None = all)
_SPEC: dict[str, tuple[Any, Callable[[Any], Any], tuple[str, ...] | None]] = {
    "Momentum": (0.9, _pct("Momentum"), ("sgdm",)),
    "GradientDecayFactor": (0.9, _pct("GradientDecayFactor", True), ("adam",)),
    "SquaredGradientDecayFactor": (
        {"adam": 0.999, "rmsprop": 0.9},
        _pct("SquaredGradientDecayFactor", True),
        ("adam", "rmsprop"),
    ),
    "Epsilon": (1e-8, lambda v: number(WHERE, "Epsilon", v, low=0, low_open=True), ("adam", "rmsprop")),
    "InitialLearnRate": (
        {"sgdm": 0.01, "adam": 0.001, "rmsprop": 0.001},
        lambda v: number(WHERE, "InitialLearnRate", v, low=0, low_open=True),
        None,
    ),
    "LearnRateSchedule": ("none", lambda v: choice(WHERE, "LearnRateSchedule", v, ("none", "piecewise")), None),
    "LearnRateDropFactor": (0.1, _pct("LearnRateDropFactor"), None),
    "LearnRateDropPeriod": (10, lambda v: positive_int(WHERE, "LearnRateDropPeriod", v), None),
    "L2Regularization": (1e-4, lambda v: number(WHERE, "L2Regularization", v, low=0), None),
    "GradientThresholdMethod": (
        "l2norm",
        lambda v: choice(WHERE, "GradientThresholdMethod", v, ("l2norm", "global-l2norm", "absolute-value")),
        None,
    ),
    "GradientThreshold": (math.inf, _positive_or_inf("GradientThreshold"), None),
    "MaxEpochs": (30, lambda v: positive_int(WHERE, "MaxEpochs", v), None),
    "MiniBatchSize": (128, lambda v: positive_int(WHERE, "MiniBatchSize", v), None),
    "Shuffle": ("once", lambda v: choice(WHERE, "Shuffle", v, ("once", "never", "every-epoch")), None),
    "ValidationData": (None, _validation_data, None),
    "ValidationFrequency": (50, lambda v: positive_int(WHERE, "ValidationFrequency", v), None),
    "ValidationPatience": (math.inf, _int_or_inf("ValidationPatience"), None),
    "OutputNetwork": (
        "auto",
        lambda v: choice(WHERE, "OutputNetwork", v, ("auto", "last-iteration", "best-validation-loss")),
        None,
    ),
    "SequenceLength": ("longest", _seq_length, None),
    "SequencePaddingDirection": (
        "right",
        lambda v: choice(WHERE, "SequencePaddingDirection", v, ("right", "left")),
        None,
    ),
    "SequencePaddingValue": (0.0, lambda v: number(WHERE, "SequencePaddingValue", v), None),
    "SequenceMasking": (True, lambda v: flag(WHERE, "SequenceMasking", v), None),
    "Verbose": (True, lambda v: flag(WHERE, "Verbose", v), None),
    "VerboseFrequency": (50, lambda v: positive_int(WHERE, "VerboseFrequency", v), None),
    "Plots": ("none", lambda v: choice(WHERE, "Plots", v, ("none", "training-progress")), None),
    "ExecutionEnvironment": (
        "auto",
        lambda v: choice(WHERE, "ExecutionEnvironment", v, ("auto", "cpu", "gpu", "multi-gpu", "parallel")),
        None,
    ),
    "NumWorkers": ("auto", _num_workers, None),
    "ResetInputNormalization": (True, lambda v: flag(WHERE, "ResetInputNormalization", v), None),
    "OutputFcn": ((), _output_fcn, None),
}

#: options that are dltk extensions (documented as such in the display)
EXTENSIONS = ("SequenceMasking", "NumWorkers")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


_SNAKE = {_snake(k): k for k in _SPEC}


def _fmt(v: Any) -> str:
    if v is None:
        return "[]"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if math.isinf(v):
            return "Inf"
        if v == 0:
            return "0"
        return f"{v:.4f}" if 1e-3 <= abs(v) < 1e4 else f"{v:.4e}"
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, tuple) and len(v) == 2 and not all(callable(f) for f in v):
        return "{XValidation, YValidation}"
    if isinstance(v, tuple):
        return "[]" if not v else ", ".join(getattr(f, "__name__", "fn") for f in v)
    return str(v)


class TrainingOptions:
    """Training options (MATLAB ``TrainingOptionsSGDM`` / ``…ADAM`` / ``…RMSProp``).

    Create with :func:`trainingOptions`. Each option is a MATLAB-named
    property (``opts.MaxEpochs``), also readable in snake_case
    (``opts.max_epochs``); assigning validates like the constructor.
    """

    def __init__(self, solver: str, values: dict[str, Any]) -> None:
        object.__setattr__(self, "SolverName", solver)
        object.__setattr__(self, "_values", values)

    @property
    def names(self) -> list[str]:
        """The option names that apply to this solver, in display order."""
        return list(self._values)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        if name in _SNAKE and _SNAKE[name] in values:
            return values[_SNAKE[name]]
        raise AttributeError(f"{type(self).__name__} ({self.SolverName}) has no option {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        key = name if name in self._values else _SNAKE.get(name)
        if key is None or key not in self._values:
            raise OptionError(_unknown(self.SolverName, name))
        self._values[key] = _SPEC[key][1](value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._values))

    def __eq__(self, other: object) -> bool:
        same = isinstance(other, TrainingOptions) and other.SolverName == self.SolverName
        return same and self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def as_dict(self) -> dict[str, Any]:
        """The options as a dict keyed by MATLAB name (``SolverName`` included)."""
        return {"SolverName": self.SolverName, **self._values}

    def __repr__(self) -> str:
        width = max(len(k) for k in self._values)
        lines = [f"{_CLASS[self.SolverName]} with properties:", ""]
        for k, v in self._values.items():
            ext = "   (dltk extension)" if k in EXTENSIONS else ""
            lines.append(f"  {k:>{width}}: {_fmt(v)}{ext}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td style='text-align:right'>{escape(k)}</td><td style='text-align:left'>{escape(_fmt(v))}"
            f"{' <i>(dltk extension)</i>' if k in EXTENSIONS else ''}</td></tr>"
            for k, v in self._values.items()
        )
        return f"<b>{_CLASS[self.SolverName]}</b><table class='dltk-options'>{rows}</table>"


def _applies(spec: tuple[Any, Any, tuple[str, ...] | None], solver: str) -> bool:
    return spec[2] is None or solver in spec[2]


def _unknown(solver: str, name: Any) -> str:
    spec = _SPEC.get(name) if isinstance(name, str) else None
    if spec is not None:
        only = " or ".join(f"'{s}'" for s in spec[2] or ())
        return f"{WHERE}: option {name!r} applies only to solver {only}, not '{solver}'."
    allowed = ", ".join(sorted((k for k, s in _SPEC.items() if _applies(s, solver)), key=str.lower))
    return f"{WHERE}: unknown option {name!r} for solver '{solver}'. Allowed options: {allowed}."


def trainingOptions(solverName: str, *args: Any, **kwargs: Any) -> TrainingOptions:
    """Options for :func:`dltk.trainNetwork` (MATLAB ``trainingOptions``).

    MATLAB: ``options = trainingOptions(solverName, Name=Value)``.

    Solvers (θ the parameters, g the gradient of the loss plus the L2 term
    λ·L2Factor·θ, α the learning rate times the parameter's LearnRateFactor):

    .. math::
        \\text{sgdm:}\\quad v \\leftarrow \\gamma v - \\alpha g,\\quad \\theta \\leftarrow \\theta + v

        \\text{adam:}\\quad m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad
        s \\leftarrow \\beta_2 s + (1-\\beta_2) g^2,\\quad
        \\theta \\leftarrow \\theta - \\alpha \\frac{m/(1-\\beta_1^k)}{\\sqrt{s/(1-\\beta_2^k)} + \\epsilon}

        \\text{rmsprop:}\\quad s \\leftarrow \\beta_2 s + (1-\\beta_2) g^2,\\quad
        \\theta \\leftarrow \\theta - \\alpha \\frac{g}{\\sqrt{s} + \\epsilon}

    where γ is Momentum, β₁ GradientDecayFactor, β₂ SquaredGradientDecayFactor,
    ε Epsilon, k the iteration and λ L2Regularization. Gradient clipping
    (GradientThreshold) acts on the loss gradient before the L2 term is added.

    Args:
        solverName: ``'sgdm'``, ``'adam'`` or ``'rmsprop'``.
        Momentum: sgdm only. Default: 0.9.
        GradientDecayFactor: adam β₁. Default: 0.9.
        SquaredGradientDecayFactor: β₂. Default: 0.999 (adam), 0.9 (rmsprop).
        Epsilon: adam/rmsprop denominator offset. Default: 1e-8.
        InitialLearnRate: Default: 0.01 (sgdm), 0.001 (adam, rmsprop).
        LearnRateSchedule: ``'none'`` or ``'piecewise'`` (multiply the rate by
            LearnRateDropFactor every LearnRateDropPeriod epochs). Default: ``'none'``.
        LearnRateDropFactor: Default: 0.1.  LearnRateDropPeriod: Default: 10.
        L2Regularization: λ; adds λ·L2Factor·θ to each gradient (biases: L2Factor 0). Default: 1e-4.
        GradientThreshold: Default: Inf (no clipping).
        GradientThresholdMethod: ``'l2norm'`` (each parameter's gradient rescaled to norm ≤
            threshold), ``'global-l2norm'`` (all gradients rescaled together), ``'absolute-value'``
            (element-wise clip). Default: ``'l2norm'``.
        MaxEpochs: Default: 30.
        MiniBatchSize: observations per iteration; leftovers that do not fill a last
            mini-batch are skipped each epoch (as MATLAB). Default: 128.
        Shuffle: ``'once'``, ``'never'``, ``'every-epoch'``. Default: ``'once'``.
        ValidationData: ``(XValidation, YValidation)``. Default: none.
        ValidationFrequency: iterations between validations. Default: 50.
        ValidationPatience: stop after this many validations without a lower loss. Default: Inf.
        OutputNetwork: ``'auto'`` (best validation loss if ValidationData is
            given, else last iteration), ``'last-iteration'``,
            ``'best-validation-loss'``. Default: ``'auto'``.
        SequenceLength: ``'longest'`` (pad each mini-batch to its longest sequence), ``'shortest'``
            (truncate to the shortest), or an integer (pad, then split into chunks of that length that
            carry the recurrent state; backpropagation is truncated between chunks). Default: ``'longest'``.
        SequencePaddingDirection: ``'right'`` or ``'left'``. Default: ``'right'``.  SequencePaddingValue: Default: 0.
        SequenceMasking: *dltk extension*. True: padded steps never influence
            results (layers receive the real lengths; left-padded data is
            handled so that predictions do not depend on padding). False:
            MATLAB's raw behaviour — padding is fed through the layers like
            data (with ``OutputMode='last'`` and right padding the output is
            taken at a padded step). Default: True.
        Verbose: print a MATLAB-like progress table and a progress bar. Default: True.
        VerboseFrequency: iterations between table rows. Default: 50.
        Plots: ``'none'`` or ``'training-progress'`` (live figure). Default: ``'none'``.
        ExecutionEnvironment: ``'auto'`` (CUDA if available), ``'cpu'``, ``'gpu'``, ``'parallel'``
            (several worker processes on this machine's CPUs, or across machines under ``torchrun``),
            ``'multi-gpu'`` (one worker per local GPU). Data-parallel: each worker takes its share of
            every mini-batch and the gradients are summed, so MiniBatchSize stays the global
            mini-batch (see :mod:`dltk.train.parallel`). Default: ``'auto'``.
        NumWorkers: *dltk extension*, workers for ``'parallel'`` / ``'multi-gpu'``: ``'auto'`` (the CPU
            count, or the GPU count for ``'multi-gpu'``) or a positive integer. Ignored under a
            launcher (``torchrun``), whose WORLD_SIZE decides. Default: ``'auto'``.
        ResetInputNormalization: fit the input layer's normalization on the training data. Default: True.
        OutputFcn: function or list of functions called with a dict of the
            training state (MATLAB's info struct fields: Epoch, Iteration,
            TimeSinceStart, TrainingLoss, TrainingAccuracy/RMSE, Validation…,
            BaseLearnRate, State ``'start'``/``'iteration'``/``'done'``);
            returning True after an iteration stops training. Default: none.

    Returns:
        :class:`TrainingOptions`; ``repr`` lists the options as MATLAB displays them.

    Example:
        >>> opts = dltk.trainingOptions("adam", MaxEpochs=50, MiniBatchSize=27, GradientThreshold=1)
        >>> opts.MaxEpochs
        50
    """
    solver = choice(WHERE, "solverName", solverName, SOLVERS)
    return TrainingOptions(solver, _option_values(solver, _given_options(solver, args, kwargs)))


def _given_options(solver: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The name-value options given (MATLAB pairs or keywords); unknown names get close matches."""
    try:
        _, given = split_args(WHERE, args, kwargs, (), _SPEC)
    except OptionError as e:
        m = re.search(r"unknown option '([^']*)'", str(e))
        if m:
            raise OptionError(_unknown(solver, m.group(1))) from None
        raise
    return given


def _option_values(solver: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``solver``: its default, or the given value checked."""
    values: dict[str, Any] = {}
    for name, (default, _check, _solvers) in _SPEC.items():
        if not _applies(_SPEC[name], solver):
            continue
        values[name] = default[solver] if isinstance(default, dict) else default
    for name, value in given.items():
        if name not in values:
            raise OptionError(_unknown(solver, name))
        values[name] = _SPEC[name][1](value)
    return values
