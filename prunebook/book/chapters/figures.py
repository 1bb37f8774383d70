"""The chapter's figures: IQM vs width (Fig 1 style), IQM learning curves with the pruning
window shaded (Fig 3 style) and raw scores per game. `prunebook.analysis.plots` draws; this module
chooses the data: only the balanced runs, titled "preliminary" while seeds are missing, and no
figure at all (None, with a printed reason) while there is nothing to draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prunebook.analysis import plots
from prunebook.analysis.claims import CLAIMS_BY_ID
from prunebook.analysis.styles import FONT_PT
from prunebook.book.chapters.data import ChapterData
from prunebook.book.chapters.describe import scale_description
from prunebook.config import RunConfig
from prunebook.pruning import GMPSchedule

FIGURE_REPS = 2_000


def _preliminary(data: ChapterData) -> str:
    n, total = len(data.balanced_seeds), len(data.selection.seeds)
    return "" if n == total else f" — preliminary: {n} of {total} seeds"


def _normalisable(final: pd.DataFrame) -> pd.DataFrame:
    return final[final["normalized"].notna()] if len(final) else final


def figure_iqm_vs_width(data: ChapterData, seed: int = 0, reps: int = FIGURE_REPS,
                        title: str = "IQM of normalised final scores vs width"):
    """Fig 1 style (IQM vs width, 95% CIs), or None with a printed reason."""
    final = _normalisable(data.balanced_final())
    if not len(final):
        print("No figure yet: no balanced, normalisable runs.")
        return None
    final = final[final["agent"].isin(data.selection.agents)]
    return plots.plot_iqm_vs_width(final, scale=scale_description(final),
                                   rng=np.random.default_rng([seed, 1]), reps=reps,
                                   title=title + _preliminary(data),
                                   reference_df=data.balanced_final())


def figure_per_game(data: ChapterData, agent: str | None = None, x: str = "width",
                    series: str = "sparsity", curves: bool = False, width: int | None = None,
                    title: str = "Raw final score per game (mean ± std over seeds)"):
    """Per-game panels of raw scores (final scores vs width, or learning curves)."""

    if curves:
        df = data.runs[data.runs["run_id"].isin(data.balanced_ids())]
        df = df.assign(score=df["train_return"])
    else:
        df = data.final(data.balanced_ids())
    if agent is not None and len(df):
        df = df[df["agent"] == agent]
    if width is not None and len(df):
        df = df[df["width"] == width]
    if not len(df):
        print("No figure yet: no balanced runs.")
        return None
    scale = scale_description(data.final(data.balanced_ids()))
    fig = plots.plot_per_game(df, scale=scale, x=x, value="score", series=series,
                              title=title + _preliminary(data))
    if x == "width":
        for ax in fig.axes:
            ax.set_xticks(sorted(df["width"].unique()))
    return fig


def figure_learning_curves(data: ChapterData, width: int, seed: int = 0, reps: int = FIGURE_REPS,
                           title: str = "IQM learning curves"):
    """Fig 3 style: IQM of normalised training returns per iteration, 95% CI bands."""

    curves = data.balanced_curves()
    if len(curves):
        curves = curves[(curves["width"] == width) & curves["normalized"].notna()]
    if not len(curves):
        print("No figure yet: no balanced, normalisable runs.")
        return None
    final = data.balanced_final()
    fig = plots.plot_learning_curves(curves, scale=scale_description(final[
        final["width"] == width]), rng=np.random.default_rng([seed, 3]), reps=reps,
        series="sparsity", title=title + _preliminary(data), reference_df=final)
    config = RunConfig.from_dict(next(iter(data.configs.values())))
    start, end = pruning_window(config)
    for ax in fig.axes:
        ax.axvspan(start, end, color="0.5", alpha=0.1, linewidth=0, zorder=0)
        ax.text((start + end) / 2, 0.02, "pruning", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=FONT_PT, color="0.35")
    return fig


def pruning_window(config: RunConfig) -> tuple[int, int]:
    """Agent steps at which a run's GMP schedule starts and ends (updates start after the
    `min_replay_history` warm-up, then one every `update_period` agent steps)."""
    s = GMPSchedule.from_run_length(0.95, config.total_updates, config.prune_start_frac,
                                    config.prune_end_frac, config.mask_update_every)
    steps = config.min_replay_history, config.update_period
    return (steps[0] + s.start_update * steps[1], steps[0] + s.end_update * steps[1])


def figure_robustness(res, title: str = "Each verdict under the robustness alternatives"):
    """One panel per judged claim (one per row, so its text is readable at the column's
    width): the rule's ratio and 95% CI, then the same comparison under each alternative; open
    markers change the verdict. None if no claim has a verdict yet."""

    judged = [r for r in res if r.alternatives]
    if not judged:
        print("No figure yet: no verdict to check.")
        return None
    panels = {}
    for r in judged:
        claim = CLAIMS_BY_ID.get(r.claim_id)
        rule = {"label": "the rule", "point": r.ours, "ci": r.ci,
                "verdict": r.verdict}
        if claim is not None and claim.paper_ratio is not None:
            rule["paper"] = claim.paper_ratio
        rows = [rule] + [{"label": a.name, "point": a.ours, "ci": a.ci, "verdict": a.verdict,
                          "fragile": a.verdict != r.verdict} for a in r.alternatives]
        if claim is not None and claim.margin is not None:
            for row in rows:
                row["margin"] = claim.margin
        panels[f"{r.claim_id}: {r.verdict}" + (" (fragile)" if r.fragile else "")] = rows
    first = judged[0]
    scale = (f"{first.sweep}: MinAtar {', '.join(first.games)}; {first.training}; "
             f"{first.runs_per_game} seeds per configuration and game. Open marker: the "
             "alternative changes the verdict; diamond: the paper's value.")
    return plots.plot_interval_rows(panels, scale=scale, title=title,
                                    columns=1, width=6.8, fontsize=10,
                                    xlabel="ratio (log scale)", open_label="changes it")
