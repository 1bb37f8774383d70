"""Aggregate metrics and the stratified bootstrap against scipy, hand values and simulation."""

import numpy as np
import pytest
import scipy.stats

from prunebook.analysis import stats
from prunebook.analysis.stats import METRICS


@pytest.mark.parametrize("shape", [(5, 15), (3, 1), (1, 3), (7, 4), (10, 9), (2, 2)])
def test_iqm_matches_scipy_trim_mean(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_cauchy(shape)
    assert np.isclose(stats.iqm(x), scipy.stats.trim_mean(x, 0.25, axis=None))


def test_metrics_are_batched_over_leading_axes():
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(6, 5, 15))
    for name, fn in METRICS.items():
        got = fn(batch)
        assert got.shape == (6,), name
        assert np.allclose(got, [fn(b) for b in batch]), name


def test_mean_median_optimality_gap_match_rliable_definitions():
    x = np.array([[0.0, 2.0, 5.0], [1.0, 4.0, -1.0]])
    task_means = x.mean(axis=0)  # [0.5, 3.0, 2.0]
    assert stats.mean(x) == pytest.approx(task_means.mean())
    assert stats.median(x) == pytest.approx(2.0)
    # gamma - mean(min(x, gamma)) with gamma = 1: mins [0, 1, 1, 1, 1, -1] -> mean 0.5
    assert stats.optimality_gap(x) == pytest.approx(0.5)
    assert stats.optimality_gap(x, gamma=2.0) == pytest.approx(2.0 - np.minimum(x, 2).mean())


def test_stratified_resamples_never_mix_tasks():
    # Task t holds only values in [100 t, 100 t + 10): any mixing would be visible.
    scores = np.arange(5)[:, None] + 100.0 * np.arange(15)[None, :]
    samples = stats.stratified_resamples(scores, 2_000, np.random.default_rng(0))
    assert samples.shape == (2_000, 5, 15)
    for t in range(15):
        assert set(np.unique(samples[:, :, t])) <= set(scores[:, t])
    # and runs really are resampled (some replicate differs from the data)
    assert (samples != scores).any()


def test_constant_task_gives_point_interval():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(5, 4))
    scores[:, 2] = 0.7
    _, const = stats.interval_estimates(
        {"const": scores[:, [2]]}, "mean", rng=np.random.default_rng(2), reps=1000
    )
    assert const["const"][0] == pytest.approx(0.7) and const["const"][1] == pytest.approx(0.7)
    # in the full matrix the constant column adds no spread: every replicate's column 2 is 0.7
    samples = stats.stratified_resamples(scores, 1000, np.random.default_rng(2))
    assert np.all(samples[:, :, 2] == 0.7)
    points, cis = stats.interval_estimates(
        {"all": scores}, "mean", rng=np.random.default_rng(2), reps=1000
    )
    assert cis["all"][1] - cis["all"][0] > 0.05
    assert points["all"] == pytest.approx(scores.mean())


def test_mean_interval_coverage_near_nominal():
    true_mean, hits, trials = 1.0, 0, 200
    rng = np.random.default_rng(123)
    for _ in range(trials):
        x = rng.normal(true_mean, 1.0, size=(10, 5))
        _, ci = stats.interval_estimates({"x": x}, "mean", rng=rng, reps=500)
        hits += ci["x"][0] <= true_mean <= ci["x"][1]
    assert 0.88 <= hits / trials <= 0.99


def test_same_seed_same_interval_different_seed_differs():
    scores = {"a": np.random.default_rng(0).gamma(2.0, size=(5, 15))}
    run = lambda seed: stats.interval_estimates(  # noqa: E731
        scores, "iqm", rng=np.random.default_rng(seed), reps=3000)[1]["a"]
    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))
    x, y = scores["a"], scores["a"] + 0.5
    r1 = stats.iqm_ratio(x, y, rng=np.random.default_rng(3), reps=2000)
    r2 = stats.iqm_ratio(x, y, rng=np.random.default_rng(3), reps=2000)
    assert r1 == r2


def test_interval_brackets_point_and_has_rliable_shape():
    scores = {k: np.random.default_rng(i).normal(i, 1, size=(5, 15)) for i, k in enumerate("ab")}
    points, cis = stats.interval_estimates(scores, "iqm", rng=np.random.default_rng(0), reps=2000)
    for k in scores:
        assert cis[k].shape == (2,)
        assert cis[k][0] < points[k] < cis[k][1]
    assert cis["a"][1] < cis["b"][0]  # means 0 vs 1 over 75 runs: well separated


def _poi_rliable(x, y):
    probs = []
    for t in range(x.shape[1]):
        u, _ = scipy.stats.mannwhitneyu(x[:, t], y[:, t], alternative="greater")
        probs.append(u / (x.shape[0] * y.shape[0]))
    return np.mean(probs)


