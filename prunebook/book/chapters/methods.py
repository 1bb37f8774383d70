"""Chapters 6 and 7: one sweep of other methods (controls, baselines) beside the paper's runs.

`controls_cpu` (chapter 6) and `baselines_cpu` (chapter 7) are compared with `online_cpu`'s
dense and GMP DQN runs, which lend them their comparators and their normalisation reference
(their descriptions in `sweeps.registry`). The chapter's :class:`ChapterData` (`chapters.load`)
holds the sweep's own records and the lent ones; :func:`scores` gives them as the claims engine
sees them: the lent runs relabelled as the sweep's (marked ``borrowed_from``), plus the
unrelabelled frame the reference is read from. Preset ``ci`` trains the small `*_ci` sweep
(comparators included) in a temporary folder.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from prunebook.analysis import bootstrap, claims, normalization, plots
from prunebook.analysis.claim_rules import ClaimResult
from prunebook.analysis.styles import FONT_PT, MEASURES
from prunebook.book.chapters.data import ChapterData, once
from prunebook.book.chapters.describe import scale_description
from prunebook.book.chapters.records import rerun_table
from prunebook.config import config_from_dict
from prunebook.envs.minatar import from_config
from prunebook.networks import make_network
from prunebook.sweeps import store

KINDS = {"": None, "static_random": "static random", "lottery": "lottery ticket",
         "weight_decay": "weight decay", "l2": "L2", "reset": "Reset", "redo": "ReDo"}
FIGURE_REPS = 2_000


class Scores(NamedTuple):
    """A methods chapter's per-run frames, as the claims engine sees them."""

    final: pd.DataFrame  # per run: final score, `normalized`, `kept_weights`, `label`
    final3: pd.DataFrame  # the same scored over the last 3 iterations (robustness)
    reference: pd.DataFrame  # per-run final scores as stored (the lender's under its name)


def label(method: str, width: int, sparsity: float) -> str:
    """"GMP 95%", "dense", "static random 95%", "dense + ReDo" ... (without the width)."""
    base = "dense" if sparsity == 0 else f"GMP {sparsity:.0%}"
    if method in ("static_random", "lottery"):
        return f"{KINDS[method]} {sparsity:.0%}"
    return base if not method else f"{base} + {KINDS[method]}"


def _labels(frame: pd.DataFrame) -> list[str]:
    return [label(m, w, float(s)) for m, w, s in
            zip(frame["method"], frame["width"], frame["sparsity"], strict=True)]


def _kernel_weights(config: dict) -> int:
    """Prunable (kernel) weights of a run's network: what its sparsity is a fraction of."""
    env = from_config(config_from_dict(config))
    net = make_network("minatar", env.num_actions, width=config["width"],
                       scale_dense=config.get("scale_dense", False))
    shapes = jax.eval_shape(net.init, jax.random.key(0),
                            jnp.zeros((1, *env.observation_shape), jnp.float32))
    return sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes) if len(s.shape) > 1)


def _origin(final: pd.DataFrame) -> pd.Series:
    """The sweep each row's results file is in (a lent row's lender)."""
    if "borrowed_from" not in final.columns:
        return final["sweep"]
    return final["borrowed_from"].where(final["borrowed_from"].notna(), final["sweep"])


def _finals(runs: pd.DataFrame, last_iterations: int) -> pd.DataFrame:
    if not len(runs):
        return pd.DataFrame(columns=[*store.RUN_COLUMNS, "score"])
    final = store.final_scores(runs, last_iterations=last_iterations)
    return final.join(runs.groupby(["sweep", "run_id"])["env_steps"].max(),
                      on=["sweep", "run_id"])


