"""The paper's claims as data, with verdict rules fixed before any result exists.

Every claim compares two configurations through the ratio ``IQM(numerator) / IQM(denominator)`` of
normalized final scores (Atari: human-normalized; MinAtar: see :mod:`.normalization`),
with a 95% percentile interval from independent stratified bootstraps of the two configurations.
MinAtar's normaliser (the dense width-1 DQN reference runs) is resampled inside every replicate
(:mod:`prunebook.analysis.bootstrap`); a side that is the reference shares that resample.

Robustness (:func:`evaluate_robust`). The rule below is the verdict; beside it every claim is
recomputed under a fixed set of alternatives (:data:`ALTERNATIVES`): a run's final score as the
mean of its last 3 iterations, the mean instead of the IQM, the expanded percentile interval for
few runs, and each game left out in turn. A verdict that any of them changes is *fragile*, and
the alternatives that change it are named. Nothing here re-chooses the verdict.

Verdict rules (``verdict``), applied to the 95% CI ``(lo, hi)`` of the ratio:

* ``"greater"`` (the paper says numerator beats denominator): ``lo > 1`` -> reproduced,
  ``hi < 1`` -> contradicted, otherwise inconclusive.
* ``"less"`` (the paper says numerator is worse): ``hi < 1`` -> reproduced, ``lo > 1`` ->
  contradicted, otherwise inconclusive.
* ``"non_inferior"`` with margin ``m`` ("maintains performance"): ``lo > m`` -> reproduced,
  ``hi < m`` -> contradicted, otherwise inconclusive. The margin is :data:`NON_INFERIORITY_MARGIN`.
* No runs for one side (or none that can be normalised) -> "not yet run". An undefined interval
  (a bootstrap replicate with a non-positive denominator IQM) -> inconclusive.

Comparisons never mix suites, sweeps or presets: each (suite, sweep, preset) group with runs for
both sides gives its own row. Only games present on both sides are used; per side, every game
keeps the same number of runs (the lowest seeds, up to the smallest count over games).
Agent names: "dqn", "rainbow" (online) and "cql", "cql_c51" (offline, chapter 4).
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from prunebook.analysis import bootstrap, normalization, preregistered
from prunebook.analysis.claim_rules import (
    NON_INFERIORITY_MARGIN,
    WIDEST,
    Alternative,
    Claim,
    ClaimResult,
    Side,
    not_run_result,
    verdict,
)
from prunebook.extras import missing_extra
from prunebook.sweeps.registry import describe, get_sweep

try:
    import pandas as pd
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error

__all__ = [  # the claim types are defined in .claim_rules and used from here too
    "ALTERNATIVES", "CLAIMS", "CLAIMS_BY_ID", "GROUP", "NON_INFERIORITY_MARGIN", "WIDEST",
    "Alternative", "Claim", "ClaimResult", "Side", "claim_rng", "evaluate", "evaluate_all",
    "evaluate_robust", "judged_on", "not_run_result", "planned_runs", "verdict",
    "with_comparators",
]
GROUP = ["suite", "sweep", "preset"]


CLAIMS: tuple[Claim, ...] = preregistered.CLAIMS
CLAIMS_BY_ID = {c.id: c for c in CLAIMS}


# --------------------------------------------------------------------------- evaluation
def _methods(df: pd.DataFrame) -> pd.Series:
    """Each row's control or baseline ("" for the paper's runs; frames before controls)."""
    if "method" not in df.columns:
        return pd.Series("", index=df.index)
    return df["method"].fillna("")


def _of_side(df: pd.DataFrame, side: Side) -> pd.Series:
    return ((df["agent"] == side.agent) & np.isclose(df["sparsity"].astype(float), side.sparsity)
            & (_methods(df) == side.method))


def _select(df: pd.DataFrame, side: Side, width) -> pd.DataFrame:
    return df[_of_side(df, side) & (df["width"] == width)]


def _resolve_width(df: pd.DataFrame, side: Side):
    if side.width != WIDEST:
        return side.width
    rows = df[_of_side(df, side)]
    return int(rows["width"].max()) if len(rows) else None


_KEY = ["agent", "game", "width", "sparsity", "seed", "method"]
OWN_CLAIM_SWEEPS = frozenset(s for c in CLAIMS for s in c.sweeps)
"""Sweeps with claims of their own: the paper's claims (no `sweeps`) are not judged there."""


