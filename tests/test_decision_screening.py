"""The rescorer's float32 screen (decision/screening.py): its error bound holds, and the
probabilities the decision reads are the float64 ones wherever a candidate is or could be accepted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keyphrase_tagger.decision.candidates import GROUPS
from keyphrase_tagger.decision.features import Features, OneHot
from keyphrase_tagger.decision.rescorer import Rescorer
from keyphrase_tagger.decision.screening import SIGMOID_ELEMENTS, SIGMOID_ERROR, column_magnitudes, sigmoid_in_place


def synthetic(seed: int, rows: int, hidden: int, magnitude: float) -> tuple[Rescorer, Features]:
    """A rescorer and features of 12 dense columns (some up to ``magnitude``) and three one-hot
    blocks of 5 categories, with random weights."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(rows, 12)) * np.array([1.0] * 8 + [magnitude] * 4)
    columns = [*dense.T, *(OneHot(rng.integers(0, 5, size=rows), 5) for _ in range(3))]
    features = Features.of(columns, rows)
    n = features.width
    rescorer = Rescorer(0.5, tuple(rng.normal(size=n) * 0.1), tuple(rng.uniform(0.5, 2.0, size=n)),
                        tuple(rng.normal(size=hidden)), 0.0, tuple(map(tuple, rng.normal(size=(hidden, n)) * 0.5)),
                        tuple(rng.normal(size=hidden) * 0.1), GROUPS, True)
    # The output bias at the median logit: half the candidates accepted, many near the threshold.
    logits = -np.log(1.0 / rescorer.factored_probabilities(features) - 1.0)
    return dataclasses.replace(rescorer, output_bias=-float(np.median(logits))), features


@pytest.mark.parametrize(("hidden", "magnitude"), [(8, 1.0), (64, 1.0), (64, 1e3)])
def test_the_float32_logits_are_within_their_bound_of_the_float64_ones(hidden, magnitude):
    rescorer, features = synthetic(0, 5000, hidden, magnitude)
    exact = -np.log(1.0 / rescorer.factored_probabilities(features) - 1.0) - rescorer.output_bias
    layer, screen = rescorer._layers(features.layout)
    estimate, bound = screen.logits(features)
    # The bound is twice the worst case; the error is well inside half of it.
    assert np.all(np.abs(estimate - exact) <= bound / 2)
    assert np.abs(estimate - exact).max() > 0  # float32 did round: the check is not vacuous


@pytest.mark.parametrize(("hidden", "magnitude"), [(8, 1.0), (64, 1e3)])
def test_screened_probabilities_are_the_exact_ones_where_a_candidate_could_be_accepted(hidden, magnitude):
    rescorer, features = synthetic(1, 5000, hidden, magnitude)
    exact = rescorer.factored_probabilities(features)
    screened = rescorer.screened_probabilities(features)
    np.testing.assert_array_equal(screened > 0.5, exact > 0.5)
    assert 1000 < (exact > 0.5).sum() < 4000
    accepted = exact > 0.5
    np.testing.assert_allclose(screened[accepted], exact[accepted], rtol=0, atol=1e-12)
    # The others are float32 estimates, close to the exact values, all below 0.5.
    np.testing.assert_allclose(screened, exact, rtol=0, atol=1e-4)


def test_a_logistic_regression_is_not_screened():
    rescorer, features = synthetic(2, 300, 8, 1.0)
    n = features.width
    regression = dataclasses.replace(rescorer, output=tuple(np.linspace(-1, 1, n)), hidden=(), hidden_bias=())
    assert regression._layers(features.layout)[1] is None
    np.testing.assert_array_equal(regression.screened_probabilities(features),
                                  regression.factored_probabilities(features))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=70),
                  elements=st.floats(-1e6, 1e6)))
def test_column_magnitudes_are_the_largest_magnitude_in_each_column(x):
    np.testing.assert_array_equal(column_magnitudes(x), np.abs(x).max(axis=0))


def test_the_float32_sigmoid_is_within_the_error_the_bound_allows_it():
    # A grid of [-4, 4) at steps of 2**-15 (262,144 values: where the sigmoid's exp and its rounding
    # matter most) and a wide random sample.
    dense = np.arange(-(2**22), 2**22, 2**5, dtype=np.int64) * np.float64(2.0**-20)
    wide = np.random.default_rng(0).uniform(-100, 100, size=2**20)
    for values in (dense, wide):
        z = values.astype(np.float32).reshape(-1, 64)
        exact = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
        error = np.abs(sigmoid_in_place(z.copy()).astype(np.float64) - exact)
        assert error.max() <= SIGMOID_ERROR
        assert error.max() > 0


def test_the_sigmoid_is_the_same_in_parts_of_any_size():
    z = np.random.default_rng(1).normal(size=(3 * SIGMOID_ELEMENTS // 7 + 5, 7)).astype(np.float32)
    whole = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    np.testing.assert_allclose(sigmoid_in_place(z.copy()), whole, rtol=0, atol=SIGMOID_ERROR)
