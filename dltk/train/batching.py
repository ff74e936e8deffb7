"""Turning user data into checked tensors and mini-batches (shared by training and inference).

* :class:`ClassLabels` — MATLAB ``categorical`` in miniature: class names in
  order (sorted like MATLAB unless the output layer's ``Classes`` gives the
  order), encoding to int64 indices and decoding back to the original type.
* :func:`prepare` — checks predictors (NaN, shapes, ``MinLength``) and
  responses (count, labels, per-step lengths) and converts them to tensors.
* :class:`Prepared.batches` — the mini-batches of one epoch: padding
  (``SequenceLength``, ``SequencePaddingDirection``, ``SequencePaddingValue``)
  and, for an integer ``SequenceLength``, the chunks of each batch.

With masking (dltk's default, ``SequenceMasking=True``) sequences are always
laid out right-padded and the real ``lengths`` go to the layers, so padding
never changes a result; ``SequencePaddingDirection='left'`` then only decides
which end ``'shortest'`` truncates. Without masking the padding is put where
the options say and the layers see it as data (MATLAB's behaviour).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import DataError

__all__ = ["Batch", "ClassLabels", "Prepared", "prepare"]


# ---------------------------------------------------------------------- labels
def _label_kind(values: np.ndarray, where: str) -> str:
    k = values.dtype.kind
    if k in "iu":
        return "int"
    if k == "b":
        return "bool"
    if k == "f":
        if np.isfinite(values).all() and (values == np.round(values)).all():
            return "int"
        raise DataError(f"{where}: class labels must be text or integers, got non-integer numbers.")
    return "str"


class ClassLabels:
    """Class names in class-index order plus the Python type labels came in.

    ``encode`` maps labels to int64 indices; ``decode`` maps indices back to
    labels of the original type (str, int or bool), as MATLAB's
    ``categorical`` keeps its category names.
    """

    def __init__(self, names: Sequence[str], kind: str = "str") -> None:
        self.names = [str(n) for n in names]
        self.kind = kind
        self._index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def from_labels(cls, labels: np.ndarray, given: Sequence[str] | str, where: str) -> ClassLabels:
        """Classes of ``labels``: the ``given`` order, or sorted unique values (MATLAB ``categorical``)."""
        kind = _label_kind(labels, where)
        if isinstance(given, str):  # 'auto'
            uniq = np.unique(labels.astype(np.int64) if kind == "int" else labels)
            return cls([str(u) for u in uniq], kind)
        return cls(list(given), kind)

    def encode(self, labels: np.ndarray, where: str, what: str = "observation") -> np.ndarray:
        """int64 class indices of ``labels`` (any shape); unknown labels raise DataError."""
        flat = labels.ravel()
        if flat.dtype.kind == "f":
            flat = flat.astype(np.int64)
        text = flat.astype(str)
        out = np.empty(text.shape, dtype=np.int64)
        for i, t in enumerate(text):
            j = self._index.get(t)
            if j is None:
                shown = ", ".join(repr(n) for n in self.names[:10]) + (" …" if len(self.names) > 10 else "")
                raise DataError(
                    f"{where}: label {flat[i]!r} of {what} {i} is not one of the {len(self.names)} classes "
                    f"({shown}). Give the output layer Classes=… to fix the class set."
                )
            out[i] = j
        return out.reshape(labels.shape)

    def decode(self, indices: Any) -> np.ndarray:
        """Labels (original type) for int class indices."""
        idx = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64)
        names = np.array(self.names)
        if self.kind == "int":
            names = names.astype(np.int64)
        elif self.kind == "bool":
            names = names == "True"
        return names[idx]

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"ClassLabels({self.names!r}, kind={self.kind!r})"


# ---------------------------------------------------------------------- batches
@dataclass
class Batch:
    """One mini-batch (or one chunk of it) ready for the network.

    Attributes:
        x: predictors in dltk layout, (B, T, C…) for sequences.
        lengths: (B,) real lengths of right-padded sequences, or None.
        targets: int64 indices or float responses, or None (inference).
        index: (B,) positions of the observations in the data set.
        chunk: (k, n) — this is chunk k of n (1 of 1 without splitting).
        steps: for sequences, (B,) real steps of each observation in this
            batch (equals ``lengths`` with masking; without masking the
            count of non-padding steps, used to trim per-step outputs).
        offset: for sequences without masking and left padding, (B,) index of
            each observation's first real step.
    """

    x: torch.Tensor
    lengths: torch.Tensor | None
    targets: torch.Tensor | None
    index: torch.Tensor
    chunk: tuple[int, int] = (1, 1)
    steps: torch.Tensor | None = None
    offset: torch.Tensor | None = None


@dataclass
class Prepared:
    """Checked data: predictors (and responses) as tensors."""

    X: list[torch.Tensor] | torch.Tensor
    Y: list[torch.Tensor] | torch.Tensor | None
    is_sequence: bool
    seq2seq: bool = False

    @property
    def n(self) -> int:
        return len(self.X)

    def batches(
        self,
        order: torch.Tensor,
        size: int,
        *,
        drop_last: bool,
        sequence_length: str | int = "longest",
        direction: str = "right",
        value: float = 0.0,
        masking: bool = True,
    ) -> Iterator[list[Batch]]:
        """Mini-batches of ``size`` observations in ``order``; each item is the list of its chunks."""
        n = len(order)
        stop = n - n % size if drop_last and n >= size else n
        for start in range(0, stop, size):
            idx = order[start : start + size]
            if not self.is_sequence:
                y = None if self.Y is None else self.Y[idx]
                yield [Batch(self.X[idx], None, y, idx)]
            else:
                yield self._sequence_batch(idx, sequence_length, direction, value, masking)

    def _sequence_batch(
        self, idx: torch.Tensor, mode: str | int, direction: str, value: float, masking: bool
    ) -> list[Batch]:
        seqs = [self.X[i] for i in idx.tolist()]
        ys = [self.Y[i] for i in idx.tolist()] if (self.seq2seq and self.Y is not None) else None
        lens = torch.tensor([s.shape[0] for s in seqs], dtype=torch.long)
        if mode == "shortest":
            T = int(lens.min())
            keep = (lambda s: s[-T:]) if direction == "left" else (lambda s: s[:T])
            seqs = [keep(s) for s in seqs]
            ys = None if ys is None else [keep(y) for y in ys]
            lens = torch.full_like(lens, T)
        T = int(lens.max())
        chunk = T if mode in ("longest", "shortest") else int(mode)
        n_chunks = max(1, -(-T // chunk))
        total = n_chunks * chunk if mode not in ("longest", "shortest") else T
        left = direction == "left" and not masking
        x = _pad([s for s in seqs], total, value, left)
        tgt: torch.Tensor | None = None
        if ys is not None:
            tgt = _pad(ys, total, -1 if not ys[0].is_floating_point() else 0.0, left)
        elif self.Y is not None:
            tgt = self.Y[idx]
        offset = (total - lens) if left else None
        out = []
        for k in range(n_chunks):
            a, b = k * chunk, min((k + 1) * chunk, total)
            real = (lens - a).clamp(0, b - a) if not left else (lens - (total - b)).clamp(0, b - a)
            xs = x[:, a:b]
            ts = tgt[:, a:b] if (tgt is not None and ys is not None) else tgt
            lengths = real if masking else None
            out.append(
                Batch(
                    xs, lengths, ts, idx, (k + 1, n_chunks), real, None if offset is None else (offset - a).clamp(min=0)
                )
            )
        return out


def _pad(seqs: Sequence[torch.Tensor], T: int, value: float, left: bool) -> torch.Tensor:
    first = seqs[0]
    out = torch.full((len(seqs), T, *first.shape[1:]), float(value), dtype=first.dtype)
    for i, s in enumerate(seqs):
        n = min(int(s.shape[0]), T)
        if left:
            out[i, T - n :] = s[:n]
        else:
            out[i, :n] = s[:n]
    return out


# --------------------------------------------------------------------- prepare
def _is_sequence_data(X: Any) -> bool:
    return isinstance(X, (list, tuple))


def _first_bad(t: torch.Tensor) -> int | None:
    bad = ~torch.isfinite(t.reshape(t.shape[0], -1)).all(1) if t.numel() else torch.zeros(0, dtype=torch.bool)
    return int(torch.nonzero(bad)[0]) if bool(bad.any()) else None


def predictors(
    X: Any, *, where: str, dtype: torch.dtype, min_length: int = 1, input_layout: str | None = None
) -> tuple[list[torch.Tensor] | torch.Tensor, bool]:
    """Checked predictors: a list of (T_i, …) sequences or an (N, …) tensor; and whether they are sequences."""
    if isinstance(X, dict):
        raise DataError(f"{where}: networks with several input layers are not supported yet; give one array.")
    if _is_sequence_data(X) and input_layout is not None and "T" not in input_layout:
        X = np.stack([np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x) for x in X])  # rows of features
    if _is_sequence_data(X) or (input_layout is not None and "T" in input_layout and np.ndim(X) >= 3):
        if not _is_sequence_data(X):  # (N, T, C…) array for a sequence network
            X = list(X)
        if len(X) == 0:
            raise DataError(f"{where}: no observations (an empty list of sequences).")
        seqs = []
        for i, s in enumerate(X):
            t = torch.as_tensor(s.detach().cpu() if isinstance(s, torch.Tensor) else np.asarray(s)).to(dtype)
            if t.ndim == 1:
                t = t[:, None]
            if t.ndim < 2:
                raise DataError(f"{where}: sequence {i} has shape {tuple(t.shape)}; expected (T_i, C) [MATLAB C×T_i].")
            seqs.append(t)
        shapes = {tuple(s.shape[1:]) for s in seqs}
        if len(shapes) > 1:
            raise DataError(
                f"{where}: the sequences have different feature sizes {sorted(shapes)}; every (T_i, C) "
                "sequence needs the same C."
            )
        lens = torch.tensor([s.shape[0] for s in seqs])
        short = torch.nonzero(lens < min_length)
        if len(short):
            i = int(short[0])
            raise DataError(
                f"{where}: sequence {i} has {int(lens[i])} time step(s), shorter than the input layer's "
                f"MinLength {min_length}."
            )
        allx = torch.cat([s.reshape(s.shape[0], -1) for s in seqs])
        if not bool(torch.isfinite(allx).all()):
            row = _first_bad(allx)
            i = int(torch.searchsorted(torch.cumsum(lens, 0), torch.tensor(row), right=True))
            raise DataError(f"{where}: sequence {i} (0-based) contains NaN or Inf; clean or remove it.")
        return seqs, True
    t = torch.as_tensor(X.detach().cpu() if isinstance(X, torch.Tensor) else np.asarray(X))
    if t.dtype.is_floating_point or t.dtype in (torch.int32, torch.int64, torch.uint8, torch.int16, torch.int8):
        t = t.to(dtype)
    else:
        raise DataError(f"{where}: predictors must be numbers, got {t.dtype}.")
    if t.ndim < 2:
        raise DataError(
            f"{where}: predictors of shape {tuple(t.shape)}; expected (N, C) features, (N, C, H, W) images "
            "or a list of (T_i, C) sequences."
        )
    bad = _first_bad(t)
    if bad is not None:
        raise DataError(f"{where}: observation {bad} (0-based) contains NaN or Inf; clean or remove it.")
    return t, False


def prepare(
    X: Any,
    Y: Any,
    *,
    where: str,
    dtype: torch.dtype,
    task: str | None,
    labels: ClassLabels | None,
    out_layout: str | None,
    min_length: int = 1,
    input_layout: str | None = None,
) -> Prepared:
    """Check and convert predictors ``X`` and responses ``Y`` (``Y=None`` for inference).

    Args:
        task: ``'classification'``, ``'regression'`` or None.
        labels: the class set for classification (None: inference or regression).
        out_layout: layout of the network prediction (``'BTC'`` → sequence-to-sequence).
    """
    Xt, is_seq = predictors(X, where=where, dtype=dtype, min_length=min_length, input_layout=input_layout)
    if Y is None:
        return Prepared(Xt, None, is_seq, is_seq and out_layout == "BTC")
    n = len(Xt)
    seq2seq = is_seq and (out_layout == "BTC" if out_layout else _looks_per_step(Y, Xt))
    if seq2seq:
        if hasattr(Y, "__len__") and len(Y) == n and n and np.ndim(Y[0]) == 0:
            raise DataError(
                f"{where}: the network outputs a sequence for each observation (sequence-to-sequence: its last "
                f"recurrent layer has OutputMode 'sequence'), but Y holds one {_response_word(task)} per "
                "sequence. For sequence-to-label, give the last LSTM/GRU layer OutputMode='last', e.g. "
                "dltk.lstmLayer(100, OutputMode='last'); for sequence-to-sequence, give Y as one array per "
                "sequence with an entry per time step."
            )
        if not isinstance(Y, (list, tuple)) or len(Y) != n:
            got = len(Y) if hasattr(Y, "__len__") else type(Y).__name__
            raise DataError(
                f"{where}: sequence-to-sequence training needs one response sequence per predictor "
                f"sequence: {n} expected, got {got}."
            )
        ys = []
        for i, (x, y) in enumerate(zip(Xt, Y)):
            y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
            if y.ndim == 2 and y.shape[0] == 1 and x.shape[0] != 1 and task == "classification":
                y = y[0]  # MATLAB 1×S categorical row
            if y.shape[0] != x.shape[0]:
                raise DataError(
                    f"{where}: response sequence {i} has {y.shape[0]} time steps but predictor sequence {i} has "
                    f"{x.shape[0]}; sequence-to-sequence responses need one entry per time step."
                )
            ys.append(y)
        if task == "classification":
            assert labels is not None
            flat = np.concatenate([y.ravel() for y in ys])
            enc = labels.encode(flat, where, "time step (all sequences concatenated)")
            cuts = np.cumsum([len(y) for y in ys])[:-1]
            Yt: Any = [torch.as_tensor(e) for e in np.split(enc, cuts)]
        else:
            Yt = [_responses(y, where, dtype, i) for i, y in enumerate(ys)]
            Yt = [y[:, None] if y.ndim == 1 else y for y in Yt]
        return Prepared(Xt, Yt, is_seq, True)
    y = np.asarray(Y.cpu() if isinstance(Y, torch.Tensor) else Y)
    if y.ndim == 0 or y.shape[0] != n:
        raise DataError(
            f"{where}: {n} observations but {y.shape[0] if y.ndim else 1} responses; X and Y must have one entry "
            "per observation."
        )
    if task == "classification":
        assert labels is not None
        return Prepared(Xt, torch.as_tensor(labels.encode(y, where)), is_seq)
    t = _responses(y, where, dtype, None)
    if t.ndim == 1:
        t = t[:, None]
    return Prepared(Xt, t, is_seq)


def _looks_per_step(Y: Any, Xt: list[torch.Tensor]) -> bool:
    if not isinstance(Y, (list, tuple)) or len(Y) != len(Xt):
        return False
    return all(np.ndim(y) >= 1 and np.shape(y)[0] == x.shape[0] for y, x in zip(Y, Xt))


def _responses(y: np.ndarray, where: str, dtype: torch.dtype, seq: int | None) -> torch.Tensor:
    if y.dtype.kind not in "fiub":
        raise DataError(
            f"{where}: regression responses must be numbers, got {y.dtype} (labels need a classificationLayer)."
        )
    t = torch.as_tensor(y.astype(np.float64)).to(dtype)
    if not bool(torch.isfinite(t).all()):
        where_ = f"response sequence {seq}" if seq is not None else f"response {_first_bad(t.reshape(len(t), -1))}"
        raise DataError(f"{where}: {where_} (0-based) contains NaN or Inf.")
    return t


def _response_word(task: str | None) -> str:
    return "label" if task == "classification" else "response"


def _label_type(value: Any) -> str:
    """'text', 'bool', 'number' or the type's name, for :func:`check_label_types`."""
    if isinstance(value, (str, np.str_)):
        return "text"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    return type(value).__name__


