"""Aggregate metrics and stratified-bootstrap intervals (rliable semantics, NumPy only).

Every metric takes a score matrix of shape ``(num_runs, num_tasks)`` and also accepts leading batch
axes ``(..., num_runs, num_tasks)``, so one call evaluates all bootstrap replicates at once.
Names and definitions follow rliable (Agarwal et al. 2021, ``rliable/metrics.py``,
``rliable/library.py``); rliable itself is not a dependency because its PyPI release is broken.

The stratified bootstrap resamples runs with replacement *within each task*, independently per
task, so a replicate never mixes scores of different games. Configurations compared with each
other (ratios, differences, probability of improvement) are resampled independently: runs of
different configurations are not paired. Every random function takes an explicit
``numpy.random.Generator``; the same seed gives identical intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Metric = Callable[[np.ndarray], np.ndarray]
# Bound on the number of floats materialised per bootstrap chunk (memory, not results: the
# random draws do not depend on it because indices are drawn chunk by chunk in order).
_CHUNK_ELEMENTS = 20_000_000


def validate_scores(scores, name: str = "scores", min_dims: int = 2) -> np.ndarray:
    """Return ``scores`` as a float array after checking shape, emptiness and NaNs."""
    arr = np.asarray(scores, dtype=float)
    if arr.ndim < min_dims:
        raise ValueError(f"{name}: expected shape (num_runs, num_tasks, ...), got {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name}: needs at least one run (num_runs >= 1), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: empty score matrix of shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN scores ({int(np.isnan(arr).sum())} of {arr.size})")
    return arr


# --------------------------------------------------------------------------- point metrics
def iqm(scores) -> np.ndarray:
    """Interquartile mean over all runs and tasks (= ``scipy.stats.trim_mean(x, 0.25, None)``)."""
    x = np.asarray(scores, dtype=float)
    flat = x.reshape(*x.shape[:-2], -1)
    n = flat.shape[-1]
    lo = int(0.25 * n)  # scipy's rule: cut int(proportion * n) from each end
    hi = n - lo
    if lo == 0:
        return flat.mean(axis=-1)
    part = np.partition(flat, (lo, hi - 1), axis=-1)
    return part[..., lo:hi].mean(axis=-1)


def mean(scores) -> np.ndarray:
    """Mean over tasks of the per-task mean score (rliable ``aggregate_mean``)."""
    return np.asarray(scores, dtype=float).mean(axis=-2).mean(axis=-1)


def median(scores) -> np.ndarray:
    """Median over tasks of the per-task mean score (rliable ``aggregate_median``)."""
    return np.median(np.asarray(scores, dtype=float).mean(axis=-2), axis=-1)


def optimality_gap(scores, gamma: float = 1.0) -> np.ndarray:
    """How far the scores fall short of ``gamma``: ``gamma - mean(min(x, gamma))``."""
    x = np.asarray(scores, dtype=float)
    return gamma - np.minimum(x, gamma).mean(axis=(-2, -1))


METRICS: dict[str, Metric] = {
    "iqm": iqm,
    "mean": mean,
    "median": median,
    "optimality_gap": optimality_gap,
}


def _metric(metric: str | Metric) -> Metric:
    if callable(metric):
        return metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRICS)}")
    return METRICS[metric]


# --------------------------------------------------------------------------- bootstrap core
def stratified_resamples(scores: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``reps`` stratified resamples of ``scores`` (runs, tasks, ...) -> (reps, runs, tasks, ...).

    Column ``t`` of every replicate holds only values from column ``t`` of ``scores``.
    """
    _check_rng(rng)
    runs, tasks = scores.shape[:2]
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return scores[idx, np.arange(tasks)]


