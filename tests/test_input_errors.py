"""Wrong dtype or complex input into a bare layer: the clear LayerInputError (issue 16 items 4-5).

For every registered layer case (tests/cases): a layer holding float64 parameters (the battery
builds layers in float64) given float32, float16 or bfloat16 input raises a LayerInputError that
names the layer, the dtype it holds and the dtype that came, with the fix (``x.double()``, and
``layer.float()`` where that works); a layer without parameters accepts any floating dtype; complex
input is refused by every layer. A Network still converts its input to its parameters' dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import LayerInputError
from dltk.layers.base import _RANK_MAPS, _RankMapCache
from dltk.testing import battery
from tests.cases import all_cases

CASES = all_cases()
#: layers whose input holds indices, not values: any floating or integer dtype is fine
INDEX_INPUT = ("wordEmbeddingLayer",)


def _holds_float_parameters(layer: torch.nn.Module) -> bool:
    return any(p.is_floating_point() for p in layer.parameters())


def _call(case: Any, layer: torch.nn.Module, convert: Any) -> Any:
    inputs = [
        convert(x) if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in battery.case_inputs(case)
    ]
    targets = battery.case_targets(case)
    with torch.no_grad(), battery.single_thread():
        return battery.run_case(layer, case, inputs, targets)


def _names(layer: Any) -> list[str]:
    return [n for n in (getattr(layer, "matlab_name", ""), layer.label) if n]


def _has_float_input(case: Any) -> bool:
    return any(isinstance(x, torch.Tensor) and x.is_floating_point() for x in battery.case_inputs(case))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_wrong_dtype_into_a_bare_layer_names_layer_dtypes_and_fix(case, dtype):
    layer = battery.build(case)  # float64 parameters
    if not _has_float_input(case):
        pytest.skip("no floating-point input")
    if not _holds_float_parameters(layer) or layer.matlab_name in INDEX_INPUT:
        if dtype != torch.float32:
            pytest.skip("no parameters: half precision is up to PyTorch's CPU kernels")
        _call(case, layer, lambda x: x.to(dtype))  # no parameters (or indices in): float32 computes
        return
    with pytest.raises(LayerInputError) as info:
        _call(case, layer, lambda x: x.to(dtype))
    msg = str(info.value)
    name = str(dtype).replace("torch.", "")
    assert any(n in msg for n in _names(layer)), msg
    assert "holds float64 parameters" in msg and f"input is {name}" in msg and "x.double()" in msg, msg
    if dtype == torch.float32:
        assert "layer.float()" in msg, msg
    else:
        assert "layer." not in msg.split("input is")[-1], msg  # half precision layers are not offered


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_complex_input_is_refused_clearly(case):
    layer = battery.build(case)
    if not _has_float_input(case):
        pytest.skip("no floating-point input")
    with pytest.raises(LayerInputError, match="complex") as info:
        _call(case, layer, lambda x: torch.complex(x, torch.zeros_like(x)))
    assert any(n in str(info.value) for n in _names(layer))


def test_float32_layer_refuses_numpy_float64_and_converted_layer_accepts_it():
    fc = dltk.fullyConnectedLayer(4)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((3, 5)))  # numpy's default float64
    with pytest.raises(LayerInputError, match=r"holds float32 parameters and the input is float64: convert the input"):
        fc(x.float())  # 'auto' size: the first call creates float32 parameters
        fc(x)
    assert fc(x.float()).dtype == torch.float32
    fc.double()  # the cached dtype follows the conversion
    assert fc(x).dtype == torch.float64
    fc.weight = torch.nn.Parameter(fc.weight.detach().float())  # a new parameter: looked up again
    fc.bias = torch.nn.Parameter(fc.bias.detach().float())
    assert fc(x.float()).dtype == torch.float32


def test_lstm_bfloat16_input_gets_the_clear_error():
    lstm = dltk.lstmLayer(4, InputSize=3)
    message = r"lstmLayer .*holds float32 parameters and the input is bfloat16.*x\.float\(\)"
    with pytest.raises(LayerInputError, match=message):
        lstm(torch.randn(2, 5, 3).bfloat16())


def test_network_still_converts_its_input():
    net = dltk.Network([dltk.featureInputLayer(5), dltk.fullyConnectedLayer(3), dltk.regressionLayer()])
    x = np.random.default_rng(0).standard_normal((4, 5))  # float64
    out = net(torch.as_tensor(x))
    assert out.dtype == torch.float32


def test_rank_map_cache_is_keyed_by_value_and_bounded():
    cache = _RankMapCache(limit=3)
    a = cache.get(("BC", "BTC"))
    assert a == {2: "BC", 3: "BTC"} and cache.get(("BC", "BTC")) is a  # an equal tuple built anew shares the entry
    assert cache.get(("BCDHW", "BTCHW")) == {5: ("BCDHW", "BTCHW")}
    for k in range(10):
        cache.get(("BC",) * (k + 1))
    assert len(cache.maps) <= 3
    assert cache.get(["BC", "BTC"]) == {2: "BC", 3: "BTC"}  # a list (a custom layer's) works too
    relu = dltk.reluLayer()
    assert relu._check_input(torch.randn(2, 3), ["BC", "BTC"]) == "BC"
    assert isinstance(_RANK_MAPS, _RankMapCache)
