"""Base classes of the output (loss) layers and their shared machinery.

:class:`OutputLayer` (prediction check, masked reduction), :class:`ClassificationOutputLayer`
(classes, class weights, target checks, one-hot targets, labels, and the lean plain
path that leaves the class-index range check to a fused PyTorch op) and
:class:`RegressionOutputLayer`. The layers themselves live in ``output.py``
(MATLAB's built-in ones, with the conventions they share), ``output_custom.py``
(MATLAB's custom-layer examples) and ``detection.py``; a custom output layer
subclasses one of these bases and writes ``loss``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple, NoReturn

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from ..errors import LayerInputError, OptionError
from ..layouts import matlab_format, matlab_size, shape_str
from .base import Layer, matlab_property

__all__ = ["OutputLayer", "ClassificationOutputLayer", "RegressionOutputLayer"]


_EPS = {dt: torch.finfo(dt).eps for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


def _eps(y: torch.Tensor) -> float:
    return _EPS.get(y.dtype) or torch.finfo(y.dtype).eps


class _WeightCache(NamedTuple):
    """``class_weights`` converted for one (version, divisor, dtype) and device."""

    source: torch.Tensor | None  # the class_weights tensor it came from (None: 'none', ones)
    key: tuple[int | None, int, torch.dtype]  # (its in-place version, divisor, dtype)
    device: torch.device
    value: torch.Tensor  # (K,) weights on that device, in that dtype


class _PlainSeen(NamedTuple):
    """The last shapes the lean plain path accepted, and ``y``'s checked layout for them."""

    key: tuple[Any, ...]  # (y.shape, targets.shape, y.dtype, input_layout, number of classes)
    layout: str


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
        if c is not None and c.source is w and c.key == key and c.device == y.device:
            return c.value
        v = torch.ones(self._num_classes, dtype=torch.float64) if w is None else w
        v = (v / divisor if divisor != 1 else v).to(device=y.device, dtype=y.dtype)
        self.__dict__["_weight_cache"] = _WeightCache(w, key, y.device, v)
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
        key = (y.shape, targets.shape, y.dtype, self.input_layout, self._num_classes)
        seen: _PlainSeen | None = self.__dict__.get("_plain_seen")
        if seen is not None and seen.key == key:
            return seen.layout
        lay = self._check_y(y)
        if targets.shape != self._targets_shape(y, lay):
            return None
        self.__dict__["_plain_seen"] = _PlainSeen(key, lay)
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
