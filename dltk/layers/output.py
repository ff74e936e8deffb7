"""Output (loss) layers: classification, regression, pixel classification, Dice and focal loss.

An output layer ends a network. ``forward(y)`` checks the prediction and
returns it unchanged; ``loss(y, targets, lengths=None)`` returns the scalar
loss and, while :func:`dltk.record` runs, emits the loss broken down into its
terms (per observation, per time step or pixel, the predicted class …).

Conventions shared by every layer in this file:

* Classification layers receive **probabilities** (the softmax output).
  Targets are int64 class indices shaped like ``y`` without its class axis.
* ``ln Y`` is taken of ``max(Y, eps)`` with ``eps = torch.finfo(y.dtype).eps``
  (2.2e-16 in float64, 1.2e-7 in float32), so a zero probability gives a large
  finite loss, as MATLAB bounds Y away from zero.
* Padded sequence batches (right padding, ``lengths``) and ignored labels
  (target −1) are masked: the scalar loss is the sum over the real entries
  divided by their number. Without padding that is MATLAB's ``… / (N·S)``
  (N observations, S time steps); with padding it is the loss of the batch of
  all real time steps, as if the sequences had not been padded.
* Without a recording (and without padding), ``loss`` takes a lean path:
  the same value from fused PyTorch ops (``nll_loss``, ``gather``), whose own
  index checks catch bad class indices; the clear dltk error follows when
  they raise. CUDA targets are checked first (there a bad index is a
  device-side assert).

Custom output layers subclass :class:`ClassificationOutputLayer` or
:class:`RegressionOutputLayer` and write ``loss`` (see ``output_custom.py``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from ..errors import LayerInputError, OptionError
from ..layouts import matlab_format, matlab_size, shape_str
from ..options import number
from .base import Layer, matlab_property

__all__ = [
    "OutputLayer",
    "ClassificationOutputLayer",
    "RegressionOutputLayer",
    "Classification",
    "Regression",
    "PixelClassification",
    "DicePixelClassification",
    "FocalLoss",
]


_EPS = {dt: torch.finfo(dt).eps for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


def _eps(y: torch.Tensor) -> float:
    return _EPS.get(y.dtype) or torch.finfo(y.dtype).eps


#: ``nll_loss``'s ``ignore_index`` where no label may be ignored: −1 and −100 must raise.
#: Not −2**63: float → int64 conversion gives that for NaN and ±Inf (x86), so
#: ``targets.long()`` of NaN labels would be ignored silently; no conversion gives this one.
_NO_IGNORE = -(2**63) + 1


def check_classes(where: str, value: Any) -> list[str] | str:
    """``'auto'`` or a list of distinct class names (strings or ints, order kept, stored as text)."""
    if isinstance(value, str):
        if value.lower() == "auto":
            return "auto"
        raise OptionError(f"{where}: Classes must be 'auto' or a list of class names, got {value!r}.")
    try:
        names = [str(c) for c in np.asarray(value, dtype=object).ravel().tolist()]
    except Exception:  # noqa: BLE001
        names = []
    if not names or len(set(names)) != len(names):
        raise OptionError(f"{where}: Classes must be 'auto' or a non-empty list of distinct names, got {value!r}.")
    return names


def check_class_weights(where: str, value: Any, classes: list[str] | str) -> torch.Tensor | None:
    """``'none'`` (None) or a positive float64 vector with one weight per class."""
    if isinstance(value, str):
        if value.lower() == "none":
            return None
        raise OptionError(f"{where}: ClassWeights must be 'none' or a vector of positive numbers, got {value!r}.")
    try:
        w = torch.as_tensor(np.asarray(value, dtype=np.float64)).ravel()
    except (TypeError, ValueError):
        raise OptionError(f"{where}: ClassWeights must be a vector of positive numbers, got {value!r}.") from None
    if w.numel() == 0 or not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
        raise OptionError(f"{where}: ClassWeights must be positive finite numbers, got {value!r}.")
    if classes != "auto" and w.numel() != len(classes):
        raise OptionError(
            f"{where}: ClassWeights has {w.numel()} elements but there are {len(classes)} Classes; "
            "give one weight per class, in the order of Classes."
        )
    return w


class OutputLayer(Layer):
    """Base of every output (loss) layer: no outputs, ``forward`` checks and returns ``y``."""

    is_output_layer = True
    #: ``"classification"`` or ``"regression"``
    task: ClassVar[str] = ""
    #: dltk layouts accepted for the prediction ``y``
    y_layouts: ClassVar[tuple[str, ...]] = ("BC",)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        self._check_y(y)
        return y

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        """The scalar loss of prediction ``y`` against ``targets``."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(y, targets, lengths=None)")

    def _check_y(self, y: Any) -> str:
        return self._check_input(y, self.y_layouts)

    def _step_mask(self, y: torch.Tensor, lay: str, lengths: Any) -> torch.Tensor | None:
        """(B, T) bool mask of the real steps of a right-padded batch, or None."""
        if lengths is None:
            return None
        if lay != "BTC":
            raise self._fail("no lengths (lengths are for padded sequence batches, BTC)", y)
        B, T = y.shape[0], y.shape[1]
        ln = torch.as_tensor(lengths, device=y.device)
        if ln.shape != (B,) or ln.is_floating_point() or bool(((ln < 1) | (ln > T)).any()):
            raise LayerInputError(
                f"{self.matlab_name or type(self).__name__} '{self.label}': lengths must be {B} integers "
                f"in 1…{T} (one per observation), got {ln.tolist()}."
            )
        return torch.arange(T, device=y.device)[None, :] < ln[:, None]

    def _target_text(self, shape: Sequence[Any], lay: str, kind: str) -> str:
        """``(4, 20) BT [MATLAB 1×4×20 CBT categorical]`` — targets of a ``lay`` prediction."""
        if kind == "categorical":
            full = list(shape)
            full.insert(lay.index("C"), 1)
            ml = f"{matlab_size(full, lay)} {matlab_format(lay)} {kind}"
            return f"{shape_str(shape)} {lay.replace('C', '')} [MATLAB {ml}]"
        return f"{shape_str(shape)} {lay} [MATLAB {matlab_size(shape, lay)} {matlab_format(lay)}]"

    def _target_fail(self, expected: str, got: Any, why: str = "") -> LayerInputError:
        if isinstance(got, torch.Tensor):
            g = f"{shape_str(tuple(got.shape))} {str(got.dtype).replace('torch.', '')}"
        else:
            g = type(got).__name__
        why = f" ({why})" if why else ""
        return LayerInputError(
            f"{self.matlab_name or type(self).__name__} '{self.label}': expected targets {expected}, got {g}{why}."
        )

    def _reduce(
        self, entry: torch.Tensor, mask: torch.Tensor | None, entry_signal: str, entry_layout: str
    ) -> torch.Tensor:
        """Masked mean of per-entry losses; emits ``loss`` (B,) and the per-entry signal.

        ``entry`` is (B,) or (B, …) and already 0 where ``mask`` is False.
        Scalar = Σ entries / number of real entries; ``loss`` (B,) is each
        observation's mean over its own real entries.
        """
        B = entry.shape[0]
        per_sum = entry if entry.ndim == 1 else entry.reshape(B, -1).sum(1)  # (B,)
        if mask is None:
            if self._recorder is None:  # plain path: the count is the number of entries
                return per_sum.sum() / max(entry.numel(), 1)
            count = torch.full((B,), entry[0].numel(), dtype=entry.dtype, device=entry.device)
        else:
            count = mask.reshape(B, -1).sum(1).to(entry.dtype)
        total = per_sum.sum() / count.sum().clamp(min=1)
        if self._recorder is not None:
            if entry.ndim > 1:
                self._emit(entry_signal, entry, entry_layout)
            self._emit("loss", per_sum / count.clamp(min=1), "B")
        return total


