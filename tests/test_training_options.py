"""trainingOptions: MATLAB defaults per solver, both argument styles, validation, display."""

from __future__ import annotations

import math

import pytest

import dltk
from dltk.errors import OptionError


def test_defaults_per_solver():
    s = dltk.trainingOptions("sgdm")
    assert (s.SolverName, s.Momentum, s.InitialLearnRate, s.MaxEpochs, s.MiniBatchSize) == ("sgdm", 0.9, 0.01, 30, 128)
    assert (s.Shuffle, s.LearnRateSchedule, s.LearnRateDropFactor, s.LearnRateDropPeriod) == ("once", "none", 0.1, 10)
    assert s.L2Regularization == 1e-4 and math.isinf(s.GradientThreshold) and s.GradientThresholdMethod == "l2norm"
    assert (s.ValidationData, s.ValidationFrequency, s.ValidationPatience) == (None, 50, math.inf)
    assert (s.SequenceLength, s.SequencePaddingDirection, s.SequencePaddingValue) == ("longest", "right", 0.0)
    assert (s.Verbose, s.VerboseFrequency, s.Plots, s.ExecutionEnvironment) == (True, 50, "none", "auto")
    assert s.ResetInputNormalization is True and s.SequenceMasking is True
    a = dltk.trainingOptions("adam")
    assert (a.InitialLearnRate, a.GradientDecayFactor, a.SquaredGradientDecayFactor, a.Epsilon) == (
        0.001,
        0.9,
        0.999,
        1e-8,
    )
    r = dltk.trainingOptions("rmsprop")
    assert (r.InitialLearnRate, r.SquaredGradientDecayFactor, r.Epsilon) == (0.001, 0.9, 1e-8)
    assert not hasattr(a, "Momentum") and not hasattr(r, "GradientDecayFactor")


def test_keywords_and_string_pairs_are_the_same():
    a = dltk.trainingOptions("adam", MaxEpochs=50, MiniBatchSize=27, GradientThreshold=1, Shuffle="never")
    b = dltk.trainingOptions("ADAM", "maxepochs", 50, "MiniBatchSize", 27, "GradientThreshold", 1, "Shuffle", "NEVER")
    assert a == b and b.Shuffle == "never" and b.SolverName == "adam"
    assert a.max_epochs == 50 and a.mini_batch_size == 27  # snake_case reads the same option


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (("lbfgs",), {}, "invalid solverName 'lbfgs'. Allowed values: 'sgdm', 'adam', 'rmsprop'"),
        (("adam",), {"MaxEpoch": 3}, "unknown option 'MaxEpoch' for solver 'adam'. Allowed options:"),
        (("adam",), {"Momentum": 0.5}, "option 'Momentum' applies only to solver 'sgdm', not 'adam'"),
        (
            ("sgdm",),
            {"Shuffle": "sometimes"},
            "invalid Shuffle 'sometimes'. Allowed values: 'once', 'never', 'every-epoch'",
        ),
        (("sgdm",), {"MiniBatchSize": 0}, "MiniBatchSize must be a positive integer, got 0"),
        (("sgdm",), {"InitialLearnRate": -1}, "InitialLearnRate must be > 0"),
        (("sgdm",), {"SequenceLength": "long"}, "Allowed values: 'longest', 'shortest' or a positive integer"),
        (("sgdm",), {"GradientThresholdMethod": "l1"}, "'l2norm', 'global-l2norm', 'absolute-value'"),
        (("sgdm",), {"ValidationData": 3}, "ValidationData must be a pair (XValidation, YValidation)"),
        (("sgdm", "MaxEpochs"), {}, "option 'MaxEpochs' has no value"),
        (("sgdm",), {"ExecutionEnvironment": "tpu"}, "Allowed values: 'auto', 'cpu', 'gpu'"),
    ],
)
def test_bad_options_name_the_option_and_allowed_values(args, kwargs, fragment):
    with pytest.raises(OptionError) as e:
        dltk.trainingOptions(*args, **kwargs)
    assert fragment in str(e.value)
    assert str(e.value).startswith("trainingOptions")


def test_assignment_validates_like_the_constructor():
    o = dltk.trainingOptions("sgdm")
    o.MaxEpochs = 5
    o.learn_rate_schedule = "piecewise"
    assert o.MaxEpochs == 5 and o.LearnRateSchedule == "piecewise"
    with pytest.raises(OptionError, match="MaxEpochs must be a positive integer"):
        o.MaxEpochs = 2.5
    with pytest.raises(OptionError, match="applies only to solver 'adam'"):
        o.GradientDecayFactor = 0.5
    with pytest.raises(OptionError, match="unknown option 'Foo'"):
        o.Foo = 1


def test_sequence_length_and_inf_values():
    o = dltk.trainingOptions("sgdm", SequenceLength=20, ValidationPatience=5, GradientThreshold=float("inf"))
    assert o.SequenceLength == 20 and o.ValidationPatience == 5 and math.isinf(o.GradientThreshold)
    assert math.isinf(dltk.trainingOptions("adam", ValidationPatience=math.inf).ValidationPatience)


def test_repr_lists_options_like_matlab():
    text = repr(dltk.trainingOptions("adam", GradientThreshold=1))
    lines = text.splitlines()
    assert lines[0] == "TrainingOptionsADAM with properties:"
    assert any(line.strip() == "GradientThreshold: 1.0000" for line in lines)
    assert any(line.strip() == "MaxEpochs: 30" for line in lines)
    assert any(line.strip() == "Shuffle: 'once'" for line in lines)
    assert any("SequenceMasking: 1" in line and "dltk extension" in line for line in lines)
    # names are right-aligned as in MATLAB's display
    colons = {line.index(":") for line in lines[2:]}
    assert len(colons) == 1
    assert "<table" in dltk.trainingOptions("sgdm")._repr_html_()


def test_output_fcn_must_be_callable():
    assert dltk.trainingOptions("sgdm", OutputFcn=print).OutputFcn == (print,)
    with pytest.raises(OptionError, match="OutputFcn must be a function"):
        dltk.trainingOptions("sgdm", OutputFcn=3)
