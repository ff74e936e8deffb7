"""Sequence utility layers: folding/unfolding image sequences, flattening, word embeddings."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch convention
from torch import nn

from ..layouts import ANY_LAYOUT
from ..options import choice, number, positive_int
from . import initializers as init
from .base import Layer, matlab_property

__all__ = ["SequenceFolding", "SequenceUnfolding", "Flatten", "WordEmbedding"]

_FOLD = {"BTCHW": "BCHW", "BTC": "BC"}
_UNFOLD = {v: k for k, v in _FOLD.items()}


class SequenceFolding(Layer):
    r"""Fold the time axis into the batch so image layers act on every frame. MATLAB: ``sequenceFoldingLayer``.

    Math:
        y[b\,T + t] = x[b, t] \qquad (b = 0…B-1,\ t = 0…T-1)

    where :math:`x` is a mini-batch of B sequences of T frames and :math:`y` a
    mini-batch of B·T frames (a view, no copy). The second output,
    ``miniBatchSize``, carries B to :class:`SequenceUnfolding`, which restores
    the sequences; connect ``fold/miniBatchSize`` to ``unfold/miniBatchSize``.
    MATLAB stacks the frames time-major (observation fastest); dltk stacks them
    observation-major. Layers between fold and unfold act per frame (or over
    all frames, like batch normalization), so results are the same.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, T, C, H, W) SSCBT -> (B·T, C, H, W) SSCB; also (B, T, C) CBT -> (B·T, C) CB.
        Output ``miniBatchSize``: a 0-dim int64 tensor holding B.

    Signals:
        ``folded`` (output layout): the reshaped data.

    Example:
        >>> out, n = dltk.sequenceFoldingLayer()(torch.zeros(2, 5, 1, 28, 28))
        >>> out.shape, int(n)
        (torch.Size([10, 1, 28, 28]), 2)

    MATLAB: sequenceFoldingLayer(Name=Value)
    """

    signals = ("folded",)
    signal_docs = {"folded": "the frames as one batch, (B·T, C, H, W)"}
    matlab_name = "sequenceFoldingLayer"
    type_name = "Sequence Folding"
    name_prefix = "seqfold"
    torch_equivalent = "Tensor.flatten(0, 1)"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("out", "miniBatchSize")

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return _FOLD.get(input_layouts[0] or "BTCHW", "BCHW") if input_layouts else "BCHW"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # rank 5 is always an image sequence here
        lay = self._check_input(x, ("BTCHW", "BTC"))
        y = x.flatten(0, 1)  # (B·T, C, …)
        if self._recorder is not None:
            self._emit("folded", y, _FOLD[lay])
        b, memo = x.shape[0], self.__dict__.get("_batch")  # (B, device, tensor B): made once per B and device
        if memo is None or memo[0] != b or memo[1] != x.device:
            memo = (b, x.device, torch.scalar_tensor(b, dtype=torch.int64, device=x.device))
            self.__dict__["_batch"] = memo
        return y, memo[2]

    def description(self) -> str:
        return "Sequence folding"


class SequenceUnfolding(Layer):
    r"""Restore the sequences folded by :class:`SequenceFolding`. MATLAB: ``sequenceUnfoldingLayer``.

    Math:
        y[b, t] = x[b\,T + t], \qquad T = N / B

    where :math:`x` holds N = B·T frames and :math:`B` arrives on the
    ``miniBatchSize`` input (from the folding layer's output of that name).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Inputs ``in`` (B·T, C, H, W) SSCB and ``miniBatchSize`` (int or 0-dim tensor B)
        -> (B, T, C, H, W) SSCBT; also (B·T, C) CB -> (B, T, C) CBT.

    Signals:
        ``unfolded`` (output layout): the restored sequences.

    Example:
        >>> fold, unfold = dltk.sequenceFoldingLayer(), dltk.sequenceUnfoldingLayer()
        >>> unfold(*fold(torch.zeros(2, 5, 3, 8, 8))).shape
        torch.Size([2, 5, 3, 8, 8])

    MATLAB: sequenceUnfoldingLayer(Name=Value)
    """

    signals = ("unfolded",)
    signal_docs = {"unfolded": "the restored sequences, (B, T, C, H, W)"}
    matlab_name = "sequenceUnfoldingLayer"
    type_name = "Sequence Unfolding"
    name_prefix = "sequnfold"
    torch_equivalent = "Tensor.unflatten(0, (B, T))"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("in", "miniBatchSize")

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return _UNFOLD.get(input_layouts[0] or "BCHW", "BTCHW") if input_layouts else "BTCHW"

    def forward(self, x: torch.Tensor, mini_batch_size: Any) -> torch.Tensor:
        lay = self._check_input(x, ("BCHW", "BC"))
        try:
            m = mini_batch_size
            b = int(m) if isinstance(m, (int, torch.Tensor)) else int(torch.as_tensor(m).reshape(()))
        except (RuntimeError, TypeError, ValueError):
            raise self._fail(
                "a miniBatchSize input holding one integer (the folding layer's miniBatchSize output)",
                x,
                f"miniBatchSize was {mini_batch_size!r}",
            ) from None
        if b <= 0 or x.shape[0] % b:
            raise self._fail(
                f"a batch that is a multiple of miniBatchSize {b}",
                x,
                "connect the folding layer's miniBatchSize output to this layer",
            )
        y = x.unflatten(0, (b, x.shape[0] // b))  # (B, T, C, …)
        if self._recorder is not None:
            self._emit("unfolded", y, _UNFOLD[lay])
        return y

    def description(self) -> str:
        return "Sequence unfolding"


class Flatten(Layer):
    r"""Flatten the spatial and channel axes into one channel axis. MATLAB: ``flattenLayer``.

    Math:
        y[c + C\,(w + W h)] \;\text{ in dltk order} \;=\; x_{\text{MATLAB}}(h, w, c), \text{ i.e. } y = \text{vec}(x)

    where vec is MATLAB's column-major vectorization of the h×w×c (or
    h×w×d×c) array of one observation and time step: height fastest, then
    width, (depth,) then channel — the order a MATLAB fully connected layer sees.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, T, C, H, W) SSCBT -> (B, T, C·H·W) CBT; (B, C, H, W) SSCB -> (B, C·H·W) CB;
        (B, C, D, H, W) SSSCB -> (B, C·D·H·W) CB; (B, T, C) and (B, C) pass unchanged.

    A rank-5 input is a 3-D image unless the layer knows it sees image
    sequences: a network tells it (``setup``), or set ``layer.input_layout = "BTCHW"``.

    Signals:
        none.

    Example:
        >>> dltk.flattenLayer()(torch.zeros(2, 3, 4, 4)).shape
        torch.Size([2, 48])

    MATLAB: flattenLayer(Name=Value)
    """

    matlab_name = "flattenLayer"
    type_name = "Flatten"
    name_prefix = "flatten"
    torch_equivalent = "Tensor.transpose(-1, -2).flatten(start_dim)"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        lay = input_layouts[0] if input_layouts else None
        return "BTC" if lay in ("BTCHW", "BTC") else "BC"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        if lay in ("BC", "BTC"):
            return x
        start = 2 if lay == "BTCHW" else 1
        return x.transpose(-1, -2).flatten(start)  # (…, C, (D,) W, H): H fastest, as MATLAB

    def description(self) -> str:
        return "Flatten"


class WordEmbedding(Layer):
    r"""Look up a learned vector for each word index. MATLAB: ``wordEmbeddingLayer(dimension, numWords)``.

    Math:
        y_{b,t} = W_{:, k_{b,t}}

    where :math:`k_{b,t} \in \{1, …, \text{NumWords}\}` is the 1-based word index at
    observation :math:`b`, time step :math:`t`, and :math:`W` the Dimension×NumWords
    ``Weights`` matrix (column k is word k's vector).

    Out-of-vocabulary indices (:math:`k < 1` or :math:`k > \text{NumWords}`, e.g. 0 used
    as padding): with ``OOVMode 'map-to-last'`` they use the last column
    :math:`W_{:, \text{NumWords}}` (so reserve that word for "unknown"); with
    ``'error'`` they raise :class:`~dltk.errors.LayerInputError`. Non-integer
    values are always an error.

    Args:
        dimension: embedding size D (MATLAB ``dimension``).
        num_words: vocabulary size (MATLAB ``numWords``).
        oov_mode: ``'map-to-last'`` or ``'error'`` (MATLAB ``OOVMode``). Default: ``'map-to-last'``.
        weights_initializer: ``'narrow-normal'``, ``'glorot'`` (fan-in NumWords,
            fan-out D), ``'he'``, ``'orthogonal'``, ``'zeros'``, ``'ones'`` or a callable
            (MATLAB ``WeightsInitializer``). Default: ``'narrow-normal'``.
        weights: initial D×NumWords weights (MATLAB ``Weights``). Default: ``None``.
        weight_learn_rate_factor, weight_l2_factor: MATLAB ``WeightLearnRateFactor`` /
            ``WeightL2Factor``. Default: ``1``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, T, 1) CBT of word indices (floats as in MATLAB, or integer token ids) -> (B, T, D) CBT;
        (B, 1) CB -> (B, D) CB.

    Learnables:
        weight: (NumWords, D) as ``torch.nn.Embedding``; MATLAB ``Weights`` is its
        D×NumWords transpose (same storage). Init N(0, 0.01²).

    Signals:
        ``indices`` (B, T) int64: the 1-based word indices used, after OOV mapping;
        ``vectors`` (output layout): the looked-up vectors.

    Example:
        >>> emb = dltk.wordEmbeddingLayer(8, 100)
        >>> emb(torch.tensor([[[3.0], [7.0], [1.0]]])).shape
        torch.Size([1, 3, 8])

    MATLAB: wordEmbeddingLayer(dimension, numWords, Name=Value)
    """

    signals = ("indices", "vectors")
    signal_docs = {
        "indices": "1-based word indices after OOV mapping, (B, T) int64",
        "vectors": "the embedding vectors, (B, T, Dimension)",
    }
    matlab_name = "wordEmbeddingLayer"
    type_name = "Word Embedding Layer"
    name_prefix = "embedding"
    torch_equivalent = "torch.nn.Embedding"
    matlab_positional = ("dimension", "num_words")
    matlab_options = {
        "OOVMode": "oov_mode",
        "WeightsInitializer": "weights_initializer",
        "Weights": "weights",
        "WeightLearnRateFactor": "weight_learn_rate_factor",
        "WeightL2Factor": "weight_l2_factor",
    }

    def __init__(
        self,
        dimension: int,
        num_words: int,
        *,
        oov_mode: str = "map-to-last",
        weights_initializer: Any = "narrow-normal",
        weights: Any = None,
        weight_learn_rate_factor: float = 1.0,
        weight_l2_factor: float = 1.0,
        name: str = "",
    ) -> None:
        super().__init__(name)
        w = "wordEmbeddingLayer"
        self.dimension = positive_int(w, "Dimension", dimension)
        self.num_words = positive_int(w, "NumWords", num_words)
        self.oov_mode = choice(w, "OOVMode", oov_mode, ("map-to-last", "error"))
        self.weights_initializer = init.check_initializer(
            w, "WeightsInitializer", weights_initializer, init.WEIGHT_INITIALIZERS
        )
        self.weight_learn_rate_factor = number(w, "WeightLearnRateFactor", weight_learn_rate_factor, low=0)
        self.weight_l2_factor = number(w, "WeightL2Factor", weight_l2_factor, low=0)
        self._initial = weights
        self.weight = nn.Parameter(torch.empty(self.num_words, self.dimension))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self._initial is not None:
                w = torch.as_tensor(self._initial, dtype=torch.float64).reshape(self.dimension, self.num_words)
            else:
                w = init.make(
                    self.weights_initializer, (self.dimension, self.num_words), self.num_words, self.dimension
                )
            self.weight.copy_(w.T)

    Dimension = matlab_property("dimension", readonly=True)
    NumWords = matlab_property("num_words", readonly=True)
    OOVMode = matlab_property("oov_mode")
    WeightsInitializer = matlab_property("weights_initializer")
    WeightLearnRateFactor = matlab_property("weight_learn_rate_factor")
    WeightL2Factor = matlab_property("weight_l2_factor")

    @property
    def Weights(self) -> torch.Tensor:  # noqa: N802
        """MATLAB ``Weights``: Dimension×NumWords, the transpose of ``weight``."""
        return self.weight.detach().T

    @Weights.setter
    def Weights(self, value: Any) -> None:  # noqa: N802
        with torch.no_grad():
            self.weight.copy_(torch.as_tensor(value).reshape(self.dimension, self.num_words).T)

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return "BC" if input_layouts and input_layouts[0] == "BC" else "BTC"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, ("BTC", "BC"), {"C": 1}, allow_integer=True)
        k = x.squeeze(-1)  # (B, T) or (B,)
        # whole numbers: the fraction k - trunc(k) is 0 (NaN and ±Inf give NaN: refused like fractions)
        whole = not k.is_floating_point() or not bool(k.frac().any())
        if self._recorder is None and whole:  # plain path
            try:  # indices within the vocabulary need no mapping; the lookup itself range-checks
                return F.embedding(k.long() - 1, self.weight)
            except (IndexError, RuntimeError):
                pass  # out-of-vocabulary indices: mapped or reported below
        if not whole:
            bad = k[k.frac() != 0][0].item()
            raise self._fail("whole-number word indices", x, f"found {bad!r}")
        k = k.long()
        oov = (k < 1) | (k > self.num_words)
        if self.oov_mode == "error" and bool(oov.any()):
            bad = k[oov][0].item()
            raise self._fail(f"word indices 1…{self.num_words} (OOVMode 'error')", x, f"found index {bad}")
        k = torch.where(oov, self.num_words, k)
        y = F.embedding(k - 1, self.weight)  # (B, T, D) or (B, D)
        self._emit("indices", k)  # (B, T) or (B,)
        self._emit("vectors", y, "BTC" if y.ndim == 3 else "BC")
        return y

    def description(self) -> str:
        return f"Word embedding layer with {self.dimension} dimensions and {self.num_words} unique words"

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, num_words={self.num_words}, oov_mode={self.oov_mode!r}"