class ClassificationOutputLayer(OutputLayer):
    """Base of classification output layers: classes, class weights, target checks, labels.

    Subclasses set ``y_layouts`` and ``accepts_undefined`` and write ``loss``.
    A custom layer can call :meth:`one_hot` to get MATLAB's ``T`` (one-hot,
    shaped like ``Y``) and write ``loss`` from MATLAB's formula.
    """

    task = "classification"
    #: True if target −1 (undefined label) is ignored; False: it is an error
    accepts_undefined: ClassVar[bool] = False

    def __init__(self, classes: Any = "auto", class_weights: Any = "none", *, name: str = "") -> None:
        super().__init__(name)
        where = self.matlab_name or type(self).__name__
        self._classes = check_classes(where, classes)
        self.class_weights = check_class_weights(where, class_weights, self._classes)
        self._num_classes: int | None = None if self._classes == "auto" else len(self._classes)

    # ------------------------------------------------------------- classes
    @property
    def classes(self) -> list[str] | str:
        """Class names in class-index order, or ``'auto'`` (MATLAB ``Classes``)."""
        return self._classes

    @classes.setter
    def classes(self, value: Any) -> None:
        where = self.matlab_name or type(self).__name__
        names = check_classes(where, value)
        if names != "auto":
            if self._num_classes is not None and len(names) != self._num_classes:
                raise OptionError(f"{where}: {len(names)} Classes given but the input has {self._num_classes}.")
            check_class_weights(where, self.class_weights if self.class_weights is not None else "none", names)
            self._num_classes = len(names)
        self._classes = names
        # keep init_config() (what dltk.save stores) in step when training names the classes
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        if not args and "classes" in inspect.signature(type(self).__init__).parameters:
            kwargs["classes"] = names

    @property
    def num_classes(self) -> int | None:
        """Number of classes K (None until known from ``Classes`` or the first input)."""
        return self._num_classes

    Classes = matlab_property("classes")

    @property
    def ClassWeights(self) -> torch.Tensor | str:  # noqa: N802
        """MATLAB ``ClassWeights``: ``'none'`` or the weight vector."""
        return "none" if self.class_weights is None else self.class_weights

    @property
    def OutputSize(self) -> int | str:  # noqa: N802
        return "auto" if self._num_classes is None else self._num_classes

    def _set_num_classes(self, k: int) -> None:
        if self.class_weights is not None and self.class_weights.numel() != k:
            raise OptionError(
                f"{self.matlab_name or type(self).__name__} '{self.label}': ClassWeights has "
                f"{self.class_weights.numel()} elements but the input has {k} classes."
            )
        self._num_classes = k

    def _check_y(self, y: Any) -> str:
        lay = self._check_input(y, self.y_layouts, {"C": self._num_classes})
        if self._num_classes is None:
            self._set_num_classes(int(y.shape[lay.index("C")]))
        return lay

    def setup(self, example_inputs: list[torch.Tensor], layouts: list[str | None]) -> None:
        super().setup(example_inputs, layouts)
        self._check_y(example_inputs[0])

    # ------------------------------------------------------------- targets
    def _targets_shape(self, y: torch.Tensor, lay: str) -> tuple[int, ...]:
        """The shape the targets of ``y`` must have: ``y``'s without the class axis."""
        ys = y.shape
        if lay[1] == "C":  # BC, BCHW, BCDHW (the common case, kept cheap)
            return (ys[0], *ys[2:])
        c = lay.index("C")
        return (*ys[:c], *ys[c + 1 :])

    def _targets_spec(self, y: torch.Tensor, lay: str) -> tuple[tuple[int, ...], str]:
        shape = tuple(self._targets_shape(y, lay))
        return shape, self._target_text(shape, lay, "categorical")

    def _check_targets(
        self, y: torch.Tensor, lay: str, targets: Any, lengths: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checked int64 targets and the mask of entries that count (None: all count)."""
        K = self._num_classes

        def expected() -> str:  # built only for an error message
            undefined = ", −1 = undefined (ignored)" if self.accepts_undefined else ""
            return f"{self._targets_spec(y, lay)[1]} int64 class indices 0…{K - 1}{undefined}"

        t = targets if isinstance(targets, torch.Tensor) else torch.as_tensor(np.asarray(targets))
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise self._target_fail(expected(), t, "class indices must be integers; use targets.long()")
        if t.shape != self._targets_shape(y, lay):
            raise self._target_fail(expected(), t, "wrong shape")
        if t.dtype != torch.long or t.device != y.device:
            t = t.to(device=y.device, dtype=torch.long)
        mask = None if lengths is None else self._step_mask(y, lay, lengths)  # (B, T) or None
        real = t if mask is None else t[mask]
        low = -1 if self.accepts_undefined else 0
        all_defined = True
        if real.numel():
            lo, hi = (int(v) for v in torch.aminmax(real))  # one pass over the targets
            if lo < low or hi >= K:
                bad = real[(real < low) | (real >= K)][0].item()
                hint = "" if self.accepts_undefined or bad != -1 else "; −1 (undefined) labels are not allowed here"
                raise self._target_fail(expected(), t, f"class index {bad} out of range{hint}")
            all_defined = lo >= 0
        if mask is not None:
            t = t.masked_fill(~mask, 0)  # padded steps may hold anything; they are masked out
        if self.accepts_undefined and not (all_defined and mask is None):  # every entry counts: no mask
            defined = t >= 0
            mask = defined if mask is None else mask & defined
        return t, mask

    def one_hot(self, y: torch.Tensor, targets: Any, lengths: Any = None, *, with_mask: bool = False) -> tuple:
        """MATLAB's ``T`` for ``y``: one-hot targets of ``y``'s shape and dtype.

        Ignored entries (padded steps, label −1) are all-zero. Returns
        ``(layout, T)``, or ``(layout, T, mask)`` with ``with_mask=True``
        (``mask``: bool, shaped like the targets, True where the entry counts;
        None when every entry counts); a custom layer's ``loss`` starts with this.
        """
        lay = self._plain_layout(y, targets, lengths)
        T = None if lay is None else self._plain_one_hot(y, lay, targets)
        mask = None
        if T is None:
            lay = self._check_y(y)
            t, mask = self._check_targets(y, lay, targets, lengths)
            T = F.one_hot(t.clamp(min=0), self._num_classes).to(y.dtype).movedim(-1, lay.index("C"))
            if mask is not None:
                T = T * mask.unsqueeze(lay.index("C")).to(y.dtype)
        return (lay, T, mask) if with_mask else (lay, T)

    def class_weight_vector(self, y: torch.Tensor, divisor: int = 1) -> torch.Tensor:
        """Class weights as a (K,) tensor on ``y``'s device and dtype (ones for ``'none'``).

        Divided by ``divisor`` (in float64, before the conversion) when given.
        Cached per dtype, device and divisor; a new or modified
        ``class_weights`` tensor (identity or in-place version) is converted again.
        """
        w, c = self.class_weights, self.__dict__.get("_weight_cache")
        key = (None if w is None else w._version, divisor, y.dtype)
        if c is not None and c[0] is w and c[1] == key and c[2] == y.device:
            return c[3]
        v = torch.ones(self._num_classes, dtype=torch.float64) if w is None else w
        v = (v / divisor if divisor != 1 else v).to(device=y.device, dtype=y.dtype)
        self.__dict__["_weight_cache"] = (w, key, y.device, v)
        return v

    # ------------------------------------------------------------- plain path
    def _plain_layout(self, y: Any, targets: Any, lengths: Any) -> str | None:
        """``y``'s checked layout when the lean plain path may take ``targets`` unchecked, else None.

        The plain path (no recording, no padding, int64 targets of the right
        shape on the CPU like ``y``) leaves the range check to the fused
        PyTorch op, which raises on a bad class index (``nll_loss``,
        ``gather``, ``scatter_``); :meth:`_bad_targets` then raises the clear
        error. Other targets go through :meth:`_check_targets` first, CUDA ones
        too: there a bad index is a device-side assert that spoils the context.
        The last accepted (shapes, dtype, layout) is kept: a training loop
        feeding the same shapes skips re-checking them.
        """
        if (
            self._recorder is not None
            or lengths is not None
            or not isinstance(targets, torch.Tensor)
            or not isinstance(y, torch.Tensor)
            or targets.dtype is not torch.long
            or not (targets.is_cpu and y.is_cpu)
        ):
            return None
        seen = self.__dict__.get("_plain_seen")
        if seen is not None and seen[0] == (y.shape, targets.shape, y.dtype, self.input_layout, self._num_classes):
            return seen[1]
        lay = self._check_y(y)
        if targets.shape != self._targets_shape(y, lay):
            return None
        self.__dict__["_plain_seen"] = ((y.shape, targets.shape, y.dtype, self.input_layout, self._num_classes), lay)
        return lay

    def _bad_targets(self, y: torch.Tensor, lay: str, targets: torch.Tensor, err: Exception) -> NoReturn:
        """Raise the clear error for targets a fused op refused (``err`` itself if they pass the check)."""
        self._check_targets(y, lay, targets)
        raise err

    def _plain_one_hot(self, y: torch.Tensor, lay: str, t: torch.Tensor) -> torch.Tensor | None:
        """Plain-path :meth:`one_hot` when every target is a class index 0…K−1; else None (checked path)."""
        c = lay.index("C")
        try:  # 1 at each target's class: scatter_ raises on −1 and out-of-range indices
            return torch.zeros_like(y).scatter_(c, t.unsqueeze(c), 1.0)
        except RuntimeError:  # the checked path ignores −1 where allowed, else raises the clear error
            return None

    def _nll_view(self, y: torch.Tensor, lay: str, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``y`` and ``t`` with the class axis where ``nll_loss`` wants it (second)."""
        if lay == "BTC":
            return y.reshape(-1, y.shape[2]), t.reshape(-1)  # (B·T, K), (B·T,)
        return y, t

    def _fused_cross_entropy(self, y: torch.Tensor, lay: str, t: torch.Tensor) -> torch.Tensor | None:
        """Plain-path value of :meth:`_cross_entropy`, with PyTorch's own range checks.

        One fused ``nll_loss`` on ln max(Y, ε): ``'mean'`` divides by the
        number of counted entries inside the op; with class weights, ``'sum'``
        (divided by N·S through the weights, or by the labelled count). With
        −1 labels and more than 2 classes, :meth:`_gathered_cross_entropy`
        is cheaper. None when ``'mean'`` gives NaN (no labelled entry, or NaN
        in ``y``): the checked path decides.
        """
        yy, tt = (y, t) if lay == "BC" else self._nll_view(y, lay, t)
        grad = torch.is_grad_enabled() and y.requires_grad  # else: in place on fresh copies
        undefined, w = self.accepts_undefined, self.class_weights
        if undefined and yy.shape[1] > 2:
            return self._gathered_cross_entropy(y, lay, t, yy, tt, grad)
        logp = torch.log(yy.clamp_min(_eps(y))) if grad else yy.clamp_min(_eps(y)).log_()
        try:
            if w is None:
                loss = F.nll_loss(logp, tt, ignore_index=-1 if undefined else _NO_IGNORE)
            elif not undefined:  # Σ (w_t / N·S)(−ln Y_t): weighted 'mean' would divide by Σ w_t
                w = self.class_weight_vector(y, t.numel())
                return F.nll_loss(logp, tt, weight=w, ignore_index=_NO_IGNORE, reduction="sum")
            else:
                loss = F.nll_loss(logp, tt, weight=self.class_weight_vector(y), ignore_index=-1, reduction="sum")
                return loss / (tt >= 0).sum().clamp_min(1)
        except (IndexError, RuntimeError) as err:
            self._bad_targets(y, lay, t, err)
        return None if undefined and math.isnan(loss.item()) else loss

    def _gathered_cross_entropy(
        self, y: torch.Tensor, lay: str, t: torch.Tensor, yy: torch.Tensor, tt: torch.Tensor, grad: bool
    ) -> torch.Tensor:
        """ln max(Y, ε) of the true class only (``gather`` raises on an index ≥ K), after one
        ``min`` of the targets that finds −1 labels (masked) and smaller ones (errors)."""
        lowest = int(tt.min())  # plain path: CPU only, no device sync
        if lowest < -1:
            self._bad_targets(y, lay, t, RuntimeError(f"class index {lowest}"))
        k = tt if lowest >= 0 else tt.clamp(min=0)
        try:
            p = yy.gather(1, k.unsqueeze(1))  # (N, 1, …): Y at the true class
        except RuntimeError as err:
            self._bad_targets(y, lay, t, err)
        lnp = torch.log(p.clamp_min(_eps(y))) if grad else p.clamp_min_(_eps(y)).log_()
        if self.class_weights is not None:
            lnp = lnp * self.class_weight_vector(y)[k.unsqueeze(1)]
        if lowest >= 0:  # every entry labelled
            return -lnp.mean()
        labelled = (tt >= 0).unsqueeze(1)
        return -(lnp * labelled).sum() / labelled.sum().clamp_min(1)

    # -------------------------------------------------------------- labels
    def predict_labels(self, y: torch.Tensor) -> torch.Tensor:
        """Predicted class index (argmax of the probabilities), shaped like the targets.

        ``layer.class_names_of(layer.predict_labels(y))`` gives the names.
        """
        lay = self._check_y(y)
        return y.argmax(lay.index("C"))

    def class_names_of(self, indices: torch.Tensor) -> np.ndarray:
        """Class names for a tensor of class indices (needs ``Classes``; −1 → ``'<undefined>'``)."""
        if self._classes == "auto":
            raise OptionError(f"{self.matlab_name or type(self).__name__}: Classes is 'auto'; no names known yet.")
        names = np.array([*self._classes, "<undefined>"], dtype=object)
        return names[indices.cpu().numpy()]

    def accuracy(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> float:
        """Fraction of correctly classified entries among the ones that count (masked)."""
        lay = self._check_y(y)
        t, mask = self._check_targets(y, lay, targets, lengths)
        ok = y.argmax(lay.index("C")) == t
        if mask is not None:
            return float(ok[mask].double().mean()) if bool(mask.any()) else float("nan")
        return float(ok.double().mean())

    def _emit_labels(self, y: torch.Tensor, lay: str, t: torch.Tensor, mask: torch.Tensor | None) -> None:
        if self._recorder is None:
            return
        pred = y.detach().argmax(lay.index("C"))
        correct = pred == t if mask is None else (pred == t) & mask
        tl = lay.replace("C", "")
        self._emit("predicted", pred, tl)
        self._emit("correct", correct, tl)

    def _cross_entropy(
        self, y: torch.Tensor, lay: str, t: torch.Tensor, mask: torch.Tensor | None, entry_signal: str
    ) -> torch.Tensor:
        """(Weighted) cross-entropy −w_t ln Y_t per entry, masked mean."""
        c = lay.index("C")
        k = t if mask is None else t.clamp(min=0)  # without a mask there is no −1 label
        p = y.gather(c, k.unsqueeze(c)).squeeze(c)  # (B,) (B, T) (B, H, W): Y at the true class
        entry = -torch.log(p.clamp(min=_eps(y)))
        if self.class_weights is not None:
            entry = entry * self.class_weight_vector(y)[k]
        if mask is not None:
            entry = entry * mask
        if self._recorder is not None:
            self._emit("true_class_probability", p, lay.replace("C", ""))
            self._emit_labels(y, lay, t, mask)
        return self._reduce(entry, mask, entry_signal, lay.replace("C", ""))

    def _classes_text(self, loss_name: str) -> str:
        if self._classes == "auto":
            return loss_name
        k = len(self._classes)
        if k == 1:
            return f"{loss_name} with class '{self._classes[0]}'"
        return f"{loss_name} with '{self._classes[0]}' and {k - 1} other class{'es' if k > 2 else ''}"

    def extra_repr(self) -> str:
        w = "'none'" if self.class_weights is None else self.class_weights.tolist()
        return f"classes={self._classes!r}, class_weights={w}"


class RegressionOutputLayer(OutputLayer):
    """Base of regression output layers: response names and target checks."""

    task = "regression"
    y_layouts = ("BC", "BTC", "BCHW", "BCDHW")

    def __init__(self, response_names: Any = (), *, name: str = "") -> None:
        super().__init__(name)
        names = [] if response_names is None else [str(r) for r in np.asarray(response_names, dtype=object).ravel()]
        self.response_names = names

    ResponseNames = matlab_property("response_names")

    def _check_y(self, y: Any) -> str:
        n = len(self.response_names)
        return self._check_input(y, self.y_layouts, {"C": n} if n else None)

    def _check_targets(
        self, y: torch.Tensor, lay: str, targets: Any, lengths: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Targets as a float tensor shaped like ``y`` and the (B, T) real-step mask (or None)."""

        def expected() -> str:  # built only for an error message
            return f"{self._target_text(tuple(y.shape), lay, '')} floating-point responses"

        t = targets if isinstance(targets, torch.Tensor) else torch.as_tensor(np.asarray(targets))
        if not t.is_floating_point():
            raise self._target_fail(expected(), t, "responses must be floating point; use targets.float()")
        if t.shape != y.shape:
            raise self._target_fail(expected(), t, "wrong shape")
        return t.to(device=y.device, dtype=y.dtype), self._step_mask(y, lay, lengths)

    def _plain_targets(self, y: torch.Tensor, targets: Any, lengths: Any) -> torch.Tensor | None:
        """``targets`` when the plain path (no recording, no padding) may use them as they are:
        a tensor of ``y``'s shape, dtype and device; else None (:meth:`_check_targets`)."""
        if (
            self._recorder is None
            and lengths is None
            and isinstance(targets, torch.Tensor)
            and targets.dtype == y.dtype
            and targets.device == y.device
            and targets.shape == y.shape
        ):
            return targets
        return None

    def _responses_text(self, loss_name: str) -> str:
        r = self.response_names
        if not r:
            return loss_name
        if len(r) == 1:
            return f"{loss_name} with response '{r[0]}'"
        return f"{loss_name} with '{r[0]}' and {len(r) - 1} other response{'s' if len(r) > 2 else ''}"

    def extra_repr(self) -> str:
        return f"response_names={self.response_names!r}"


class Classification(ClassificationOutputLayer):
    r"""Cross-entropy loss for mutually exclusive classes (MATLAB ``classificationLayer``).

    .. math::
        \text{loss} = -\frac{1}{N S} \sum_{n=1}^{N} \sum_{t=1}^{S} \sum_{i=1}^{K}
            w_i\, T_{nti} \ln \max(Y_{nti}, \epsilon)

    where :math:`Y_{nti}` is the predicted probability of class :math:`i` for
    observation :math:`n` at time step :math:`t` (the softmax output),
    :math:`T_{nti}` is 1 for the true class and 0 otherwise, :math:`w_i` the
    class weight (1 without ClassWeights), :math:`N` the number of
    observations, :math:`S` the number of time steps (1 without a T axis) and
    :math:`\epsilon` the dtype's machine epsilon. For a right-padded batch
    (``lengths``) the padded steps are left out and :math:`N S` becomes the
    number of real steps :math:`\sum_n S_n`. The normaliser is :math:`N S`
    also with class weights (PyTorch's weighted ``nll_loss`` divides by
    :math:`\sum w` instead).

    Target −1 (MATLAB ``<undefined>``) is an error for this layer, except at
    padded time steps, whose targets are ignored whatever they hold; use
    :class:`PixelClassification` for data with undefined labels.

    Args:
        classes: ``'auto'`` (taken from the input size; names set by training)
            or the class names in class-index order (MATLAB ``Classes``).
            Default: ``'auto'``.
        class_weights: ``'none'`` or one positive weight per class, in the
            order of Classes (MATLAB ``ClassWeights``). Default: ``'none'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==========================  ======================  =========================================
        prediction ``y``            dltk                    MATLAB
        ==========================  ======================  =========================================
        features                    (B, K)                  CB (K×N)
        sequence (seq-to-seq)       (B, T, K)               CBT (K×N×S)
        ==========================  ======================  =========================================

        Targets: (B,) or (B, T) int64 class indices 0…K−1 (MATLAB: N×1
        categorical, or an N×1 cell of 1×S categorical sequences). B = N
        observations, T = S time steps, K classes.

    Learnables:
        none.

    Signals (recorded by ``dltk.record(..., targets=…)``):
        ``loss`` (B,): each observation's loss (mean over its real steps);
        ``step_loss`` (B, T): per time step, 0 at padded steps (sequences only);
        ``true_class_probability`` (B,)/(B, T): :math:`Y` at the true class;
        ``predicted`` (B,)/(B, T): argmax class index; ``correct`` (B,)/(B, T) bool.

    Also: :meth:`predict_labels`, :meth:`accuracy`, :meth:`class_names_of`.

    Example:
        >>> out = dltk.classificationLayer(Classes=["a", "b", "c"])
        >>> out.loss(torch.softmax(torch.randn(4, 3), 1), torch.tensor([0, 2, 1, 0]))
    """

    signals = ("loss", "step_loss", "true_class_probability", "predicted", "correct")
    signal_docs = {
        "loss": "per-observation loss (mean over its real time steps), (B,)",
        "step_loss": "per-time-step loss w_t·(−ln Y_t), 0 at padded steps, (B, T); sequences only",
        "true_class_probability": "probability given to the true class, (B,) or (B, T)",
        "predicted": "predicted class index (argmax), (B,) or (B, T)",
        "correct": "predicted == target (False at padded steps), (B,) or (B, T)",
    }
    matlab_name = "classificationLayer"
    type_name = "Classification Output"
    name_prefix = "classoutput"
    torch_equivalent = "torch.nn.NLLLoss on log-probabilities (reduction='sum' / N·S)"
    y_layouts = ("BC", "BTC")
    matlab_options = {"Classes": "classes", "ClassWeights": "class_weights"}

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None:  # no recording, no padding: the same value from one fused nll_loss
            return self._fused_cross_entropy(y, lay, targets)
        lay = self._check_y(y)
        t, mask = self._check_targets(y, lay, targets, lengths)
        return self._cross_entropy(y, lay, t, mask, "step_loss")

    @property
    def LossFunction(self) -> str:  # noqa: N802
        return "crossentropyex"

    def description(self) -> str:
        return self._classes_text("crossentropyex")


class Regression(RegressionOutputLayer):
    r"""Half mean squared error (MATLAB ``regressionLayer``).

    .. math::
        \text{loss} = \frac{1}{N S} \sum_{n=1}^{N} \sum_{t=1}^{S} \sum_{i=1}^{R}
            \tfrac12 (Y_{nti} - T_{nti})^2

    where :math:`Y` is the prediction, :math:`T` the target, :math:`R` the
    number of responses (all values of an observation: for images
    C·H·W(·D)), :math:`N` the number of observations and :math:`S` the number
    of time steps (1 without a T axis). The sum over responses is **not**
    divided by :math:`R` (MATLAB's normalisation). For a right-padded batch
    (``lengths``) the padded steps are left out and :math:`N S` becomes
    :math:`\sum_n S_n`.

    Args:
        response_names: names of the responses, used for display; when given,
            the input must have that many channels (MATLAB ``ResponseNames``).
            Default: ``()`` (MATLAB ``{}``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  =================  =============
        prediction ``y``    dltk               MATLAB
        ==================  =================  =============
        features            (B, R)             CB
        sequence            (B, T, R)          CBT
        2-D image           (B, C, H, W)       SSCB
        3-D image           (B, C, D, H, W)    SSSCB
        ==================  =================  =============

        Targets: float, same shape as ``y``.

    Learnables:
        none.

    Signals:
        ``error`` (shape of ``y``): :math:`Y - T` (0 at padded steps);
        ``loss`` (B,): per-observation loss (mean over its real steps);
        ``step_loss`` (B, T): per time step, sequences only.

    Example:
        >>> out = dltk.regressionLayer(ResponseNames=["x", "y"])
        >>> out.loss(torch.zeros(4, 2), torch.ones(4, 2))   # ½·2 per observation
        tensor(1.)
    """

    signals = ("error", "loss", "step_loss")
    signal_docs = {
        "error": "Y − T, shape of the prediction (0 at padded steps)",
        "loss": "per-observation loss Σ ½(Y−T)² (mean over real steps), (B,)",
        "step_loss": "Σ over responses of ½(Y−T)² per time step, (B, T); sequences only",
    }
    matlab_name = "regressionLayer"
    type_name = "Regression Output"
    name_prefix = "regressionoutput"
    torch_equivalent = "0.5 * torch.nn.MSELoss(reduction='sum') / (N·S)"
    matlab_options = {"ResponseNames": "response_names"}

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._check_y(y)
        t = self._plain_targets(y, targets, lengths)
        if t is not None:  # plain path: Σ (Y − T)² in one fused op, / 2·N·S
            n = y.shape[0] if lay not in ("BC", "BTC") else y.numel() // y.shape[-1]
            return F.mse_loss(y, t, reduction="sum") / (2 * n)
        t, mask = self._check_targets(y, lay, targets, lengths)
        err = y - t  # shape of y
        if mask is not None:
            err = err * mask.unsqueeze(-1)
        self._emit("error", err, lay)
        sq = 0.5 * err * err
        entry = sq.sum(-1) if lay in ("BC", "BTC") else sq.reshape(y.shape[0], -1).sum(1)  # (B,) or (B, T)
        return self._reduce(entry, mask, "step_loss", "BT")

    @property
    def LossFunction(self) -> str:  # noqa: N802
        return "mean-squared-error"

    def description(self) -> str:
        return self._responses_text("mean-squared-error")


class PixelClassification(ClassificationOutputLayer):
    r"""Cross-entropy over every pixel (MATLAB ``pixelClassificationLayer``, Computer Vision Toolbox).

    .. math::
        \text{loss} = -\frac{1}{|\mathcal{P}|} \sum_{(n,p) \in \mathcal{P}}
            w_{c_{np}} \ln \max(Y_{n c_{np} p}, \epsilon)

    where :math:`Y_{nkp}` is the probability of class :math:`k` at pixel
    :math:`p` of image :math:`n`, :math:`c_{np}` the true class,
    :math:`w_k` the class weight (1 without ClassWeights), :math:`\epsilon`
    the dtype's epsilon and :math:`\mathcal{P}` the set of labelled pixels:
    undefined pixels (target −1) are ignored. MATLAB's normalisation
    constant is unconfirmed; dltk divides by the number of labelled pixels.

    Args:
        classes: ``'auto'`` or class names (MATLAB ``Classes``). Default: ``'auto'``.
        class_weights: ``'none'`` or one positive weight per class
            (MATLAB ``ClassWeights``). Default: ``'none'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        2-D image           (B, K, H, W)            SSCB (H×W×K×N)
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: (B, H, W) or (B, D, H, W) int64 class indices, −1 = undefined
        (ignored) (MATLAB: H×W×N categorical pixel labels).

    Learnables:
        none.

    Signals:
        ``pixel_loss`` (B, H, W): per-pixel loss (0 at undefined pixels);
        ``loss`` (B,): per-image mean over its labelled pixels;
        ``true_class_probability``, ``predicted``, ``correct`` (B, H, W).

    Example:
        >>> out = dltk.pixelClassificationLayer(Classes=["sky", "road"])
        >>> out.loss(torch.softmax(torch.randn(2, 2, 8, 8), 1), torch.randint(0, 2, (2, 8, 8)))
    """

    signals = ("pixel_loss", "loss", "true_class_probability", "predicted", "correct")
    signal_docs = {
        "pixel_loss": "per-pixel loss w·(−ln Y_true), 0 at undefined pixels, (B, H, W)",
        "loss": "per-image loss (mean over labelled pixels), (B,)",
        "true_class_probability": "probability given to the true class, (B, H, W)",
        "predicted": "predicted class per pixel, (B, H, W)",
        "correct": "predicted == label (False at undefined pixels), (B, H, W)",
    }
    matlab_name = "pixelClassificationLayer"
    type_name = "Pixel Classification Layer"
    name_prefix = "labels"
    torch_equivalent = "torch.nn.NLLLoss(ignore_index=-1) on log-probabilities (sum / labelled pixels)"
    y_layouts = ("BCHW", "BCDHW")
    accepts_undefined = True
    matlab_options = {"Classes": "classes", "ClassWeights": "class_weights"}

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None and (loss := self._fused_cross_entropy(y, lay, targets)) is not None:
            return loss  # no recording: the same value, PyTorch's range checks
        lay = self._check_y(y)
        t, mask = self._check_targets(y, lay, targets, lengths)
        return self._cross_entropy(y, lay, t, mask, "pixel_loss")

    def description(self) -> str:
        return self._classes_text("Cross-entropy loss")


class DicePixelClassification(ClassificationOutputLayer):
    r"""Generalized Dice loss (MATLAB ``dicePixelClassificationLayer``, Computer Vision Toolbox).

    .. math::
        \text{Dice}_n = \frac{2 \sum_k w_{nk} I_{nk} + \epsilon}{\sum_k w_{nk} U_{nk} + \epsilon},
        \qquad \text{loss} = \frac{1}{N} \sum_{n=1}^{N} (1 - \text{Dice}_n)

    where, for image :math:`n` and class :math:`k`, with sums over pixels
    :math:`p`: :math:`I_{nk} = \sum_p Y_{nkp} T_{nkp}` (intersection),
    :math:`U_{nk} = \sum_p (Y_{nkp}^2 + T_{nkp}^2)` (union),
    :math:`w_{nk} = 1 / (\sum_p T_{nkp})^2` (inverse squared region size),
    :math:`Y` the probabilities, :math:`T` the one-hot labels and
    :math:`\epsilon = 10^{-8}` (as MathWorks' example layer). Undefined pixels
    (−1) are removed from Y and T. A class absent from an image
    (:math:`\sum_p T = 0`) gets weight 0 there (MathWorks' example would
    compute ∞·0 = NaN).

    Args:
        classes: ``'auto'`` or class names (MATLAB ``Classes``). Default: ``'auto'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        2-D image           (B, K, H, W)            SSCB (H×W×K×N)
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: (B, H, W) or (B, D, H, W) int64 class indices, −1 = undefined
        (ignored) (MATLAB: H×W×N categorical pixel labels).

    Learnables:
        none.

    Signals:
        ``intersection``, ``union``, ``class_weights`` (B, K); ``dice`` (B,);
        ``loss`` (B,): :math:`1 - \text{Dice}_n`; ``predicted``, ``correct`` (B, H, W).

    Example:
        >>> out = dltk.dicePixelClassificationLayer()
        >>> out.loss(torch.softmax(torch.randn(2, 3, 8, 8), 1), torch.randint(0, 3, (2, 8, 8)))
    """

    signals = ("intersection", "union", "class_weights", "dice", "loss", "predicted", "correct")
    signal_docs = {
        "intersection": "Σ_pixels Y·T per image and class, (B, K)",
        "union": "Σ_pixels (Y² + T²) per image and class, (B, K)",
        "class_weights": "1/(Σ_pixels T)² per image and class (0 for absent classes), (B, K)",
        "dice": "generalized Dice score per image, (B,)",
        "loss": "1 − Dice per image, (B,)",
        "predicted": "predicted class per pixel, (B, H, W)",
        "correct": "predicted == label (False at undefined pixels), (B, H, W)",
    }
    matlab_name = "dicePixelClassificationLayer"
    type_name = "Dice Pixel Classification Layer"
    name_prefix = "labels"
    torch_equivalent = "none (explicit formula)"
    y_layouts = ("BCHW", "BCDHW")
    accepts_undefined = True
    matlab_options = {"Classes": "classes"}
    epsilon = 1e-8

    def __init__(self, classes: Any = "auto", *, name: str = "") -> None:
        super().__init__(classes, name=name)

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay, T, mask = self.one_hot(y, targets, lengths, with_mask=True)  # (B, K, H, W), 0 at undefined pixels
        Y = y if mask is None else y * mask.unsqueeze(1)  # undefined pixels removed from Y too
        px = tuple(range(2, y.ndim))
        area = T.sum(px)  # (B, K)
        w = torch.where(area > 0, 1.0 / area.clamp(min=1) ** 2, torch.zeros_like(area))
        inter = (Y * T).sum(px)  # (B, K)
        union = (Y * Y + T * T).sum(px)  # (B, K)
        dice = (2 * (w * inter).sum(1) + self.epsilon) / ((w * union).sum(1) + self.epsilon)  # (B,)
        per = 1 - dice
        if self._recorder is not None:
            for k, v in (("intersection", inter), ("union", union), ("class_weights", w)):
                self._emit(k, v, "BC")
            self._emit("dice", dice, "B")
            self._emit("loss", per, "B")
            self._emit_labels(y, lay, *self._check_targets(y, lay, targets, lengths))
        return per.mean()

    def description(self) -> str:
        return self._classes_text("Generalized Dice loss")

    def extra_repr(self) -> str:
        return f"classes={self._classes!r}"


class FocalLoss(ClassificationOutputLayer):
    r"""Focal loss (MATLAB ``focalLossLayer``, Computer Vision Toolbox).

    .. math::
        \ell = -\alpha\, (1 - p)^{\gamma} \ln \max(p, \epsilon), \qquad
        \text{loss} = \frac{1}{|\mathcal{P}|} \sum_{\mathcal{P}} \ell

    where :math:`p` is the probability the prediction gives the true class
    (of an observation, or of a pixel), :math:`\alpha` the balancing factor,
    :math:`\gamma` the focusing parameter, :math:`(1-p)^\gamma` the
    *modulating factor* that shrinks the loss of well-classified entries,
    :math:`\epsilon` the dtype's epsilon and :math:`\mathcal{P}` the labelled
    entries (target −1 is ignored). With :math:`\gamma = 0` this is
    :math:`\alpha` times cross-entropy. MATLAB's normalisation is
    unconfirmed; dltk divides by the number of labelled entries.

    Args:
        alpha: balancing factor, > 0 (MATLAB ``Alpha``). Default: 0.25.
        gamma: focusing parameter, >= 0 (MATLAB ``Gamma``). Default: 2.
        classes: ``'auto'`` or class names (MATLAB ``Classes``). Default: ``'auto'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        features            (B, K)                  CB
        2-D image           (B, K, H, W)            SSCB
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: int64 class indices shaped like ``y`` without K; −1 = ignored.

    Learnables:
        none.

    Signals:
        ``modulating_factor`` and ``cross_entropy`` (:math:`-\ln p`), shape of
        the targets; ``pixel_loss`` (B, H, W) for images; ``loss`` (B,);
        ``predicted``, ``correct``.

    Example:
        >>> out = dltk.focalLossLayer(Gamma=2, Alpha=0.25)
        >>> out.loss(torch.softmax(torch.randn(4, 3), 1), torch.tensor([0, 1, 2, 1]))
    """

    signals = ("modulating_factor", "cross_entropy", "pixel_loss", "loss", "predicted", "correct")
    signal_docs = {
        "modulating_factor": "(1 − p)^γ per entry, shape of the targets",
        "cross_entropy": "−ln p per entry (p = probability of the true class)",
        "pixel_loss": "−α(1 − p)^γ ln p per pixel, 0 at ignored pixels, (B, H, W); images only",
        "loss": "per-observation loss (mean over its labelled entries), (B,)",
        "predicted": "predicted class index, shape of the targets",
        "correct": "predicted == target, shape of the targets",
    }
    matlab_name = "focalLossLayer"
    type_name = "Focal Loss Layer"
    name_prefix = "focalloss"
    torch_equivalent = "none (softmax focal loss; torchvision.ops.sigmoid_focal_loss is the sigmoid form)"
    y_layouts = ("BC", "BCHW", "BCDHW")
    accepts_undefined = True
    matlab_options = {"Alpha": "alpha", "Gamma": "gamma", "Classes": "classes"}

    def __init__(self, *, alpha: float = 0.25, gamma: float = 2.0, classes: Any = "auto", name: str = "") -> None:
        super().__init__(classes, name=name)
        self.alpha = number("focalLossLayer", "Alpha", alpha, low=0, low_open=True)
        self.gamma = number("focalLossLayer", "Gamma", gamma, low=0)

    Alpha = matlab_property("alpha")
    Gamma = matlab_property("gamma")

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None:  # plain path, every label defined: gather raises on −1 and bad indices
            c = lay.index("C")
            try:
                p = y.gather(c, targets.unsqueeze(c))  # the class axis kept, of size 1
            except RuntimeError:  # −1 labels (masked below) or a bad index (clear error below)
                p = None
            if p is not None:  # Σ (1 − p)^γ ln max(p, ε) · (−α / count)
                mod = (1 - p).clamp_min(0) ** self.gamma
                return torch.xlogy(mod, p.clamp_min(_eps(y))).sum() * (-self.alpha / targets.numel())
        lay = self._check_y(y)
        c = lay.index("C")
        t, mask = self._check_targets(y, lay, targets, lengths)
        k = t if mask is None else t.clamp(min=0)  # without a mask there is no −1 label
        p = y.gather(c, k.unsqueeze(c)).squeeze(c)  # probability of the true class
        ce = -torch.log(p.clamp(min=_eps(y)))
        mod = (1 - p).clamp(min=0) ** self.gamma
        entry = self.alpha * mod * ce
        if mask is not None:
            entry = entry * mask
        tl = lay.replace("C", "")
        self._emit("modulating_factor", mod, tl)
        self._emit("cross_entropy", ce, tl)
        self._emit_labels(y, lay, t, mask)
        return self._reduce(entry, mask, "pixel_loss", tl)

    def description(self) -> str:
        return self._classes_text(f"Focal loss (Alpha {self.alpha:g}, Gamma {self.gamma:g})")

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, classes={self._classes!r}"