def check_label_types(Y: Any, where: str) -> None:
    """Refuse labels that mix types (``1`` and ``"1"``, ``True`` and ``1``).

    NumPy would turn ``[1, "1", 2]`` into the text ``["1", "1", "2"]`` and merge
    the two kinds silently into one class; MATLAB's ``categorical`` cannot mix
    them either.
    """
    groups = Y if isinstance(Y, (list, tuple)) and Y and np.ndim(Y[0]) >= 1 else [Y]
    seen: dict[str, Any] = {}
    for group in groups:
        if isinstance(group, torch.Tensor):
            continue  # one dtype
        if isinstance(group, np.ndarray) and group.dtype != object:
            kind = group.dtype.kind
            if group.size:
                seen.setdefault("text" if kind in "US" else "bool" if kind == "b" else "number", group.flat[0])
            continue
        for value in np.asarray(group, dtype=object).ravel():
            seen.setdefault(_label_type(value), value)
            if len(seen) > 1:
                break
        if len(seen) > 1:
            break
    if len(seen) > 1:
        shown = " and ".join(f"{v!r} ({k})" for k, v in seen.items())
        raise DataError(
            f"{where}: the class labels mix types: {shown}. Mixed labels would merge or split classes silently "
            "(1 and '1' look alike as text). Use one type for every label, e.g. Y = [str(y) for y in Y]."
        )


def labels_array(Y: Any) -> np.ndarray:
    """All class labels of ``Y`` (per-observation or per-step) as one flat array."""
    if isinstance(Y, (list, tuple)) and Y and np.ndim(Y[0]) >= 1:
        return np.concatenate([np.asarray(y).ravel() for y in Y])
    arr = np.asarray(Y.cpu() if isinstance(Y, torch.Tensor) else Y)
    return arr.ravel()
