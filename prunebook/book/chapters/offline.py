"""Chapter 4 (offline CQL and CQL+C51): which runs it shows (:func:`chapter_configs`, loaded
by `chapters.load("offline", preset, runs)` like every chapter's) and everything the notebook
shows, computed once by :func:`analyse` from the chapter's `ChapterData`: one function per table
and figure takes that analysis. Before any of the chapter's runs has finished the analysis is
None, and each table or figure is None too (the notebook's Markdown says what that means).

Scores are the online evaluation returns of offline runs; MinAtar normalisation measures them
against the behaviour policy (the DQN whose experience was logged), from the same sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from prunebook.analysis import claims, normalization, plots, stats
from prunebook.analysis.claims import CLAIMS
from prunebook.analysis.claims_table import format_row
from prunebook.book.chapters.data import ChapterData
from prunebook.config import OfflineConfig, logging_config
from prunebook.pruning import GMPSchedule
from prunebook.spec import AGENT_NAMES, BOOK_SEEDS
from prunebook.sweeps import store
from prunebook.sweeps.registry import offline_sweep

CLAIM_ITERATIONS = 1  # verdicts score a run by its last evaluation (the front page's rule)
SENSITIVITY_ITERATIONS = 3  # the sensitivity rows: mean of a run's last 3 evaluations
VERDICT_COLUMNS = ["claim", "paper", "ours", "ci95", "scale", "verdict"]


def chapter_configs(preset: str, agents: Sequence[str], games: Sequence[str],
                    widths: Sequence[int], sparsities: Sequence[float],
                    seed: int = 0) -> list[OfflineConfig]:
    """The runs the chapter shows: the `offline_cpu` sweep restricted to the parameters, or at
    "ci" one game (Breakout if chosen, where the tiny logging run clearly beats random play;
    else the first) and one seed (`seed`)."""
    if preset == "ci":
        games, seeds = ("Breakout",) if "Breakout" in games else tuple(games)[:1], (seed,)
    else:
        seeds = BOOK_SEEDS
    sweep = offline_sweep(preset, games=games, seeds=seeds, widths=widths,
                          sparsities=sparsities, agents=agents)
    return sweep.configs()


class OfflineAnalysis(NamedTuple):
    behaviour: Any  # per game: final training return of the DQN that logged the data
    curves: Any  # per (run, iteration): normalized evaluation return vs gradient_updates
    final: Any  # per run: `score` (mean of the last iterations) and `normalized`
    iqm: Any  # per (agent, width, sparsity): IQM of normalized final scores and its 95% CI
    claims: Any  # claim 4 rows, as the front page computes them (complete comparisons only)
    scale: str  # games, updates, seeds, preset, runs finished: the figures' caption
    results: tuple = ()  # the claim 4 `ClaimResult`s behind `claims`, for the summary
    sensitivity: Any = None  # the same rows with final = mean of `sensitivity_iterations`
    seed: int = 0  # of the figures' bootstrap (tables and verdicts fix theirs in `analyse`)
    reps: int = 2_000  # bootstrap replicates of the figures' bands and error bars
    last_iterations: int = 1  # evaluations averaged into a run's final score (tables, figures)


def analyse(data: ChapterData, seed: int = 0, last_iterations: int = 1, reps: int = 2_000,
            sensitivity_iterations: int = SENSITIVITY_ITERATIONS) -> OfflineAnalysis | None:
    """Everything chapter 4 shows, from the chapter's runs; None when none of them ran.

    Scores are the online evaluation returns (`train_return` of offline runs); a run's final
    score is their mean over its last `last_iterations` iterations. MinAtar normalisation: the
    behaviour DQN run recorded in the same sweep (`ensure_datasets`) is 1.0, random play 0.0.
    Figures use the runs present; a claim's verdict needs its whole comparison (both sides, every
    game and seed, and the behaviour runs), otherwise it is "not yet run". Verdicts always score
    a run by its last evaluation (`CLAIM_ITERATIONS`, the rule of the front page's table, fixed
    before the results) whatever `last_iterations` the figures use; `sensitivity` repeats them
    with the mean of the last `sensitivity_iterations` evaluations.
    """
    expected, runs = data.expected, data.runs  # the chapter's runs and their behaviour runs
    if not data.present:
        return None
    coverage = f"{len(data.present)} of {len(expected)} offline runs finished"
    final_all = store.final_scores(runs, last_iterations=last_iterations)
    normalized = normalization.normalize_frame(final_all)
    behaviour = normalized[normalized["agent"] == "dqn"][["game", "seed", "score"]].rename(
        columns={"seed": "dataset_seed", "score": "behaviour final return"})
    final = normalized[normalized["agent"] != "dqn"].reset_index(drop=True)
    per_iter = runs[runs["agent"] != "dqn"]
    curves = normalization.normalize_frame(per_iter.assign(score=per_iter["train_return"]),
                                           reference_df=final_all)
    curves["panel"] = [f"{AGENT_NAMES.get(a, a)} ×{w}"  # "CQL+C51 ×3"
                       for a, w in zip(curves["agent"], curves["width"], strict=True)]

    rng = np.random.default_rng(seed)
    rows = []
    for (agent, width, sparsity), group in final.groupby(["agent", "width", "sparsity"]):
        group = group[group["normalized"].notna()]
        if not len(group):
            continue
        matrix = normalization.score_matrix(group, "normalized")
        point, interval = stats.interval_estimates({"x": matrix}, "iqm", rng=rng, reps=reps)
        rows.append({"agent": agent, "width": width, "sparsity": sparsity,
                     "games": matrix.shape[1], "runs/game": matrix.shape[0],
                     "IQM": float(point["x"]), "ci_low": float(interval["x"][0]),
                     "ci_high": float(interval["x"][1])})
    iqm = pd.DataFrame(rows, columns=["agent", "width", "sparsity", "games", "runs/game", "IQM",
                                      "ci_low", "ci_high"])

    def verdicts_at(iterations: int) -> list:
        """Claim 4 rows with a run's final score = mean of its last `iterations` evaluations;
        generator and replicates as `claims.evaluate_all`, so at 1 they equal the front page."""
        scores = store.final_scores(runs, last_iterations=iterations)
        plan = claims.plan_of(expected)
        out = []
        for claim in (c for c in CLAIMS if c.id.startswith("4-")):
            sides = [(claim.numerator.agent, claim.numerator.width, s)
                     for s in (claim.numerator.sparsity, claim.denominator.sparsity)]
            needed = {c.run_id for c in expected if (c.agent, c.width, c.final_sparsity) in sides}
            if not needed:
                continue  # this comparison is outside the chosen parameters
            # complete or "not yet run" is the claims engine's call, against the chapter's runs
            out.append(claims.evaluate(claim, scores, claims.claim_rng(claim.id, seed),
                                       plan=plan))
        return out

    def as_table(rows):
        return pd.DataFrame([format_row(r) for r in rows], columns=VERDICT_COLUMNS)

    verdicts = verdicts_at(CLAIM_ITERATIONS)
    table = as_table(verdicts)
    sensitivity = as_table(verdicts_at(sensitivity_iterations))

    updates = int(per_iter["gradient_updates"].max())
    seeds = int(final.groupby(["agent", "width", "sparsity", "game"]).size().max())
    scale = (f"MinAtar {', '.join(sorted(final['game'].unique()))} · {updates:,} gradient "
             f"updates · {seeds} seed{'s' * (seeds > 1)} per game · preset "
             f"{', '.join(final['preset'].unique())}"
             f" · final = {final_rule(last_iterations)} · {coverage}")
    return OfflineAnalysis(behaviour.reset_index(drop=True), curves, final, iqm, table, scale,
                           tuple(verdicts), sensitivity, seed, reps, last_iterations)


def final_rule(last_iterations: int) -> str:
    return ("last evaluation" if last_iterations == 1
            else f"mean of last {last_iterations} evaluations")


# ---- what the notebook shows, in its order (None while no run has finished)


def offline_setting_table(data: ChapterData) -> pd.DataFrame:
    """Our offline setting next to the paper's (Table 3, dossier §2.2/§3.5/§5.2), per agent and
    setting. From the chapter's configs, so it is shown before any run has finished."""
    return setting_table(data.expected).set_index(["agent", "setting"])


