"""The stratified bootstrap of *normalised* scores, with the normaliser inside each replicate.

A normalised score is ``(raw - low) / (high - low)`` per task. ``low`` (the random policy's
score) is a fixed constant. ``high`` is either a constant too (Atari human scores) or the
per-task mean of *reference runs*: MinAtar's dense width-1 DQN runs of the same sweep. Those
runs are data, as noisy as any other configuration (3 seeds per game here), so every bootstrap
replicate resamples them (within each task, like every other configuration) and recomputes
``high`` from that resample. When the reference configuration is also a side of the comparison
(``shared``), both use one resample: the same runs cannot be two independent draws.

Every function accepts leading batch axes ``(..., runs, tasks)`` so that a simulation can run
thousands of independent data sets through the same code in one call (see
``tests/test_bootstrap_reference.py``). Random draws happen in a fixed order (configurations in
mapping order, then the reference), so a seed gives identical intervals.

Two intervals are offered. ``"percentile"`` is the rule fixed in ``prunebook.analysis.claims``.
``"expanded"`` is Hesterberg's expanded percentile interval (Hesterberg 2015, "What teachers
should know about the bootstrap", The American Statistician 69(4), §3.2): the bootstrap
distribution of a mean is too narrow by ``sqrt((n - 1) / n)`` with ``n`` runs per task, and a
normal quantile ignores that the spread is estimated; so the percentile interval's tails are
moved to ``Phi(-sqrt(n / (n - 1)) * t_{alpha/2, df})``, here with ``df = tasks * (n - 1)``
(the pooled within-task degrees of freedom of a stratified sample). With 3 runs on 4 tasks the
95% interval uses the 0.24% and 99.76% points. It is our robustness check for few runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping

import numpy as np

from prunebook.analysis import stats
from prunebook.analysis.stats import METRICS
from prunebook.extras import missing_extra

try:
    from scipy import stats as sps
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error

INTERVALS = ("percentile", "expanded")


@dataclasses.dataclass(frozen=True)
class Normaliser:
    """How raw per-task scores become normalised ones: ``(raw - low) / (high - low)``.

    Give ``high`` (fixed, shape ``(tasks,)``) or ``reference`` (raw reference runs,
    ``(..., runs, tasks)``, whose per-task mean is ``high``), not both. ``shared`` names the
    configuration whose runs *are* the reference runs. ``resample=False`` holds the reference
    mean fixed (the old, too narrow interval; kept to measure the difference).
    """

    low: np.ndarray
    high: np.ndarray | None = None
    reference: np.ndarray | None = None
    shared: Hashable | None = None
    resample: bool = True

    def __post_init__(self):
        if (self.high is None) == (self.reference is None and self.shared is None):
            raise ValueError("Normaliser: give either a fixed `high` or reference runs")


def resample_indices(rng: np.random.Generator, reps: int, shape: tuple[int, ...]) -> np.ndarray:
    """Stratified bootstrap indices: ``shape`` = (..., runs, tasks) -> (..., reps, runs, tasks),
    each entry a run index drawn within its own task (and batch element)."""
    *batch, runs, tasks = shape
    return rng.integers(0, runs, size=(*batch, reps, runs, tasks))


def _take(scores: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(scores[..., None, :, :], idx, axis=-2)


def _normalise(raw, low, high):
    scale = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (raw - low[..., None, :]) / scale[..., None, :]
    # a replicate whose reference mean is not above random has no normalisation: NaN
    return np.where((scale > 0)[..., None, :], out, np.nan)


def normalised_replicates(
    raw: Mapping[Hashable, np.ndarray], normaliser: Normaliser, metric: str = "iqm", *,
    rng: np.random.Generator, reps: int = 50_000,
) -> tuple[dict, dict]:
    """Point estimate and bootstrap replicates of ``metric`` of each configuration's
    normalised scores: ``({key: (...)}, {key: (..., reps)})``. A replicate in which the
    normaliser is undefined (reference mean not above ``low`` in some task) is NaN."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("pass an explicit numpy.random.Generator, e.g. np.random.default_rng(0)")
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    fn = METRICS[metric] if isinstance(metric, str) else metric
    checked = {k: stats.validate_scores(v, f"config {k!r}") for k, v in raw.items()}
    if not checked:
        raise ValueError("normalised_replicates: no configurations")
    low = np.asarray(normaliser.low, dtype=float)
    tasks = {k: v.shape[-1] for k, v in checked.items()}
    if len(set(tasks.values()) | {low.shape[-1]}) > 1:
        raise ValueError(f"configs and `low` disagree on num_tasks: {tasks}, low {low.shape}")
    samples = {k: _take(v, resample_indices(rng, reps, v.shape)) for k, v in checked.items()}
    if normaliser.high is not None:
        high_point = np.asarray(normaliser.high, dtype=float)
        high_rep = high_point[..., None, :]
    else:
        if normaliser.shared is not None:
            if normaliser.shared not in checked:
                raise ValueError(f"shared reference {normaliser.shared!r} is not a config")
            ref, ref_rep = checked[normaliser.shared], samples[normaliser.shared]
        else:
            ref = stats.validate_scores(normaliser.reference, "reference")
            ref_rep = _take(ref, resample_indices(rng, reps, ref.shape))
        high_point = ref.mean(axis=-2)
        high_rep = ref_rep.mean(axis=-2) if normaliser.resample else high_point[..., None, :]
    if not (high_point - low > 0).all():
        raise ValueError("the reference is not above the random score in some task: "
                         "the normalisation would be undefined or flip the sign")
    points = {k: np.asarray(fn(_normalise(v, low, high_point))) for k, v in checked.items()}
    replicates = {k: np.asarray(fn(_normalise(s, low[..., None, :], high_rep)))
                  for k, s in samples.items()}
    return points, replicates


