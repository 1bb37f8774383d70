"""Chapter 5: MinAtar at its standard budget, and the paper's §5 measures over training.

What this module adds to the chapter helpers (the protocol table, our `std` preset against
original MinAtar, is a Markdown table of the notebook): the §5 measures of every run as a long
frame (they live in the results records' iterations, see `prunebook.measures`), the Fig 11-style
figure of those measures, how each measure relates to the final score, and the chapter's claims
read part-way through training (at 500k agent steps, the `cpu` budget).
"""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from prunebook.analysis import plots, random_policy
from prunebook.analysis.styles import COLUMN_IN, FONT_PT, LINESTYLES, MEASURES, METHOD_STYLE
from prunebook.book.chapters.data import ChapterData

CLAIM_IDS = ("1-dqn", "1-dqn-pruned", "2-dqn")  # pre-registered in prunebook.analysis.claims
EARLY_ENV_STEPS = 500_000  # the `cpu` budget: the same claims read part-way

ANCHOR_CORRECTED = "2026-12-03"  # before it, std runs were anchored by the gymnax-default table

# Original MinAtar's DQN (Young & Tian 2019) after 5M frames, read off the learning-curve figure
# of its README (about ±0.5; 30 runs per curve): training returns at ε = 0.1, RMSProp, Huber
# loss, one update per frame, the conv 16 → dense 128 network. Seaquest's was measured before
# MinAtar 1.0.11 fixed its oxygen. For orientation only: no claim is judged against these.
MINATAR_README_DQN = {"Asterix": 17.0, "Breakout": 10.0, "Freeway": 50.0, "Seaquest": 20.0,
                      "SpaceInvaders": 44.0}


def anchor_table(games) -> pd.DataFrame:
    """The random policy's mean return per game in the `std` environment (the anchor since
    ANCHOR_CORRECTED) and in gymnax's defaults (the anchor before it, measured with each game's
    minimal action set and no sticky actions): the correction, old and new numbers."""
    new, old = random_policy.random_scores("std"), random_policy.random_scores("cpu")
    rows = [(g, old[g]["num_actions"], old[g]["mean"], new[g]["num_actions"], new[g]["mean"],
             new[g]["sem"]) for g in games]
    return pd.DataFrame(rows, columns=[
        "game", "actions (gymnax default)", f"random return, before {ANCHOR_CORRECTED}",
        "actions (std)", "random return, std (now)", "s.e.m. (std)"]).set_index("game").round(3)


def at_env_steps(data: ChapterData, env_steps: int) -> ChapterData:
    """The same runs cut after `env_steps` agent steps: their "final" score is the last
    iteration that ends there (runs shorter than that are unchanged)."""
    return dataclasses.replace(data, runs=data.runs[data.runs["env_steps"] <= env_steps])


def orientation_table(data: ChapterData) -> pd.DataFrame:
    """Our dense ×1 DQN's final training return per game (the mean over its finished seeds,
    and their range) beside original MinAtar's published DQN (`MINATAR_README_DQN`). Not a
    verdict: the protocols differ (the chapter's protocol table), and the published number is
    read off a plot."""
    columns = ["game", "seeds", "ours: final training return", "ours: range over seeds",
               "original MinAtar DQN (≈)", "ours / original"]
    final = data.final()
    dense = final[(final["agent"] == "dqn") & (final["width"] == 1) & (final["sparsity"] == 0)]
    rows = []
    for game, group in dense.groupby("game"):
        published = MINATAR_README_DQN.get(game)
        mean = group["score"].mean()
        rows.append([game, len(group), round(mean, 1),
                     f"{group['score'].min():.1f}–{group['score'].max():.1f}", published,
                     None if published is None else f"×{mean / published:.1f}"])
    return pd.DataFrame(rows, columns=columns).set_index("game")


# --- figures and tables ----------------------------------------------------------------------

def _config_label(width: int, sparsity: float) -> str:
    return f"×{width} " + ("dense" if sparsity == 0 else f"{sparsity:.0%} pruned")


def measures_scale(frame: pd.DataFrame, games, seeds) -> str:
    """The §5-measures figure's scale line: its games, seeds and how many runs it draws."""
    runs = frame["run_id"].nunique() if len(frame) else 0
    return (f"MinAtar {', '.join(games)}; {len(seeds)} seed{'s' * (len(seeds) > 1)}; "
            f"{runs} runs with measures")