def offline_behaviour_table(analysis: OfflineAnalysis | None) -> pd.DataFrame | None:
    """Per game: the final training return of the DQN run that logged the data (the 1.0 of
    the normalisation)."""
    return None if analysis is None else analysis.behaviour.round(3)


def figure_offline_curves(analysis: OfflineAnalysis | None, title: str = "Offline CQL and "
                          "CQL+C51: IQM of normalised evaluation return"):
    """Figure 8: IQM of the normalised evaluation return vs gradient updates, one panel per
    agent and width, one line per sparsity, 95% bootstrap bands."""
    if analysis is None:
        return None
    return plots.plot_learning_curves(
        analysis.curves, scale=analysis.scale, rng=np.random.default_rng(analysis.seed),
        reps=analysis.reps, x="gradient_updates", panel="panel", series="sparsity", title=title)


def offline_collapse_table(analysis: OfflineAnalysis | None) -> pd.DataFrame | None:
    """:func:`collapse_table` of the chapter's curves (peak, final, drop)."""
    return None if analysis is None else collapse_table(analysis.curves,
                                                        analysis.last_iterations).round(3)


def offline_iqm_table(analysis: OfflineAnalysis | None) -> pd.DataFrame | None:
    """IQM of the normalised final scores and its 95% CI, per agent, width and sparsity."""
    return None if analysis is None else analysis.iqm.round(3)