def judged_on(claim: Claim, sweep: str) -> bool:
    """Whether `claim` is judged on the runs of `sweep`."""
    return sweep in claim.sweeps if claim.sweeps else sweep not in OWN_CLAIM_SWEEPS


def planned_runs(sweep_name: str) -> pd.DataFrame | None:
    """The (agent, game, width, sparsity, seed, method) grid of a named sweep, with the grid
    of the sweep that lends it comparators (its description's `comparators`), or None if
    unknown."""
    lender = describe(sweep_name).comparators
    names = [sweep_name] + ([lender] if lender else [])
    try:
        configs = [c for name in names for c in get_sweep(name).configs()]
    except Exception:  # an ad-hoc sweep: no plan to check completeness against
        return None
    return plan_of(configs)


def plan_of(configs) -> pd.DataFrame:
    """The (agent, game, width, sparsity, seed, method) grid of some run configs: the plan a
    comparison is complete against (a named sweep's, or the runs a chapter selected)."""
    plan = pd.DataFrame([(c.agent, c.game, c.width, float(c.final_sparsity), c.seed, c.variant)
                         for c in configs], columns=_KEY)
    return plan.drop_duplicates(ignore_index=True)


def with_comparators(df: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    """A (suite, sweep, preset) group plus the runs its lender (`registry.describe`) has
    and it has not, relabelled as the group's sweep and marked `borrowed_from`."""
    suite, sweep, preset = (group[c].iloc[0] for c in GROUP)
    lender = describe(sweep).comparators
    if lender is None:
        return group
    lent = df[(df["sweep"] == lender) & (df["suite"] == suite) & (df["preset"] == preset)]
    own = set(_keys(group))
    lent = lent[[k not in own for k in _keys(lent)]].assign(sweep=sweep, borrowed_from=lender)
    return pd.concat([group, lent], ignore_index=True)


def _missing(plan: pd.DataFrame, df: pd.DataFrame, side: Side, width) -> tuple[int, int]:
    """(missing, planned) runs of one side of a comparison."""
    want = plan[_of_side(plan, side) & (plan.width == width)]
    have = set(_keys(df))
    return sum(k not in have for k in _keys(want)), len(want)


def _keys(frame: pd.DataFrame) -> list[tuple]:
    """(agent, game, width, sparsity, seed, method) per row; no `method` column = ""."""
    rows = frame.assign(method=_methods(frame))[_KEY].astype({"sparsity": float})
    return list(map(tuple, rows.itertuples(index=False)))


def _incomplete(claim: Claim, df: pd.DataFrame, plan: pd.DataFrame) -> str:
    """Why a planned comparison cannot be judged yet ("" when every run it needs is in).

    A verdict on part of a sweep could flip as runs land, so it is withheld: both sides and
    the normalisation reference (dense width-1 DQN) must be complete for every game and seed.
    """
    sides = [claim.numerator, claim.denominator]
    if not claim.numerator.agent.startswith("cql"):
        sides.append(Side("dqn", 1, 0.0))  # MinAtar normalisation reference
    waiting = []
    for i, side in enumerate(dict.fromkeys(sides)):  # unique, in order
        rows = plan[_of_side(plan, side)]
        width = int(rows.width.max()) if len(rows) and side.width == WIDEST else side.width
        if not len(rows) or not (rows.width == width).any():
            if i < 2:  # a compared side this sweep never runs: not its comparison, no wait
                return ""
            continue  # the reference, borrowed from another sweep
        missing, planned = _missing(plan, df, side, width)
        if missing:
            waiting.append(f"{side.label(width)}: {planned - missing} of {planned} runs")
    return ("waiting for " + "; ".join(waiting)) if waiting else ""


def _training_length(runs: pd.DataFrame) -> str:
    """How long the compared runs trained, for the scale column: environment steps online,
    gradient updates offline (where no environment step is taken)."""
    for col, unit in (("env_steps", "env steps"), ("num_env_steps", "env steps"),
                      ("gradient_updates", "gradient updates")):
        if col in runs.columns and runs[col].max() > 0:
            return f"{int(runs[col].max()):,} {unit} · "
    return ""


def evaluate(claim: Claim, runs_df: pd.DataFrame, rng: np.random.Generator,
             reps: int = 50_000, plan: pd.DataFrame | None = None, *,
             reference_df: pd.DataFrame | None = None, metric: str = "iqm",
             interval: str = "percentile", drop_games=(), resample_reference: bool = True
             ) -> ClaimResult:
    """Verdict of ``claim`` on a per-run final-score frame from one (suite, sweep, preset) group.

    ``runs_df`` needs the results-format columns (``score``, raw); a ``normalized`` column (which
    games can be normalised) is added with :func:`.normalization.normalize_frame` when
    absent. The interval comes from :func:`prunebook.analysis.normalization.comparison` and
    :mod:`prunebook.analysis.bootstrap` on the raw scores, the MinAtar reference runs (taken from
    ``reference_df``, default ``runs_df``) resampled inside every replicate. With ``plan`` (the
    sweep's planned runs), a comparison that is not complete yet is "not yet run". ``metric``,
    ``interval`` and ``drop_games`` exist for the robustness alternatives; the verdict rule uses
    the defaults. ``resample_reference=False`` is the old fixed-reference interval.
    """
    ref_df = runs_df if reference_df is None else reference_df
    df = runs_df if "normalized" in runs_df.columns else normalization.normalize_frame(
        runs_df, reference_df=ref_df)
    if len(df) and len(df[GROUP].drop_duplicates()) > 1:
        raise ValueError(f"evaluate: runs span several {GROUP} groups; split them first")
    base = ", ".join(f"{c} {df[c].iloc[0]}" for c in GROUP) if len(df) else "no runs"
    if plan is not None and len(df):
        waiting = _incomplete(claim, df, plan)
        if waiting:  # named by its sweep, so the front page can say which budget waits
            return dataclasses.replace(not_run_result(claim, base, waiting, "waiting"),
                                       sweep=str(df["sweep"].iloc[0]))
    wn, wd = _resolve_width(df, claim.numerator), _resolve_width(df, claim.denominator)
    if wn is None or wd is None:
        return not_run_result(claim, base, "no runs for one side of the comparison",
                              "missing_side")
    if claim.numerator.width == WIDEST and wn <= wd:
        return not_run_result(claim, base, f"needs a width above {wd}; widest run is {wn}",
                              "no_wider")
    num, den = _select(df, claim.numerator, wn), _select(df, claim.denominator, wd)
    if not len(num) or not len(den):
        return not_run_result(claim, base, "no runs for one side of the comparison",
                              "missing_side")
    num, den = num[num["normalized"].notna()], den[den["normalized"].notna()]
    games = sorted((set(num["game"]) & set(den["game"])) - set(drop_games))
    if not games:
        return not_run_result(claim, base, "runs exist but share no normalisable game "
                              "(MinAtar needs dense width-1 DQN reference runs)", "unnormalisable")
    steps = _training_length(pd.concat([num, den]))
    runs = (int(num.groupby("game").size()[games].min()),
            int(den.groupby("game").size()[games].min()))
    scale = (f"{base} · {len(games)} games ({', '.join(games)}) · {steps}"
             f"runs/game {runs[0]} vs {runs[1]} · "
             f"{claim.numerator.label(wn)} vs {claim.denominator.label(wd)}")
    fail = dict(claim_id=claim.id, verdict="inconclusive", ours=None, ci=None,
                paper=claim.paper, scale=scale, games=tuple(games), runs_per_game=min(runs),
                sweep=str(df["sweep"].iloc[0]), training=steps.removesuffix(" · "))
    try:
        raw, normaliser, _ = normalization.comparison(
            {"num": num, "den": den}, ref_df, games, resample_reference=resample_reference)
        points, replicates = bootstrap.normalised_replicates(raw, normaliser, metric, rng=rng,
                                                             reps=reps)
    except (KeyError, ValueError) as err:
        return ClaimResult(**fail, note=str(err.args[0] if err.args else err))
    if not float(points["den"]) > 0:
        return ClaimResult(**fail, note=f"{metric.upper()}(denominator) = "
                           f"{float(points['den']):.4g} <= 0: the ratio is undefined")
    ours, rep = bootstrap.ratio(points, replicates, "num", "den")
    # runs per game behind the interval's spread; a 1-run reference adds no resampled noise
    ref_runs = [] if normaliser.reference is None else [normaliser.reference.shape[0]]
    least = min([m.shape[0] for m in raw.values()] + [n for n in ref_runs if n > 1])
    if interval == "expanded" and least < 2:
        return ClaimResult(**fail, note="the expanded interval needs 2 or more runs per game")
    lo, hi = bootstrap.interval(rep, 0.95, interval, runs=least, tasks=len(games))
    ci = (float(lo), float(hi))
    note = "" if np.isfinite(ci[0]) else (f"interval undefined: {metric.upper()}(denominator) "
                                          "<= 0 or no normalisation in a replicate")
    inside = None
    if claim.paper_ratio is not None and np.isfinite(ci[0]):
        inside = bool(ci[0] <= claim.paper_ratio <= ci[1])
    return ClaimResult(claim.id, verdict(claim.rule, ci, claim.margin), float(ours), ci,
                       claim.paper, scale, inside, note, tuple(games), min(runs),
                       sweep=str(df["sweep"].iloc[0]), training=steps.removesuffix(" · "))


ALTERNATIVES = ("mean of last 3 iterations", "mean instead of IQM",
                "expanded percentile interval", "without <game>")
"""The robustness alternatives, fixed before looking at which verdicts they change."""
LAST_ITERATIONS_ALTERNATIVE = 3


def evaluate_robust(claim: Claim, final_df: pd.DataFrame, final3_df: pd.DataFrame | None,
                    rng_seed: int = 0, reps: int = 50_000, plan: pd.DataFrame | None = None,
                    reference_df: pd.DataFrame | None = None,
                    reference3_df: pd.DataFrame | None = None) -> ClaimResult:
    """:func:`evaluate` (the verdict) plus every alternative of :data:`ALTERNATIVES`.

    ``final3_df`` (and ``reference3_df``) hold the same runs scored by the mean of their last
    :data:`LAST_ITERATIONS_ALTERNATIVE` iterations; None skips that alternative. Each
    evaluation draws from a fresh :func:`claim_rng`, so the primary equals `evaluate`'s.
    """
    def run(frame=final_df, ref=reference_df, **kw):
        return evaluate(claim, frame, claim_rng(claim.id, rng_seed), reps, plan,
                        reference_df=ref, **kw)

    primary = run()
    if primary.verdict == "not yet run" or primary.ci is None:
        return primary
    variants = []
    if final3_df is not None:
        variants.append((ALTERNATIVES[0], run(final3_df, reference3_df)))
    variants += [(ALTERNATIVES[1], run(metric="mean")),
                 (ALTERNATIVES[2], run(interval="expanded"))]
    if len(primary.games) > 1:
        variants += [(f"without {g}", run(drop_games=(g,))) for g in primary.games]
    alts = tuple(Alternative(name, r.verdict, r.ours, r.ci) for name, r in variants)
    return dataclasses.replace(primary, alternatives=alts)


def claim_rng(claim_id: str, seed: int = 0) -> np.random.Generator:
    """The bootstrap generator of one claim: the front page and the chapters share it, so the
    same runs give the same interval wherever the claim is evaluated."""
    return np.random.default_rng([seed, zlib.crc32(claim_id.encode())])


def evaluate_all(final_df: pd.DataFrame, rng_seed: int = 0, reps: int = 50_000,
                 claims=CLAIMS, final3_df: pd.DataFrame | None = None) -> list[ClaimResult]:
    """Every claim on every (suite, sweep, preset) group; one "not yet run" row if none fits.

    Each claim gets its own generator ``default_rng([rng_seed, crc32(claim.id)])``, so a result
    does not depend on which other claims or groups are evaluated. With ``final3_df`` (the same
    runs scored over their last 3 iterations) every verdict gets its robustness alternatives.
    Reference runs come from the whole frame, so a sweep can borrow another's
    (`prunebook.sweeps.registry.Description.reference_sweep`).
    """
    df = normalization.normalize_frame(final_df) if len(final_df) else final_df
    df3 = (normalization.normalize_frame(final3_df)
           if final3_df is not None and len(final3_df) else None)
    groups = [(k, g) for k, g in df.groupby(GROUP, sort=True)] if len(df) else []
    groups3 = dict(iter(df3.groupby(GROUP, sort=True))) if df3 is not None else {}
    results = []
    plans = {name: planned_runs(name) for name in df["sweep"].unique()} if len(df) else {}
    groups = [(k, with_comparators(df, g)) for k, g in groups]
    groups3 = {k: with_comparators(df3, g) for k, g in groups3.items()}
    for claim in claims:
        rows, waiting = [], []
        for key, group in groups:
            if not judged_on(claim, key[1]):
                continue
            res = evaluate_robust(claim, group, groups3.get(key), rng_seed, reps,
                                  plans.get(group["sweep"].iloc[0]), reference_df=df,
                                  reference3_df=df3)
            if res.verdict != "not yet run":
                rows.append(res)
            elif res.reason == "waiting":
                waiting.append(res)
        results += (rows + waiting) or [not_run_result(claim, "—", "no matching runs in results/",
                                                        "no_runs")]
    return results