def test_probability_of_improvement_matches_mann_whitney():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 4, size=(5, 6)).astype(float)  # many ties
    y = rng.integers(0, 4, size=(7, 6)).astype(float)
    assert stats.probability_of_improvement(x, y) == pytest.approx(_poi_rliable(x, y))
    assert stats.probability_of_improvement(x, x) == pytest.approx(0.5)
    assert stats.probability_of_improvement(x + 10, y) == 1.0
    point, (lo, hi) = stats.probability_of_improvement_interval(
        x, y, rng=np.random.default_rng(0), reps=500)
    assert 0.0 <= lo <= point <= hi <= 1.0


def test_iqm_ratio_and_difference():
    rng = np.random.default_rng(5)
    y = rng.normal(1.0, 0.1, size=(5, 15))
    x = rng.normal(1.6, 0.1, size=(5, 15))
    point, (lo, hi) = stats.iqm_ratio(x, y, rng=np.random.default_rng(0), reps=4000)
    assert point == pytest.approx(stats.iqm(x) / stats.iqm(y))
    assert 1.4 < lo < point < hi < 1.8
    d, (dlo, dhi) = stats.difference(x, y, rng=np.random.default_rng(0), reps=4000)
    assert d == pytest.approx(stats.iqm(x) - stats.iqm(y))
    assert 0.4 < dlo < d < dhi < 0.8
    # different numbers of runs per config are fine (configs are not paired)
    stats.iqm_ratio(x[:3], y, rng=np.random.default_rng(0), reps=100)


def test_iqm_ratio_nonpositive_denominator():
    x = np.ones((5, 3))
    with pytest.raises(ValueError, match="undefined"):
        stats.iqm_ratio(x, -x, rng=np.random.default_rng(0), reps=10)
    y = np.array([[-5.0, 1.0, 1.0], [5.0, 1.0, 1.0], [0.1, 0.1, 0.1], [0.2, 0.1, 0.2]])
    _, ci = stats.iqm_ratio(x[:4], y, rng=np.random.default_rng(0), reps=2000)
    assert np.isnan(ci).all()  # some replicate has IQM(y) <= 0


def test_performance_profiles():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    taus = np.array([-1.0, 0.5, 1.5, 2.5, 3.5])
    assert np.allclose(stats.score_distribution(x, taus), [1.0, 0.75, 0.5, 0.25, 0.0])
    prof, ci = stats.performance_profiles({"x": x}, taus, rng=np.random.default_rng(0), reps=200)
    assert prof["x"].shape == (5,) and ci["x"].shape == (2, 5)
    assert np.all(np.diff(prof["x"]) <= 0)
    assert np.all(ci["x"][0] <= prof["x"] + 1e-12) and np.all(prof["x"] <= ci["x"][1] + 1e-12)


def test_learning_curve_estimates():
    rng = np.random.default_rng(6)
    curves = rng.normal(size=(5, 4, 7)) + np.arange(7)  # (runs, tasks, points)
    points, cis = stats.learning_curve_estimates({"a": curves}, rng=rng, reps=300)
    assert points["a"].shape == (7,) and cis["a"].shape == (2, 7)
    assert np.allclose(points["a"], [stats.iqm(curves[..., i]) for i in range(7)])
    assert np.all(cis["a"][0] <= cis["a"][1])


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        ({"a": np.array([[1.0, np.nan]])}, "NaN"),
        ({"a": np.ones((3, 4)), "b": np.ones((3, 5))}, "num_tasks"),
        ({}, "empty"),
        ({"a": np.ones((0, 4))}, "at least one run"),
        ({"a": np.ones(4)}, "expected shape"),
    ],
)
def test_invalid_input_raises_clear_errors(scores, match):
    with pytest.raises(ValueError, match=match):
        stats.interval_estimates(scores, "iqm", rng=np.random.default_rng(0), reps=10)


def test_other_invalid_inputs():
    x = np.ones((3, 4))
    with pytest.raises(TypeError, match="Generator"):
        stats.interval_estimates({"a": x}, "iqm", rng=0, reps=10)
    with pytest.raises(ValueError, match="unknown metric"):
        stats.interval_estimates({"a": x}, "iqr", rng=np.random.default_rng(0), reps=10)
    with pytest.raises(ValueError, match="num_tasks"):
        stats.iqm_ratio(x, np.ones((3, 5)), rng=np.random.default_rng(0), reps=10)
    with pytest.raises(ValueError, match="NaN"):
        stats.difference(x, np.full((3, 4), np.nan), rng=np.random.default_rng(0), reps=10)