def figure_offline_iqm_vs_width(analysis: OfflineAnalysis | None,
                                title: str = "Offline: final IQM vs width"):
    """Final IQM vs width, one panel per agent, one line per sparsity, 95% error bars."""
    if analysis is None:
        return None
    return plots.plot_iqm_vs_width(
        analysis.final, scale=analysis.scale, rng=np.random.default_rng(analysis.seed),
        reps=analysis.reps, panel="agent", series="sparsity", title=title)


def offline_verdict_table(analysis: OfflineAnalysis | None) -> pd.DataFrame | None:
    """Claim 4's rows as the front page computes them (a run's last evaluation)."""
    return None if analysis is None else analysis.claims


def offline_sensitivity_table(analysis: OfflineAnalysis | None) -> pd.DataFrame | None:
    """The same rows with a run's final score = the mean of its last 3 evaluations."""
    return None if analysis is None else analysis.sensitivity


# ---- the frames behind them


def collapse_table(curves: pd.DataFrame, last_iterations: int = 1) -> pd.DataFrame:
    """Does an agent peak and then fall while it keeps training on the same data (the offline
    "performance collapse" the paper says pruning avoids)? Per (agent, width, sparsity): the IQM
    over all runs of the normalised evaluation return at each iteration; `peak` is its best
    iteration, `final` the mean of the last `last_iterations`, `drop` = peak - final."""
    rows = []
    for (agent, width, sparsity), group in curves.groupby(["agent", "width", "sparsity"]):
        by_update = group.groupby("gradient_updates")["normalized"]
        per_iteration = by_update.apply(lambda v: float(stats.iqm(v.to_numpy()[None, :])))
        final = float(per_iteration.iloc[-last_iterations:].mean())
        rows.append({"agent": agent, "width": width, "sparsity": sparsity,
                     "runs": group["run_id"].nunique(), "peak": float(per_iteration.max()),
                     "peak_update": int(per_iteration.idxmax()), "final": final,
                     "drop": float(per_iteration.max()) - final})
    return pd.DataFrame(rows, columns=["agent", "width", "sparsity", "runs", "peak",
                                       "peak_update", "final", "drop"])


def setting_table(configs: Sequence[OfflineConfig]) -> pd.DataFrame:
    """Our offline setting next to the paper's, one row per (agent, setting)."""
    rows = []
    for agent in sorted({c.agent for c in configs}):
        c = next(c for c in configs if c.agent == agent)
        log = logging_config(c.game, c.dataset, c.dataset_seed)
        schedule = GMPSchedule.from_run_length(0.95, c.total_updates, c.prune_start_frac,
                                               c.prune_end_frac, c.mask_update_every)
        paper_lr = "5e-5 / 3.125e-4" if agent == "cql" else "6.25e-5 / 1.5e-4"
        rows += [
            (agent, "data", f"{c.dataset_fraction:.0%} uniform sample of one logged DQN run "
             f"({log.num_env_steps:,} MinAtar transitions, {log.num_iterations} checkpoints)",
             "5% sample of the DQN Replay Dataset (50M Atari transitions per game)"),
            (agent, "games", ", ".join(sorted({x.game for x in configs})), "17 Atari games"),
            (agent, "network", f"MinAtar CNN, widths {sorted({x.width for x in configs})}",
             "Impala ResNet, widths 1, 3"),
            (agent, "gradient updates", f"{c.num_iterations} x {c.updates_per_iteration:,} = "
             f"{c.total_updates:,}", "200 x 62,500 = 12.5M"),
            (agent, "pruning (updates)", f"{schedule.start_update:,} -> {schedule.end_update:,}, "
             f"masks every {schedule.update_every:,}", "2.5M -> 10M (20% -> 80%, derived)"),
            (agent, "n-step / dueling / double DQN",
             f"{c.n_step} / {c.dueling} / {c.double_dqn}",
             "1 / False / False" if agent == "cql" else "3 / True / True"),
            (agent, "target sync (updates)", f"{c.target_update_period:,}",
             "not given by the paper (Dopamine's offline DQN: 2,000)" if agent == "cql" else "100"),
            (agent, "Adam lr / eps", f"{c.learning_rate:g} / {c.adam_eps:g}", paper_lr),
            (agent, "CQL weight, batch, gamma", f"{c.cql_alpha:g}, {c.batch_size}, {c.gamma:g}",
             "0.1, 32, 0.99"),
            (agent, "evaluation per iteration",
             f"{c.eval_episodes} episodes, epsilon {c.epsilon_eval:g}",
             "125,000 steps, epsilon 0.001"),
        ]
    return pd.DataFrame(rows, columns=["agent", "setting", "ours", "paper"])