def _bootstrap_metric(scores: np.ndarray, metric: Metric, reps: int, rng) -> np.ndarray:
    """Metric value of each stratified replicate, shape (reps, ...). Memory-bounded chunks."""
    per_rep = scores.size
    chunk = max(1, min(reps, _CHUNK_ELEMENTS // max(per_rep, 1)))
    out = []
    for start in range(0, reps, chunk):
        sample = stratified_resamples(scores, min(chunk, reps - start), rng)
        if sample.ndim > 3:  # (reps, runs, tasks, points) -> (reps, points, runs, tasks)
            sample = np.moveaxis(sample, (1, 2), (-2, -1))
        out.append(np.asarray(metric(sample)))
    return np.concatenate(out, axis=0)


def _percentile_interval(samples: np.ndarray, ci: float) -> np.ndarray:
    """Percentile interval along axis 0 -> array of shape (2, ...) = (lower, upper)."""
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    alpha = 100.0 * (1.0 - ci) / 2.0
    return np.percentile(samples, [alpha, 100.0 - alpha], axis=0)


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("pass an explicit numpy.random.Generator, e.g. np.random.default_rng(0)")


def _check_configs(scores_by_config: Mapping[str, np.ndarray], min_dims: int = 2) -> dict:
    if not scores_by_config:
        raise ValueError("scores_by_config is empty: nothing to estimate")
    checked = {
        k: validate_scores(v, f"config {k!r}", min_dims) for k, v in scores_by_config.items()
    }
    tasks = {k: v.shape[1:] for k, v in checked.items()}
    if len(set(tasks.values())) > 1:
        raise ValueError(f"configs disagree on (num_tasks, ...) shape: {tasks}")
    return checked


def interval_estimates(
    scores_by_config: Mapping[str, np.ndarray],
    metric: str | Metric,
    *,
    rng: np.random.Generator,
    reps: int = 50_000,
    ci: float = 0.95,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point estimate and percentile stratified-bootstrap interval of ``metric`` per config.

    Returns ``(points, intervals)``; ``intervals[k]`` has shape ``(2, ...)`` (lower, upper) as in
    rliable's ``get_interval_estimates``. All configs must have the same number of tasks.
    """
    _check_rng(rng)
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    fn = _metric(metric)
    checked = _check_configs(scores_by_config)
    points, intervals = {}, {}
    for key, scores in checked.items():
        points[key] = np.asarray(fn(scores))
        intervals[key] = _percentile_interval(_bootstrap_metric(scores, fn, reps, rng), ci)
    return points, intervals


def learning_curve_estimates(
    curves_by_config: Mapping[str, np.ndarray],
    *,
    rng: np.random.Generator,
    metric: str | Metric = "iqm",
    reps: int = 2_000,
    ci: float = 0.95,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Metric per point of a curve: scores ``(runs, tasks, points)`` -> (points,), (2, points).

    A run is resampled as a whole (the same replicate indices for every point), as rliable does.
    """
    _check_rng(rng)
    fn = _metric(metric)
    checked = _check_configs(curves_by_config, min_dims=3)
    points, intervals = {}, {}
    for key, curves in checked.items():
        points[key] = np.asarray(fn(np.moveaxis(curves, -1, 0)))
        intervals[key] = _percentile_interval(_bootstrap_metric(curves, fn, reps, rng), ci)
    return points, intervals


# --------------------------------------------------------------------------- comparisons
def _paired_bootstrap(x, y, metric: Metric, reps: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Independent stratified replicates of ``metric`` for x and y (same draw order every call)."""
    x = validate_scores(x, "x")
    y = validate_scores(y, "y")
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y disagree on num_tasks: {x.shape} vs {y.shape}")
    _check_rng(rng)
    return _bootstrap_metric(x, metric, reps, rng), _bootstrap_metric(y, metric, reps, rng)


def iqm_ratio(
    x, y, *, rng: np.random.Generator, reps: int = 50_000, ci: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """IQM(x) / IQM(y) with a percentile interval over independent stratified replicates.

    Only meaningful when IQM(y) > 0. Raises if the point IQM(y) <= 0; if some replicate has
    IQM(y) <= 0 the ratio is unbounded there and the interval is returned as (nan, nan).
    """
    x = validate_scores(x, "x")
    y = validate_scores(y, "y")
    den = float(iqm(y))
    if den <= 0.0:
        raise ValueError(f"IQM(y) = {den:.4g} <= 0: the ratio IQM(x)/IQM(y) is undefined")
    point = float(iqm(x)) / den
    bx, by = _paired_bootstrap(x, y, iqm, reps, rng)
    if (by <= 0.0).any():
        return point, (float("nan"), float("nan"))
    lo, hi = _percentile_interval(bx / by, ci)
    return point, (float(lo), float(hi))


def difference(
    x, y, *, rng: np.random.Generator, metric: str | Metric = "iqm", reps: int = 50_000,
    ci: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """metric(x) - metric(y) with a percentile interval over independent stratified replicates."""
    fn = _metric(metric)
    x = validate_scores(x, "x")
    y = validate_scores(y, "y")
    point = float(fn(x)) - float(fn(y))
    bx, by = _paired_bootstrap(x, y, fn, reps, rng)
    lo, hi = _percentile_interval(bx - by, ci)
    return point, (float(lo), float(hi))


def probability_of_improvement(x, y) -> np.ndarray:
    """P(X > Y) averaged over tasks, ties counting 1/2 (rliable's Mann-Whitney U / (n m)).

    Accepts leading batch axes: ``x`` (..., n, tasks), ``y`` (..., m, tasks).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xa = x[..., :, None, :]  # (..., n, 1, tasks)
    ya = y[..., None, :, :]  # (..., 1, m, tasks)
    u = (xa > ya).mean(axis=(-3, -2)) + 0.5 * (xa == ya).mean(axis=(-3, -2))  # (..., tasks)
    return u.mean(axis=-1)


def probability_of_improvement_interval(
    x, y, *, rng: np.random.Generator, reps: int = 2_000, ci: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """Point P(X > Y) and its percentile interval (x and y resampled independently per task)."""
    x = validate_scores(x, "x")
    y = validate_scores(y, "y")
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y disagree on num_tasks: {x.shape} vs {y.shape}")
    _check_rng(rng)
    point = float(probability_of_improvement(x, y))
    chunk = max(1, _CHUNK_ELEMENTS // (x.shape[0] * y.shape[0] * x.shape[1]))
    samples = []
    for start in range(0, reps, chunk):
        n = min(chunk, reps - start)
        bx = stratified_resamples(x, n, rng)
        by = stratified_resamples(y, n, rng)
        samples.append(probability_of_improvement(bx, by))
    lo, hi = _percentile_interval(np.concatenate(samples), ci)
    return point, (float(lo), float(hi))


# --------------------------------------------------------------------------- profiles
def score_distribution(scores, taus) -> np.ndarray:
    """Fraction of all runs (over all tasks) scoring above each tau.

    ``(..., runs, tasks)`` -> ``(..., len(taus))`` (rliable's run-score distribution).
    """
    x = np.asarray(scores, dtype=float)
    taus = np.asarray(taus, dtype=float)
    return (x[..., None] > taus).mean(axis=(-3, -2))


def performance_profiles(
    scores_by_config: Mapping[str, np.ndarray],
    taus,
    *,
    rng: np.random.Generator,
    reps: int = 2_000,
    ci: float = 0.95,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run-score performance profiles (rliable ``create_performance_profile``) with intervals.

    Returns ``(profiles, intervals)``: ``profiles[k]`` has shape (len(taus),) and
    ``intervals[k]`` shape (2, len(taus)).
    """
    taus = np.asarray(taus, dtype=float)
    if taus.ndim != 1 or taus.size == 0:
        raise ValueError("taus must be a non-empty 1-D grid")
    return interval_estimates(
        scores_by_config, lambda s: score_distribution(s, taus), rng=rng, reps=reps, ci=ci
    )