def interval_tails(ci: float, interval: str = "percentile", runs: int | None = None,
                   tasks: int | None = None) -> tuple[float, float]:
    """Lower and upper percentile (in %) of the bootstrap distribution an interval uses."""
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    alpha = (1.0 - ci) / 2.0
    if interval == "percentile":
        return 100 * alpha, 100 * (1 - alpha)
    if interval != "expanded":
        raise ValueError(f"unknown interval {interval!r}; choose from {INTERVALS}")
    if runs is None or tasks is None or runs < 2:
        raise ValueError("the expanded interval needs runs >= 2 per task and the task count")
    df = tasks * (runs - 1)
    z = np.sqrt(runs / (runs - 1)) * sps.t.ppf(1 - alpha, df)
    tail = float(sps.norm.sf(z))
    return 100 * tail, 100 * (1 - tail)


def interval(samples: np.ndarray, ci: float = 0.95, kind: str = "percentile",
             runs: int | None = None, tasks: int | None = None) -> np.ndarray:
    """Interval of bootstrap ``samples`` (..., reps) -> (2, ...); NaN where a sample is NaN."""
    lo, hi = interval_tails(ci, kind, runs, tasks)
    samples = np.asarray(samples, dtype=float)
    out = np.percentile(samples, [lo, hi], axis=-1)
    return np.where(np.isnan(samples).any(axis=-1), np.nan, out)


def ratio(points: Mapping, replicates: Mapping, num: Hashable, den: Hashable
          ) -> tuple[np.ndarray, np.ndarray]:
    """``metric(num) / metric(den)``: point and replicates. Replicates are NaN when any
    replicate of the denominator is not positive (the ratio is unbounded there), so the
    interval is undefined rather than quietly cut."""
    den_rep = replicates[den]
    with np.errstate(divide="ignore", invalid="ignore"):
        rep = replicates[num] / den_rep
        point = points[num] / points[den]
    bad = ~(den_rep > 0).all(axis=-1, keepdims=True)  # NaN counts as not positive
    return point, np.where(bad, np.nan, rep)


def normalised_curve_replicates(
    curves: Mapping[Hashable, np.ndarray], normaliser: Normaliser, metric: str = "iqm", *,
    rng: np.random.Generator, reps: int = 2_000,
) -> tuple[dict, dict]:
    """Learning curves ``(runs, tasks, points)``: metric per point ``(points,)`` and its
    replicates ``(reps, points)``. A run is resampled as a whole (one index for all its points,
    as rliable does). ``normaliser.reference`` holds the reference runs' *final* scores
    ``(runs, tasks)``, resampled per replicate; with ``shared`` they are the final scores of
    that curve's runs (same order) and share its indices."""
    fn = METRICS[metric] if isinstance(metric, str) else metric
    checked = {k: stats.validate_scores(v, f"curves {k!r}", 3) for k, v in curves.items()}
    low = np.asarray(normaliser.low, dtype=float)
    take = {k: resample_indices(rng, reps, v.shape[:2]) for k, v in checked.items()}
    samples = {k: v[take[k], np.arange(v.shape[1])] for k, v in checked.items()}
    if normaliser.high is not None:
        high_point = np.asarray(normaliser.high, dtype=float)
        high_rep = np.broadcast_to(high_point, (reps, low.shape[-1]))
    else:
        if normaliser.reference is None:
            raise ValueError("curves need the reference runs' final scores (`reference`)")
        ref = stats.validate_scores(normaliser.reference, "reference")
        idx = (take[normaliser.shared] if normaliser.shared is not None
               else resample_indices(rng, reps, ref.shape))
        high_point = ref.mean(axis=0)
        high_rep = (ref[idx, np.arange(ref.shape[1])].mean(axis=1) if normaliser.resample
                    else np.broadcast_to(high_point, (reps, ref.shape[1])))
    if not (high_point - low > 0).all():
        raise ValueError("the reference is not above the random score in some task")

    def norm(raw, high):  # raw (..., runs, tasks, points), high (..., tasks)
        scale = (high - low)[..., None, :, None]
        ok = scale > 0
        return np.where(ok, (raw - low[:, None]) / np.where(ok, scale, 1.0), np.nan)

    points = {k: np.asarray(fn(np.moveaxis(norm(v, high_point), -1, 0)))
              for k, v in checked.items()}
    replicates = {k: np.asarray(fn(np.moveaxis(norm(s, high_rep), -1, 1)))
                  for k, s in samples.items()}
    return points, replicates
