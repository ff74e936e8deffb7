"""Inference with a trained network (MATLAB ``classify``, ``predict``, ``activations``,
``predictAndUpdateState``, ``classifyAndUpdateState``, ``resetState``).

All functions take MATLAB's name-value options ``MiniBatchSize`` (128),
``SequenceLength`` (``'longest'``), ``SequencePaddingDirection``
(``'right'``), ``SequencePaddingValue`` (0), ``ExecutionEnvironment``
(``'auto'``: where the network is) and dltk's ``SequenceMasking`` (True).
With masking, predictions never depend on the mini-batch size, on the order
of the sequences or on padding. Results are NumPy arrays: (N, …) for
per-observation outputs, a list of (T_i, …) arrays for per-step outputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..errors import NetworkError
from ..options import choice, flag, number, positive_int, split_args
from .batching import Prepared, prepare
from .engine import run_chunks
from .options import _seq_length
from .state import expand_state, recurrent_layers
from .trainer import labels_of, param_dtype, prediction_layout

__all__ = ["activations", "classify", "classifyAndUpdateState", "predict", "predictAndUpdateState", "resetState"]

_OPTS = (
    "MiniBatchSize",
    "SequenceLength",
    "SequencePaddingDirection",
    "SequencePaddingValue",
    "ExecutionEnvironment",
    "SequenceMasking",
)


def _options(where: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    _, given = split_args(where, args, kwargs, (), _OPTS)
    o = {
        "MiniBatchSize": 128,
        "SequenceLength": "longest",
        "SequencePaddingDirection": "right",
        "SequencePaddingValue": 0.0,
        "ExecutionEnvironment": "auto",
        "SequenceMasking": True,
    }
    checks: dict[str, Callable[[Any], Any]] = {
        "MiniBatchSize": lambda v: positive_int(where, "MiniBatchSize", v),
        "SequenceLength": _seq_length,
        "SequencePaddingDirection": lambda v: choice(where, "SequencePaddingDirection", v, ("right", "left")),
        "SequencePaddingValue": lambda v: number(where, "SequencePaddingValue", v),
        "ExecutionEnvironment": lambda v: choice(where, "ExecutionEnvironment", v, ("auto", "cpu", "gpu")),
        "SequenceMasking": lambda v: flag(where, "SequenceMasking", v),
    }
    for k, v in given.items():
        o[k] = checks[k](v)
    return o


def _check_net(net: Any, where: str) -> None:
    from ..network import Network

    if not isinstance(net, Network):
        raise NetworkError(
            f"{where}: expected a trained network (dltk.Network, from trainNetwork or "
            f"assembleNetwork), got {type(net).__name__}."
        )


class _Session:
    """Eval mode and device for the duration of one inference call."""

    def __init__(self, net: Any, env: str, where: str) -> None:
        self.net, self.env, self.where = net, env, where

    def __enter__(self) -> torch.device:
        from .trainer import device_for

        net = self.net
        self.was_training = net.training
        p = next(net.parameters(), None)
        self.home = p.device if p is not None else torch.device("cpu")
        dev = self.home if self.env == "auto" else device_for(self.env, self.where)
        net.eval()
        if dev != self.home:
            net.to(dev)
        self.dev = dev
        return dev

    def __exit__(self, *exc: Any) -> None:
        if self.dev != self.home:
            self.net.to(self.home)
        self.net.train(self.was_training)


def _data(net: Any, X: Any, where: str) -> Prepared:
    inp = net.input_layers[0] if net.input_layers else None
    return prepare(
        X,
        None,
        where=where,
        dtype=param_dtype(net),
        task=None,
        labels=None,
        out_layout=prediction_layout(net),
        min_length=int(getattr(inp, "min_length", 1) or 1),
        input_layout=getattr(inp, "data_layout", None),
    )


def _run(
    net: Any,
    X: Any,
    where: str,
    o: dict[str, Any],
    forward: Callable | None = None,
    stateful: bool = False,
    has_time: bool | None = None,
) -> tuple[Any, Prepared]:
    """Predictions of ``net`` (or of ``forward(x, lengths)``) for every observation, in order."""
    data = _data(net, X, where)
    seq_kw = {
        "sequence_length": o["SequenceLength"],
        "direction": o["SequencePaddingDirection"],
        "value": o["SequencePaddingValue"],
        "masking": o["SequenceMasking"],
    }
    left_raw = o["SequencePaddingDirection"] == "left" and not o["SequenceMasking"]
    rec = recurrent_layers(net)
    if stateful and not rec:
        raise NetworkError(
            f"{where}: the network has no recurrent layer (lstmLayer, bilstmLayer, gruLayer) whose "
            "state could be updated; use predict/classify."
        )
    stored = [(lay.hidden_state, getattr(lay, "cell_state", None)) for lay in rec]
    per_obs = [s.shape[0] for pair in stored for s in pair if s is not None and s.ndim == 2 and s.shape[0] > 1]
    if per_obs and per_obs[0] != data.n:
        raise NetworkError(
            f"{where}: the network's recurrent state belongs to {per_obs[0]} observations (from an earlier "
            f"predictAndUpdateState) but X has {data.n}; give {per_obs[0]} sequences or call resetState(net) first."
        )
    sliced = stateful or bool(per_obs)  # per-observation states are split along with the mini-batches
    ends: list[list[tuple]] = []
    pieces: list[Any] = []
    with _Session(net, o["ExecutionEnvironment"], where) as dev, torch.no_grad():
        fwd = forward or (lambda x, lengths: net(x, lengths=lengths))
        order = torch.arange(data.n)
        for chunks in data.batches(order, o["MiniBatchSize"], drop_last=False, **seq_kw):
            for c in chunks:
                c.x = c.x.to(dev)
                c.lengths = None if c.lengths is None else c.lengths.to(dev)
            idx = chunks[0].index
            initial = None
            if sliced:
                initial = [tuple(None if s is None else _rows(s, idx, chunks[0].x) for s in pair) for pair in stored]
            outs = list(run_chunks(_Fwd(net, fwd), chunks, o["SequenceMasking"], keep_state=stateful, initial=initial))
            pieces.append(_assemble(outs, chunks, data.is_sequence, left_raw, has_time))
            if stateful:
                ends.append([(lay.hidden_state, getattr(lay, "cell_state", None)) for lay in rec])
                for lay, (h, c) in zip(rec, stored):  # next batch starts from the stored state again
                    lay.hidden_state = h
                    if hasattr(lay, "cell_state"):
                        lay.cell_state = c
    if stateful:
        for k, lay in enumerate(rec):
            h = torch.cat([e[k][0] for e in ends]).cpu()
            c = [e[k][1] for e in ends]
            lay.update_state(h, None if c[0] is None else torch.cat(c).cpu())
    result = [p for batch in pieces for p in batch] if isinstance(pieces[0], list) else torch.cat(pieces)
    return result, data


def _rows(s: torch.Tensor, idx: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    n = s.shape[-1]
    if s.ndim == 2 and s.shape[0] > 1:
        return s[idx].to(dtype=like.dtype, device=like.device)
    return expand_state(s.reshape(-1), len(idx), n, like)


class _Fwd(torch.nn.Module):
    """Adapter so that run_chunks can call a custom forward (recording) while state is carried."""

    def __init__(self, net: Any, fwd: Callable) -> None:
        super().__init__()
        object.__setattr__(self, "net", net)
        object.__setattr__(self, "fwd", fwd)

    @property
    def layers(self) -> list:
        return self.net.layers

    def forward(self, x: torch.Tensor, lengths: Any = None) -> Any:
        return self.fwd(x, lengths)


def _assemble(outs: list, chunks: list, is_seq: bool, left_raw: bool, has_time: bool | None) -> Any:
    """Per-observation results of one mini-batch: a tensor (B, …) or a list of (T_i, …) tensors."""
    B = chunks[0].x.shape[0]
    y0 = outs[0].y
    timed = has_time if has_time is not None else (is_seq and y0.ndim >= 3 and y0.shape[1] == chunks[0].x.shape[1])
    if not timed:
        if len(outs) == 1 and outs[0].rows is None:
            return y0.detach().cpu()
        res = y0.new_zeros((B, *y0.shape[1:]))
        for co in outs:  # each observation's prediction comes from its final chunk
            rows = torch.arange(B, device=co.y.device) if co.rows is None else co.rows.to(co.y.device)
            if co.last is not None and co.last.numel():
                res[rows[co.last.to(rows.device)]] = co.y[co.last.to(co.y.device)]
        return res.detach().cpu()
    parts = []
    for co in outs:
        y = co.y
        if co.rows is not None:
            full = y.new_zeros((B, *y.shape[1:]))
            full[co.rows.to(y.device)] = y
            y = full
        parts.append(y)
    y = torch.cat(parts, 1).detach().cpu()  # (B, total, …)
    lens = sum(c.steps for c in chunks)
    total = y.shape[1]
    return [y[i, total - int(L) :] if left_raw else y[i, : int(L)] for i, L in enumerate(lens.tolist())]


def _numpy(res: Any) -> Any:
    if isinstance(res, list):
        return [r.numpy() for r in res]
    return res.numpy()


# ---------------------------------------------------------------- functions
def predict(net: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
    """Predicted scores or responses (MATLAB ``Y = predict(net, X, Name=Value)``).

    Args:
        net: a trained :class:`dltk.Network`.
        X: predictors, as for :func:`dltk.trainNetwork`.
        MiniBatchSize: observations per forward pass. Default: 128.
        SequenceLength: ``'longest'``, ``'shortest'`` or an integer (chunks
            carrying the recurrent state). Default: ``'longest'``.
        SequencePaddingDirection: ``'right'`` or ``'left'``. Default: ``'right'``.
        SequencePaddingValue: Default: 0.
        ExecutionEnvironment: ``'auto'`` (where the network is), ``'cpu'``, ``'gpu'``. Default: ``'auto'``.
        SequenceMasking: dltk extension, see :func:`dltk.trainingOptions`. Default: True.

    Returns:
        (N, K) scores / (N, R) responses, or a list of (T_i, K) arrays for
        sequence-to-sequence networks; images keep their (N, C, H, W) shape.
        The network's stored recurrent state is used but not changed.

    Shape:
        ===========================  =============================  ==========================
        data                         dltk                           MATLAB
        ===========================  =============================  ==========================
        sequences in                 list of (T_i, C)               N×1 cell of C×T_i
        features / images in         (N, C) / (N, C, H, W)          N×C / H×W×C×N
        sequence-to-label out        (N, K)                         N×K
        sequence-to-sequence out     list of (T_i, K)               N×1 cell of K×T_i
        ===========================  =============================  ==========================

    Example:
        >>> scores = dltk.predict(net, XTest, MiniBatchSize=27)
    """
    _check_net(net, "predict")
    o = _options("predict", args, kwargs)
    res, _ = _run(net, X, "predict", o)
    return _numpy(res)


def _labels_from(net: Any, scores: Any, where: str) -> Any:
    labels = labels_of(net)
    if labels is None:
        raise NetworkError(
            f"{where}: the network is not a trained classification network (its output layer has "
            "no classes); use predict."
        )
    axis = (prediction_layout(net) or "BC").index("C")
    if isinstance(scores, list):
        return [labels.decode(s.argmax(axis - 1)) for s in scores]  # (T_i, K): classes on axis −1
    return labels.decode(scores.argmax(axis))


def classify(net: Any, X: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Predicted class labels and scores (MATLAB ``[YPred, scores] = classify(net, X, Name=Value)``).

    .. math::
        \\hat y = c_{k^*}, \\qquad k^* = \\arg\\max_k s_k

    where s are the scores of :func:`predict` (softmax probabilities) and
    c_1 … c_K the network's class names (``net.classes``), returned in the
    type the network was trained with (strings, ints or bools). Takes the
    options of :func:`predict`.

    Returns:
        ``(labels, scores)``: labels (N,) and scores (N, K); for
        sequence-to-sequence networks lists of (T_i,) labels and (T_i, K) scores.

    Example:
        >>> YPred, scores = dltk.classify(net, XTest, MiniBatchSize=27)
        >>> accuracy = (YPred == YTest).mean()
    """
    _check_net(net, "classify")
    o = _options("classify", args, kwargs)
    res, _ = _run(net, X, "classify", o)
    scores = _numpy(res)
    return _labels_from(net, scores, "classify"), scores