def _group(data: ChapterData, final: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The sweep's own runs plus the lent ones it has not rerun, normalised."""
    own = final[final["sweep"] == data.sweep]
    group = claims.with_comparators(final, own) if len(own) else own
    if data.lender and not len(own):  # nothing of our own yet: the lent runs alone
        group = final[final["sweep"] == data.lender].assign(sweep=data.sweep,
                                                             borrowed_from=data.lender)
    if not len(group):
        return group.assign(normalized=pd.Series(dtype=float))
    # the group's own (sweep, preset) must be among the reference frame's keys, so that its
    # lender's reference runs are looked up even before the sweep has runs of its own
    return normalization.normalize_frame(
        group, reference_df=pd.concat([reference, group], ignore_index=True))


def _with_kept_weights(data: ChapterData, final: pd.DataFrame) -> pd.DataFrame:
    if not len(final):
        return final
    by_file = {(r["sweep"], r["run_id"]): r for r in (*data.records, *data.lent)}
    sizes: dict[tuple, int] = {}
    weights = []
    for origin, row in zip(_origin(final), final.itertuples(index=False), strict=True):
        record = by_file[origin, row.run_id]
        if (row.game, row.width) not in sizes:
            sizes[row.game, row.width] = _kernel_weights(record["config"])
        measured = record["iterations"][-1].get("sparsity") or 0.0
        weights.append(sizes[row.game, row.width] * (1.0 - float(measured)))
    return final.assign(kept_weights=weights, label=_labels(final))


def _scores(data: ChapterData) -> Scores:
    reference = _finals(data.runs, 1)
    final = _with_kept_weights(data, _group(data, reference, reference))
    return Scores(final, _group(data, _finals(data.runs, 3), reference), reference)


def scores(data: ChapterData) -> Scores:
    """The chapter's per-run frames (computed once per container)."""
    return once(data, _scores)


def labelled_runs(data: ChapterData) -> pd.DataFrame:
    """Per (run, iteration): the sweep's own runs and the lent ones it has not rerun,
    relabelled as the sweep's (`borrowed_from`), with their method `label`."""
    runs = data.runs
    own = runs[runs["sweep"] == data.sweep]
    lent = runs[runs["sweep"] == data.lender].assign(sweep=data.sweep,
                                                     borrowed_from=data.lender) \
        if data.lender else runs.iloc[:0]
    runs = pd.concat([own, lent[~lent["run_id"].isin(own["run_id"])]], ignore_index=True)
    return runs.assign(label=_labels(runs))


def reruns(data: ChapterData) -> pd.DataFrame:
    """The sweep's reruns of lent runs against the lender's records (`records.rerun_table`)."""
    return rerun_table([*data.records, *data.lent], data.sweep, data.lender)


def lent_summary(data: ChapterData) -> dict[str, str]:
    """What chapters 6 and 7 know before their comparisons are complete, as values for the
    result box: the comparator runs lent, and how many reruns of them are bit-identical."""
    final = scores(data).final
    lent = (int(final["borrowed_from"].notna().sum())
            if "borrowed_from" in final.columns else 0)
    out = {f"comparator runs lent by `{data.lender}`": str(lent)}
    table = reruns(data)
    if len(table):
        same = int(table["bit-identical"].sum())
        out["reruns bit-identical to the lender's record"] = (
            f"{same} of {len(table)}")
    return out


def claim_results(data: ChapterData, seed: int = 0, reps: int = 50_000) -> list[ClaimResult]:
    """The chapter's pre-registered claims (those judged on its sweep), with robustness."""
    chosen = [c for c in claims.CLAIMS if claims.judged_on(c, data.sweep) and c.sweeps]
    plan = claims.planned_runs(data.sweep)
    final, final3, reference = scores(data)
    out = []
    for claim in chosen:
        if not len(final):
            out.append(claims.not_run_result(claim, "—", "no runs of this sweep yet", "no_runs"))
            continue
        out.append(claims.evaluate_robust(claim, final, final3, seed, reps, plan,
                                          reference_df=reference, reference3_df=reference))
    return out


def iqm_by_config(data: ChapterData, seed: int = 0, reps: int = FIGURE_REPS) -> pd.DataFrame:
    """IQM of normalised final scores, 95% CI (reference resampled inside) and mean kept
    weights (to the nearest weight) per configuration, over every game the runs cover. A
    configuration that has not reached every game yet gets a row without a score (`games` says
    how many it has): scoring it, or every configuration, on fewer games would put numbers from
    different games on one axis."""
    final = scores(data).final
    final = final[final["normalized"].notna()] if len(final) else final
    columns = ["label", "method", "width", "sparsity", "kept_weights", "IQM", "lo", "hi",
               "runs per game", "games"]
    if not len(final):
        return pd.DataFrame(columns=columns)
    keys = ["method", "width", "sparsity"]
    games = sorted(set(final["game"]))
    rows = []
    for i, (key, sub) in enumerate(final.groupby(keys)):
        row = {"label": sub["label"].iloc[0], "method": key[0], "width": key[1],
               "sparsity": key[2], "kept_weights": round(float(sub["kept_weights"].mean())),
               "IQM": np.nan, "lo": np.nan, "hi": np.nan,
               "runs per game": int(sub.groupby("game").size().min()),
               "games": sub["game"].nunique()}
        if row["games"] == len(games):
            raw, norm, _ = normalization.comparison({0: sub}, scores(data).reference, games)
            point, samples = bootstrap.normalised_replicates(
                raw, norm, rng=np.random.default_rng([seed, i]), reps=reps)
            lo, hi = bootstrap.interval(samples[0])
            row.update({"IQM": float(point[0]), "lo": float(lo), "hi": float(hi),
                        "runs per game": raw[0].shape[0]})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def figure_kept_weights(data: ChapterData, seed: int = 0, reps: int = FIGURE_REPS):
    """Score against kept weights, one marker style per kind (dense, GMP, static, lottery)."""
    table = iqm_by_config(data, seed, reps).dropna(subset=["IQM"])
    if not len(table):
        print("No figure yet: no configuration has finished runs on every game.")
        return None
    kind = np.where(table["method"] != "", table["method"].map(KINDS),
                    np.where(table["sparsity"] == 0, "dense", "GMP"))
    return plots.plot_iqm_vs_kept(table.assign(kind=kind),
                                  scale=scale_description(scores(data).final))


def measures_table(data: ChapterData) -> pd.DataFrame:
    """Mean of each §5 measure over runs in the first and last logged iteration, per config."""
    rows = data.measures
    if not len(rows):
        return pd.DataFrame(columns=["configuration", "measure", "first iteration",
                                     "last iteration", "runs"])
    rows = rows[rows["measure"].isin(MEASURES)]
    rows = rows.assign(measure=[MEASURES[name][0] for name in rows["measure"]])
    first = rows["env_steps"] == rows.groupby("run_id")["env_steps"].transform("min")
    last = rows["env_steps"] == rows.groupby("run_id")["env_steps"].transform("max")
    rows = rows.assign(configuration=[f"{label(m, w, s)} ×{w}" for m, w, s in zip(
        rows["method"], rows["width"], rows["sparsity"], strict=True)])
    keys = ["configuration", "measure"]
    out = pd.DataFrame({"first iteration": rows[first].groupby(keys)["value"].mean(),
                        "last iteration": rows[last].groupby(keys)["value"].mean(),
                        "runs": rows[last].groupby(keys)["run_id"].nunique()})
    return out.round(3)


def _with_lender_reference(data: ChapterData) -> pd.DataFrame:
    """The chapter's per-run frame plus the lender's runs under its own name (where the
    normalisation reference is read from)."""
    final, _, reference = scores(data)
    return pd.concat([final, reference[reference["sweep"] != data.sweep]], ignore_index=True)


def _curves(data: ChapterData, width: int) -> pd.DataFrame:
    """Normalised training returns per iteration of every normalisable run at `width`."""
    final = scores(data).final
    runs = labelled_runs(data)
    runs = runs[runs["width"] == width] if len(runs) else runs
    if len(runs):
        runs = runs[runs["run_id"].isin(set(final.loc[final["normalized"].notna(), "run_id"]))]
    if not len(runs):
        return runs
    return normalization.normalize_frame(runs.assign(score=runs["train_return"]),
                                         reference_df=_with_lender_reference(data))


def figure_fig12(data: ChapterData, width: int = 3, seed: int = 0, reps: int = FIGURE_REPS,
                 curve_reps: int = 500):
    """Fig 12 analogue in one figure, as the paper lays it out: left, IQM learning curves of
    every method at ×`width` (95% bands); right, final IQM against width, one line per method
    (95% CIs). One legend for both panels. None, with a printed reason, before any
    normalisable run."""
    final = scores(data).final
    final = final[final["normalized"].notna()] if len(final) else final
    if not len(final):
        print("No figure yet: no normalisable runs.")
        return None
    reference = _with_lender_reference(data)
    height = 4.8  # two panels, a legend of up to six methods in two rows, the caption
    fig, axes = plots.figure_panels(2, scale_description(final),
                                    "Fig 12 analogue: GMP against the baselines")
    fig.set_figheight(height)
    curves = _curves(data, width)
    if len(curves):
        plots.plot_learning_curves(curves, scale="", rng=np.random.default_rng([seed, 8]),
                                   reps=curve_reps, series=("label",), reference_df=reference,
                                   axes=axes[:1])
    else:
        axes[0].text(0.5, 0.5, f"no normalisable runs at ×{width} yet", ha="center",
                     transform=axes[0].transAxes, fontsize=FONT_PT)
    plots.plot_iqm_vs_width(final, scale="", rng=np.random.default_rng([seed, 7]), reps=reps,
                            series="label", reference_df=reference, axes=axes[1:])
    for ax, name in zip(axes, (f"learning curves, DQN ×{width}", "final score vs width"),
                        strict=True):  # keep the "(n games)" each panel was computed on
        games = ax.get_title().rpartition(" (")[2]
        ax.set_title(f"{name} ({games}" if games else name, fontsize=FONT_PT + 1)
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, frameon=False, fontsize=FONT_PT,
               bbox_to_anchor=(0.5, 1 - 0.4 / height))
    fig.subplots_adjust(top=1 - 1.2 / height, bottom=0.8 / height + 0.06)
    return fig
