"""Folding/unfolding, flatten order (MATLAB column-major) and word embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.errors import LayerInputError, OptionError

D = torch.float64


def test_fold_then_unfold_restores_sequences_and_gradients_flow() -> None:
    fold, unfold = dltk.sequenceFoldingLayer(), dltk.sequenceUnfoldingLayer()
    assert fold.OutputNames == ["out", "miniBatchSize"] and unfold.InputNames == ["in", "miniBatchSize"]
    x = torch.randn(3, 4, 2, 5, 5, dtype=D, requires_grad=True)
    y, n = fold(x)
    assert tuple(y.shape) == (12, 2, 5, 5) and int(n) == 3 and n.dtype == torch.int64
    assert torch.equal(y[1 * 4 + 2], x[1, 2])  # observation-major: frame t of observation b at b·T + t
    z = unfold(y * 2, n)
    assert torch.equal(z, 2 * x)
    z.sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))
    assert fold.output_layout(["BTCHW"]) == "BCHW" and unfold.output_layout(["BCHW"]) == "BTCHW"
    with pytest.raises(LayerInputError, match="sequenceUnfoldingLayer.*multiple of miniBatchSize 5"):
        unfold(y, 5)


def test_flatten_feeds_a_fully_connected_layer_like_an_image_input() -> None:
    x = torch.randn(2, 3, 4, 5, dtype=D)
    fc_img = dltk.fullyConnectedLayer(6).double()
    y_img = fc_img(x)  # FC flattens images in MATLAB order itself
    fc_vec = dltk.fullyConnectedLayer(6, InputSize=60).double()
    fc_vec.load_state_dict(fc_img.state_dict())
    torch.testing.assert_close(fc_vec(dltk.flattenLayer()(x)), y_img)
    # h fastest: element (c=0, h=1, w=0) is second, (c=0, h=0, w=1) is (H+1)-th
    flat = dltk.flattenLayer()(x)
    assert flat[0, 1] == x[0, 0, 1, 0] and flat[0, 4] == x[0, 0, 0, 1] and flat[0, 20] == x[0, 1, 0, 0]


def test_flatten_image_sequences_and_pass_through() -> None:
    layer = dltk.flattenLayer()
    layer.input_layout = "BTCHW"
    x = torch.randn(2, 3, 2, 3, 4)
    y = layer(x)
    assert tuple(y.shape) == (2, 3, 24) and y[1, 2, 1] == x[1, 2, 0, 1, 0]
    assert layer.output_layout(["BTCHW"]) == "BTC" and layer.output_layout(["BCHW"]) == "BC"
    seq = torch.randn(2, 5, 3)
    assert dltk.flattenLayer()(seq) is seq


def test_word_embedding_weights_gradients_and_oov() -> None:
    layer = dltk.wordEmbeddingLayer(4, 6).double()
    assert tuple(layer.Weights.shape) == (4, 6) and layer.OOVMode == "map-to-last"
    assert layer.weight.std().item() < 0.05  # narrow-normal: N(0, 0.01²)
    layer.Weights = torch.arange(24, dtype=D).reshape(4, 6)  # column k = word k
    words = torch.tensor([[[2.0], [6.0], [9.0], [0.0]]], dtype=D)
    rec = dltk.record(layer, words)
    assert rec["embedding"]["indices"].tolist() == [[2, 6, 6, 6]]  # 9 and 0 are out of vocabulary → last word
    assert rec.output[0, 0].tolist() == [1.0, 7.0, 13.0, 19.0]  # Weights(:, 2)
    y = layer(words)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    ref_w = layer.weight.detach().clone().requires_grad_(True)
    (F.embedding(torch.tensor([[1, 5, 5, 5]]), ref_w) * g).sum().backward()
    torch.testing.assert_close(layer.weight.grad, ref_w.grad)
    assert layer.weight.grad[5].abs().sum() > 0 and layer.weight.grad[0].abs().sum() == 0


def test_word_embedding_options_and_errors() -> None:
    layer = dltk.wordEmbeddingLayer(300, 5000)
    assert layer.description() == "Word embedding layer with 300 dimensions and 5000 unique words"
    assert (layer.Dimension, layer.NumWords) == (300, 5000)
    strict = dltk.wordEmbeddingLayer(3, 5, "OOVMode", "error", Name="emb")
    with pytest.raises(LayerInputError, match=r"wordEmbeddingLayer 'emb': expected word indices 1…5 .*found index 6"):
        strict(torch.tensor([[[1.0], [6.0]]]))
    with pytest.raises(LayerInputError, match="whole-number word indices"):
        strict(torch.tensor([[[1.25]]]))
    with pytest.raises(OptionError, match="OOVMode"):
        dltk.wordEmbeddingLayer(3, 5, OOVMode="ignore")
    given = dltk.wordEmbeddingLayer(2, 3, Weights=[[1, 2, 3], [4, 5, 6]])
    assert given(torch.tensor([[3.0]])).tolist() == [[3.0, 6.0]]


def test_word_embedding_takes_integer_token_ids() -> None:
    """int64 token ids (PyTorch's usual form) give what the same ids as floats give; OOV mapping
    and the errors are the same; bool is refused."""
    layer = dltk.wordEmbeddingLayer(3, 5, Name="emb")
    ids = torch.tensor([[[1], [5], [0], [7]]])
    torch.testing.assert_close(layer(ids), layer(ids.float()))
    rec = dltk.record(layer, ids)
    assert rec["emb"]["indices"].tolist() == [[1, 5, 5, 5]]
    strict = dltk.wordEmbeddingLayer(3, 5, OOVMode="error", Name="emb")
    with pytest.raises(LayerInputError, match="found index 0"):
        strict(ids)
    with pytest.raises(LayerInputError, match="floating-point or integer"):
        layer(torch.ones(1, 2, 1, dtype=torch.bool))