def activations(net: Any, X: Any, layer: str | int, *args: Any, **kwargs: Any) -> Any:
    """The output of one layer (MATLAB ``act = activations(net, X, layer, Name=Value)``).

    Recorded with :func:`dltk.record` (restricted to that layer), mini-batch
    by mini-batch.

    Args:
        net: a :class:`dltk.Network`.
        X: predictors.
        layer: a layer name, ``"layerName/portName"`` for a multi-output layer,
            or a 1-based layer index (MATLAB).
        Other options as :func:`predict`.

    Returns:
        (N, …) in dltk layout (e.g. (N, C, H, W) for a convolution output), or
        a list of (T_i, …) arrays when the layer's output has a time axis.

    Example:
        >>> act = dltk.activations(net, XTest, "lstm")  # list of (T_i, 100) arrays
    """
    from ..introspect import record

    _check_net(net, "activations")
    o = _options("activations", args, kwargs)
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        names = net.layer_names
        if not 1 <= int(layer) <= len(names):
            raise NetworkError(f"activations: layer index {layer} is out of range 1…{len(names)}.")
        layer = names[int(layer) - 1]
    name, _, port = str(layer).partition("/")
    lay = net.layer(name) if name in net.layer_names else None
    if lay is None:
        raise NetworkError(f"activations: no layer named {name!r}; layers: {', '.join(net.layer_names)}.")
    ports = lay.output_names or ("out",)
    if port and port not in ports:
        raise NetworkError(f"activations: layer {name!r} has no output {port!r}; its outputs: {', '.join(ports)}.")
    k = ports.index(port) if port else 0
    layout = net.activation_layouts.get(name) if k == 0 else None
    has_time = None if layout is None else ("T" in layout)
    if k == 0:

        def fwd(x: torch.Tensor, lengths: Any) -> torch.Tensor:
            return record(net, x, lengths=lengths, layers=[name], signals=["output"])[name]["output"]
    else:

        def fwd(x: torch.Tensor, lengths: Any) -> torch.Tensor:
            got: list[torch.Tensor] = []
            h = lay.register_forward_hook(lambda m, i, out: got.append(out[k]))
            try:
                net(x, lengths=lengths)
            finally:
                h.remove()
            return got[0]

    res, _ = _run(net, X, "activations", o, forward=fwd, has_time=has_time)
    return _numpy(res)


