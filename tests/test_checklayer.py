"""dltk.checkLayer: MATLAB's custom-layer checks on dltk's example layers and on broken ones."""

from __future__ import annotations

import pytest
import torch

import dltk
from dltk.errors import OptionError
from dltk.layers import Layer
from dltk.testing.checklayer import input_from_size


def test_prelu_passes_like_matlab(capsys: pytest.CaptureFixture[str]) -> None:
    result = dltk.checkLayer(dltk.preluLayer(20), [5, 5, 20], ObservationDimension=4)
    out = capsys.readouterr().out
    assert result, result
    assert result.failed == []
    assert "gradientsAreNumericallyCorrect(Observations=multiple)" in result.passed
    assert "multipleObservationsAreConsistent" in result.passed
    assert "Running nnet.checklayer.TestLayerWithoutBackward" in out
    assert f"{len(result.passed)} Passed, 0 Failed, 0 Incomplete, {len(result.skipped)} Skipped." in out


def test_without_observation_dimension_skips_multi_observation_tests(capsys: pytest.CaptureFixture[str]) -> None:
    result = dltk.checkLayer(dltk.preluLayer(4), [3, 3, 4], verbose=False)
    assert result and capsys.readouterr().out == ""
    multi = [n for n in result.skipped if "multiple" in n or n == "multipleObservationsAreConsistent"]
    assert len(multi) == 6, result.skipped
    assert all("ObservationDimension" in result.reasons[n] for n in multi)


def test_weighted_addition_passes_with_two_inputs() -> None:
    result = dltk.checkLayer(
        dltk.weightedAdditionLayer(2, "add"), [[4, 4, 3], [4, 4, 3]], ObservationDimension=4, verbose=False
    )
    assert result, repr(result)
    assert "signalsAreConsistent" in result.passed


class _WrongBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        (x,) = ctx.saved_tensors
        return g * (x > 0) * 0.5  # should be 1 where x > 0


class StudentReLU(Layer):
    """A student's ReLU with a hand-written, wrong backward."""

    type_name = "Student ReLU"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _WrongBackward.apply(x)


class BatchMean(Layer):
    """Subtracts the mean over the whole batch: output depends on the other observations."""

    type_name = "Batch mean"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(dim=0, keepdim=True)


class Float32Only(Layer):
    type_name = "Float32 only"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * 2


def test_wrong_gradient_fails_the_gradient_test(capsys: pytest.CaptureFixture[str]) -> None:
    result = dltk.checkLayer(StudentReLU(), [3, 3, 2], ObservationDimension=4)
    out = capsys.readouterr().out
    assert not result
    assert result.failed == [
        "gradientsAreNumericallyCorrect(Observations=one)",
        "gradientsAreNumericallyCorrect(Observations=multiple)",
    ]
    assert "dL/dX (input 1)" in result.reasons[result.failed[0]]
    assert "Verification failed in nnet.checklayer.TestLayerWithoutBackward/gradientsAreNumericallyCorrect" in out
    assert "2 Failed" in out


def test_batch_dependent_output_fails_the_observation_test() -> None:
    result = dltk.checkLayer(BatchMean(), [4], ObservationDimension=2, verbose=False)
    assert result.failed == ["multipleObservationsAreConsistent"], repr(result)
    assert "mixes observations" in result.reasons["multipleObservationsAreConsistent"]
    # without ObservationDimension MATLAB cannot see it either
    assert dltk.checkLayer(BatchMean(), [4], verbose=False)


def test_wrong_output_type_fails_the_type_tests() -> None:
    result = dltk.checkLayer(Float32Only(), [6], ObservationDimension=2, verbose=False)
    type_tests = [
        "forwardIsConsistentInType(Precision=double,Device=cpu)",
        "predictIsConsistentInType(Precision=double,Device=cpu)",
    ]
    assert set(type_tests) <= set(result.failed), repr(result)
    assert "predictIsConsistentInType(Precision=single,Device=cpu)" in result.passed
    assert "gave outputs of type ['float32']" in result.reasons[result.failed[0]]


def test_layer_that_errors_fails_the_run_tests() -> None:
    result = dltk.checkLayer(dltk.fullyConnectedLayer(3, InputSize=4), [4], ObservationDimension=2, verbose=False)
    assert result, repr(result)
    bad = dltk.checkLayer(dltk.fullyConnectedLayer(3, InputSize=5), [4], ObservationDimension=2, verbose=False)
    assert not bad
    assert bad.failed == ["layerCanBeInitialized"] and "LayerInputError" in bad.reasons["layerCanBeInitialized"]


def test_input_sizes_map_to_dltk_layouts() -> None:
    assert input_from_size([5, 6, 20], 4, 2)[0].shape == (2, 20, 5, 6)
    assert input_from_size([5, 6, 20, 1], 4, 3)[1] == "BCHW"
    assert input_from_size([5, 6, 7, 3], 5, 2)[0].shape == (2, 3, 7, 5, 6)
    assert input_from_size([12, 1, 9], 2, 2)[0].shape == (2, 9, 12)
    assert input_from_size([12], None, 1)[1] == "BC"
    with pytest.raises(OptionError, match="ObservationDimension must be 2"):
        input_from_size([5, 5, 3], 3, 1)
    with pytest.raises(OptionError, match=r"cannot read validInputSize \[5, 5\]"):
        input_from_size([5, 5], 4, 1)


def test_user_layer_is_not_modified() -> None:
    layer = dltk.preluLayer(3)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    dltk.checkLayer(layer, [2, 2, 3], ObservationDimension=4, verbose=False)
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())
    assert all(v.dtype == torch.float32 for v in layer.state_dict().values())


def test_sequence_layer_with_observation_dimension_2() -> None:
    result = dltk.checkLayer(dltk.lstmLayer(3), [2, 1, 4], ObservationDimension=2, verbose=False)
    assert result, repr(result)
    assert "gradientsAreNumericallyCorrect(Observations=multiple)" in result.passed


def test_training_only_signals_count() -> None:
    # dropout's mask exists in training mode only; recording must not change the (seeded) output
    result = dltk.checkLayer(dltk.dropoutLayer(0.3), [3, 3, 2], ObservationDimension=4, verbose=False)
    assert result, repr(result)
    assert "signalsAreConsistent" in result.passed


class ForgetsToEmit(Layer):
    signals = ("scaled",)
    signal_docs = {"scaled": "2·x"}
    type_name = "Forgets to emit"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x


def test_declared_signal_never_emitted_fails_the_signal_test() -> None:
    result = dltk.checkLayer(ForgetsToEmit(), [4], ObservationDimension=2, verbose=False)
    assert result.failed == ["signalsAreConsistent"]
    assert "['scaled']" in result.reasons["signalsAreConsistent"]