def figure_measures(frame: pd.DataFrame, scale: str, title: str = "The §5 measures over "
                    "training (Fig 11 analogue)"):
    """Six panels, two per row, the book's column wide: each measure against agent steps, one
    line per (width, sparsity): the median over runs (games and seeds pooled), band =
    interquartile range. Colour is the method (dense, GMP: `styles.METHOD_STYLE`), line style
    the width."""
    if not len(frame):
        print("No figure yet: no run with the §5 measures has finished.")
        return None
    fig, axes = plt.subplots(3, 2, figsize=(COLUMN_IN, 9.0), squeeze=False)
    configs = sorted(frame[["width", "sparsity"]].drop_duplicates().itertuples(index=False))
    widths = sorted({w for w, _ in configs})
    styles = {c: {"color": METHOD_STYLE["dense" if c[1] == 0 else "GMP"]["color"],
                  "linestyle": LINESTYLES[widths.index(c[0]) % len(LINESTYLES)]}
              for c in configs}
    for ax, (name, (label, unit)) in zip(axes.flat, MEASURES.items(), strict=True):
        sub = frame[frame["measure"] == name]
        for config in configs:
            rows = sub[(sub["width"] == config[0]) & (sub["sparsity"] == config[1])]
            if not len(rows):
                continue
            q = rows.groupby("env_steps")["value"].quantile([0.25, 0.5, 0.75]).unstack()
            ax.plot(q.index, q[0.5], **styles[config], label=_config_label(*config))
            ax.fill_between(q.index, q[0.25], q[0.75], color=styles[config]["color"],
                            alpha=0.15, linewidth=0)
        ax.set_title(label, fontsize=FONT_PT)
        ax.set_ylabel(unit, fontsize=FONT_PT)
        plots.label_x(ax, "env_steps")
        ax.xaxis.label.set_fontsize(FONT_PT)
        ax.tick_params(labelsize=FONT_PT)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), frameon=False,
               fontsize=FONT_PT, bbox_to_anchor=(0.5, 0.955))
    fig.suptitle(title, fontsize=FONT_PT + 2)
    fig.text(0.5, 0.005, f"Median over runs, band: interquartile range. {scale}",
             ha="center", va="bottom", fontsize=FONT_PT, wrap=True)
    fig.subplots_adjust(hspace=0.6, wspace=0.4, left=0.1, right=0.98, top=0.88, bottom=0.1)
    return fig


def measures_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per measure (rows) and configuration (columns): the median over runs at the first
    logged iteration and at the last ("start → end")."""
    if not len(frame):
        return pd.DataFrame()
    first = frame.loc[frame.groupby(["run_id", "measure"])["env_steps"].idxmin()]
    last = frame.loc[frame.groupby(["run_id", "measure"])["env_steps"].idxmax()]
    table = {}
    for (width, sparsity), end in last.groupby(["width", "sparsity"]):
        start = first[(first["width"] == width) & (first["sparsity"] == sparsity)]
        table[_config_label(width, sparsity)] = {
            label: f"{start[start.measure == name].value.median():.3g} → "
                   f"{end[end.measure == name].value.median():.3g}"
            for name, (label, _) in MEASURES.items()}
    return pd.DataFrame(table).rename_axis("measure")


MIN_RUNS = 10  # fewer runs per game than this give no correlation: it would be noise


def measure_score_correlation(frame: pd.DataFrame, data: ChapterData) -> pd.DataFrame:
    """Does a measure at the end of training go with the final score? Within each game with at
    least :data:`MIN_RUNS` runs, the Spearman correlation over that game's runs (all
    configurations) between the measure's last value and the final score; then the mean over
    those games (scores and measures differ in scale between games, so runs are only ranked
    against runs of the same game). With too few runs the cell says so instead of a number."""
    columns = ["measure", "mean Spearman ρ", "games", "runs per game"]
    if not len(frame):
        return pd.DataFrame(columns=columns)
    final = data.final(sorted(set(frame["run_id"]))).set_index("run_id")["score"]
    last = frame.loc[frame.groupby(["run_id", "measure"])["env_steps"].idxmax()]
    rows = []
    for name, (label, _) in MEASURES.items():
        per_game, sizes, largest = [], [], 0
        for _, group in last[last["measure"] == name].groupby("game"):
            pairs = pd.DataFrame({"measure": group.set_index("run_id")["value"]})
            pairs["score"] = final.reindex(pairs.index)
            pairs = pairs.dropna()
            largest = max(largest, len(pairs))
            if len(pairs) >= MIN_RUNS and pairs.nunique().min() > 1:
                per_game.append(pairs.rank().corr().iloc[0, 1])
                sizes.append(len(pairs))
        rho = (f"{np.mean(per_game):+.2f}" if per_game else
               f"too few runs (n={largest} in the largest game; needs {MIN_RUNS})")
        rows.append({"measure": label, "mean Spearman ρ": rho, "games": len(per_game),
                     "runs per game": min(sizes) if sizes else largest})
    return pd.DataFrame(rows, columns=columns)