def predictAndUpdateState(net: Any, X: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Predict and carry the recurrent state (MATLAB ``[updatedNet, Y] = predictAndUpdateState(net, X)``).

    Returns a *copy* of ``net`` whose recurrent layers (LSTM, BiLSTM, GRU)
    hold their end-of-sequence states as ``HiddenState``/``CellState`` (one
    column per observation), so that the next call continues where this
    one ended: feeding a sequence in pieces gives the same outputs as
    feeding it at once. Options as :func:`predict`.

    Example:
        >>> net, Y = dltk.predictAndUpdateState(net, [X[:50]])
        >>> net, Y2 = dltk.predictAndUpdateState(net, [X[50:]])  # continues from step 51
    """
    _check_net(net, "predictAndUpdateState")
    o = _options("predictAndUpdateState", args, kwargs)
    new = copy.deepcopy(net)
    res, _ = _run(new, X, "predictAndUpdateState", o, stateful=True)
    return new, _numpy(res)


def classifyAndUpdateState(net: Any, X: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any, Any]:
    """Classify and carry the recurrent state (MATLAB ``[updatedNet, YPred, scores] = classifyAndUpdateState(net, X)``).

    Returns ``(updated_net, labels, scores)``; see :func:`predictAndUpdateState`.
    """
    _check_net(net, "classifyAndUpdateState")
    o = _options("classifyAndUpdateState", args, kwargs)
    new = copy.deepcopy(net)
    res, _ = _run(new, X, "classifyAndUpdateState", o, stateful=True)
    scores = _numpy(res)
    return new, _labels_from(new, scores, "classifyAndUpdateState"), scores


def resetState(net: Any) -> Any:
    """A copy of ``net`` with the recurrent states reset to their initial values (MATLAB ``resetState``)."""
    _check_net(net, "resetState")
    new = copy.deepcopy(net)
    new.reset_state()
    return new
