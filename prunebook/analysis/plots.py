"""Figures in the paper's styles (Fig 1 width scaling, Fig 3 learning curves, per-game panels,
performance profiles). Matplotlib only; the Okabe-Ito colour-blind-safe palette; every figure
carries a caption saying the scale its data come from (games, steps, seeds, preset), because our
runs are far smaller than the paper's. No function calls ``plt.show``; each returns the Figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from prunebook.analysis import bootstrap, normalization, stats
from prunebook.extras import missing_extra

try:
    import matplotlib.pyplot as plt
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error
try:
    import pandas as pd
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error

# Okabe & Ito (2008); black first so that "dense" is black in the usual series order.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
             "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _color(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def series_label(key) -> str:
    """'dense' / 'pruned 95%' for a sparsity; joined labels for (width, sparsity) tuples."""
    if isinstance(key, tuple):
        return " ".join(series_label(k) for k in key)
    if isinstance(key, float | np.floating):
        return "dense" if key == 0 else f"pruned {key:.0%}"
    if isinstance(key, int | np.integer):
        return f"w{key}"
    return str(key)


def _figure(n_panels: int, scale: str, title: str | None, width: float = 4.2):
    cols = min(n_panels, 4)
    rows = int(np.ceil(n_panels / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 3.4 * rows + 0.6), squeeze=False)
    for ax in axes.flat[n_panels:]:
        fig.delaxes(ax)
    if title:
        fig.suptitle(title)
    fig.text(0.5, 0.01, f"Scale: {scale}", ha="center", va="bottom", fontsize=8, wrap=True)
    fig.subplots_adjust(bottom=0.22 if rows == 1 else 0.12, top=0.84 if rows == 1 else 0.92,
                        wspace=0.3, hspace=0.45)
    return fig, list(axes.flat[:n_panels])


def _series_key(df: pd.DataFrame, series) -> pd.Series:
    cols = [series] if isinstance(series, str) else list(series)
    if len(cols) == 1:
        return df[cols[0]]
    return pd.Series(list(zip(*(df[c] for c in cols), strict=True)), index=df.index)


def plot_iqm_vs_width(
    final_df: pd.DataFrame, *, scale: str, rng: np.random.Generator, reps: int = 2_000,
    value: str = "normalized", panel: str = "agent", series: str = "sparsity",
    title: str | None = "IQM of final scores vs width", reference_df: pd.DataFrame | None = None,
) -> plt.Figure:
    """Fig 1 style: IQM with 95% stratified-bootstrap error bars vs width, one line per series.

    One panel per ``panel`` value; within a panel only games present in every (series, width)
    cell are used, so all points aggregate the same game set. With ``reference_df`` (per-run
    final scores holding the MinAtar reference runs) the intervals come from the raw ``score``
    with the reference resampled inside (:func:`prunebook.analysis.normalization.comparison`).
    """
    panels = sorted(final_df[panel].unique())
    fig, axes = _figure(len(panels), scale, title)
    for ax, name in zip(axes, panels, strict=True):
        sub = final_df[(final_df[panel] == name) & final_df[value].notna()]
        cells = sub.groupby([series, "width"])["game"].apply(set)
        games = sorted(set.intersection(*cells)) if len(cells) else []
        for i, key in enumerate(sorted(sub[series].unique())):
            rows = sub[sub[series] == key]
            widths = sorted(rows["width"].unique())
            if reference_df is None:
                mats = {w: normalization.score_matrix(rows[rows["width"] == w], value, games)
                        for w in widths}
                point, ci = stats.interval_estimates(mats, "iqm", rng=rng, reps=reps)
            else:
                raw, norm, _ = normalization.comparison(
                    {w: rows[rows["width"] == w] for w in widths}, reference_df, games)
                point, samples = bootstrap.normalised_replicates(raw, norm, rng=rng, reps=reps)
                ci = {w: bootstrap.interval(samples[w]) for w in widths}
            y = np.array([point[w] for w in widths])
            err = np.array([[y[j] - ci[w][0], ci[w][1] - y[j]] for j, w in enumerate(widths)]).T
            ax.errorbar(widths, y, yerr=err, color=_color(i), marker=MARKERS[i % len(MARKERS)],
                        capsize=3, label=series_label(key))
        ax.set(title=f"{name} ({len(games)} games)", xlabel="width scale",
               ylabel=f"IQM {value} score")
        ax.set_xticks(sorted(sub["width"].unique()))
        ax.legend(fontsize=8)
    return fig


def plot_learning_curves(
    runs_df: pd.DataFrame, *, scale: str, rng: np.random.Generator, reps: int = 500,
    value: str = "normalized", x: str = "env_steps", panel: str = "agent",
    series=("width", "sparsity"), title: str | None = "IQM learning curves",
    reference_df: pd.DataFrame | None = None,
) -> plt.Figure:
    """Fig 3 style: IQM per iteration with 95% CI bands, one line per series, panel per agent.

    ``runs_df`` has one row per (run, iteration) and a ``value`` column (normalise per-iteration
    returns with ``normalize_frame(df.assign(score=df.train_return), reference_df=final)``).
    With ``reference_df`` (the runs' per-run final scores, holding the MinAtar reference runs),
    the bands come from the raw ``score`` with the reference resampled inside each replicate.
    """
    panels = sorted(runs_df[panel].unique())
    fig, axes = _figure(len(panels), scale, title)
    for ax, name in zip(axes, panels, strict=True):
        sub = runs_df[runs_df[panel] == name]
        keys = _series_key(sub, series)
        games = sorted(set.intersection(*(set(sub.loc[keys == k, "game"]) for k in keys.unique())))
        for i, key in enumerate(sorted(keys.unique())):
            arr, xs = normalization.curve_array(sub[keys == key], value, games, x)
            if arr.shape[-1] == 0:
                continue
            if reference_df is None:
                point, ci = stats.learning_curve_estimates({key: arr}, rng=rng, reps=reps)
            else:
                point, ci = _curve_estimates(sub[keys == key], key, games, x, reference_df,
                                             rng, reps)
            ax.plot(xs, point[key], color=_color(i), label=series_label(key))
            ax.fill_between(xs, ci[key][0], ci[key][1], color=_color(i), alpha=0.2, linewidth=0)
        ax.set(title=f"{name} ({len(games)} games)", xlabel=x.replace("_", " "),
               ylabel=f"IQM {value} score")
        ax.legend(fontsize=8)
    return fig


def _curve_estimates(rows, key, games, x, reference_df, rng, reps):
    """IQM curve of one series and its band, reference resampled inside (raw ``score``)."""
    raw, xs = normalization.curve_array(rows, "score", games, x)
    final = reference_df[reference_df["run_id"].isin(set(rows["run_id"]))
                         & reference_df["sweep"].isin(set(rows["sweep"]))]
    _, norm, _ = normalization.comparison({key: final}, reference_df, games)
    if norm.shared is not None:  # the series is the reference: its own final scores
        norm = dataclasses.replace(norm, reference=normalization.score_matrix(
            final, "score", games))
    point, samples = bootstrap.normalised_curve_replicates({key: raw}, norm, rng=rng, reps=reps)
    return point, {key: bootstrap.interval(samples[key].T)}


def plot_per_game(
    df: pd.DataFrame, *, scale: str, x: str = "width", value: str = "score",
    series: str = "sparsity", err: str = "std", title: str | None = "Raw score per game",
) -> plt.Figure:
    """One panel per game: raw mean ± (std | 95% normal CI of the mean) vs width or iteration.

    ``err="std"`` shows run-to-run spread; ``err="ci"`` shows ``1.96 * std / sqrt(runs)``.
    """
    if err not in ("std", "ci"):
        raise ValueError("err must be 'std' or 'ci'")
    games = sorted(df["game"].unique())
    fig, axes = _figure(len(games), scale, title, width=3.6)
    keys = sorted(df[series].unique())
    for ax, game in zip(axes, games, strict=True):
        sub = df[df["game"] == game]
        for i, key in enumerate(keys):
            g = sub[sub[series] == key].groupby(x)[value].agg(["mean", "std", "count"])
            if g.empty:
                continue
            spread = g["std"].fillna(0.0)
            if err == "ci":
                spread = 1.96 * spread / np.sqrt(g["count"])
            xs = g.index.to_numpy()
            ax.plot(xs, g["mean"], color=_color(i), marker=MARKERS[i % len(MARKERS)],
                    label=series_label(key))
            ax.fill_between(xs, g["mean"] - spread, g["mean"] + spread, color=_color(i),
                            alpha=0.2, linewidth=0)
        ax.set(title=game, xlabel=x.replace("_", " "), ylabel=value.replace("_", " "))
        ax.legend(fontsize=7)
    return fig


def plot_performance_profiles(
    scores_by_config: Mapping[str, np.ndarray], taus, *, scale: str,
    rng: np.random.Generator, reps: int = 2_000, xlabel: str = "normalized score (τ)",
    title: str | None = "Performance profiles",
) -> plt.Figure:
    """Fraction of runs scoring above τ, with 95% stratified-bootstrap bands (rliable style)."""
    taus = np.asarray(taus, dtype=float)
    profiles, cis = stats.performance_profiles(scores_by_config, taus, rng=rng, reps=reps)
    fig, (ax,) = _figure(1, scale, title, width=5.5)
    for i, (name, prof) in enumerate(profiles.items()):
        ax.plot(taus, prof, color=_color(i), label=str(name))
        ax.fill_between(taus, cis[name][0], cis[name][1], color=_color(i), alpha=0.2,
                        linewidth=0)
    ax.set(xlabel=xlabel, ylabel="fraction of runs with score > τ", ylim=(0, 1.02))
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- interval rows
VERDICT_COLORS = {"reproduced": OKABE_ITO[3], "contradicted": OKABE_ITO[5],
                  "inconclusive": "0.45", "not yet run": "0.75"}


def plot_interval_rows(
    panels: Mapping[str, Sequence[Mapping]], *, scale: str, title: str | None,
    xlabel: str = "ratio (log scale; 1 = no difference)", columns: int = 1,
    row_height: float = 0.32, width: float = 7.0, open_label: str = "fragile",
) -> plt.Figure:
    """Forest plot: per panel, one row per interval (point and 95% CI), a line at 1.

    A row is a mapping with ``label``, ``point``, ``ci`` ((lo, hi) or None), ``verdict``;
    optional ``paper`` (a value drawn as a diamond; None writes ``paper_text``, default
    "direction only"),
    ``margin`` (a dashed tick, e.g. a non-inferiority margin) and ``fragile`` (an open
    marker and ``open_label`` after the label). At most ``columns`` (<= 2) panels per row.
    """
    if not 1 <= columns <= 2:
        raise ValueError("columns must be 1 or 2 (at most two panels per row)")
    names = list(panels)
    if not names:
        raise ValueError("plot_interval_rows: no panels")
    per_row = [max(len(panels[n]) for n in names[i:i + columns])
               for i in range(0, len(names), columns)]
    heights = [row_height * n + 0.25 for n in per_row]  # inches of plotting area
    gaps, top, bottom = 0.75, 0.85, 1.05  # between panels (title, x label); legend; caption
    total = sum(heights) + gaps * (len(per_row) - 1) + top + bottom
    fig = plt.figure(figsize=(width * columns if columns > 1 else width, total))
    grid = fig.add_gridspec(len(per_row), columns, height_ratios=heights,
                            hspace=gaps / np.mean(heights), wspace=1.0,
                            left=0.22 if columns == 1 else 0.2, right=0.84 if columns == 1
                            else 0.97,
                            top=1 - top / total, bottom=bottom / total)
    values = [v for rows in panels.values() for r in rows
              for v in ([r["point"]] + list(r["ci"] or []) + [r.get("paper")])
              if v is not None and np.isfinite(v) and v > 0]
    lo, hi = (min(values + [0.8]) / 1.25, max(values + [1.25]) * 1.25)
    for i, name in enumerate(names):
        ax = fig.add_subplot(grid[i // columns, i % columns])
        rows = list(panels[name])
        ys = np.arange(len(rows))[::-1]
        ax.axvline(1.0, color="0.2", linewidth=0.8, zorder=0)
        for y, row in zip(ys, rows, strict=True):
            color = VERDICT_COLORS.get(row["verdict"], "0.45")
            ci = row.get("ci")
            if ci is not None and np.all(np.isfinite(ci)):
                ax.plot(ci, [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
            if row.get("point") is not None and np.isfinite(row["point"]):
                ax.plot(row["point"], y, "o", color=color, markersize=6,
                        markerfacecolor="white" if row.get("fragile") else color)
            if "paper" in row:
                if row["paper"] is None:
                    ax.annotate(row.get("paper_text", "direction only"), (1.0, y),
                                xycoords=("axes fraction", "data"),
                                xytext=(4, 0), textcoords="offset points", va="center",
                                fontsize=7, color="0.35", annotation_clip=False)
                else:
                    ax.plot(row["paper"], y, "D", color="black", markersize=5,
                            markerfacecolor="none")
            if row.get("margin") is not None:
                ax.plot([row["margin"]] * 2, [y - 0.35, y + 0.35], "--", color="0.3",
                        linewidth=1)
        ax.set_yticks(ys, [r["label"] + (f"  ({open_label})" if r.get("fragile") else "")
                           for r in rows], fontsize=8)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0) if lo <= t <= hi]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_title(name, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color="0.9", linewidth=0.6, zorder=0)
    handles = [plt.Line2D([], [], color=c, marker="o", linewidth=2, label=v)
               for v, c in VERDICT_COLORS.items() if v != "not yet run"]
    handles += [plt.Line2D([], [], color="0.45", marker="o", markerfacecolor="white",
                           linestyle="none", label=f"{open_label} (open)"),
                plt.Line2D([], [], color="black", marker="D", markerfacecolor="none",
                           linestyle="none", label="paper's value")]
    fig.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, ncol=5,
               bbox_to_anchor=(0.01, 1 - 0.38 / total), handlelength=1.5, columnspacing=1.2)
    if title:
        fig.suptitle(title, x=0.01, y=1 - 0.08 / total, ha="left", va="top", fontsize=10)
    fig.text(0.01, 0.12 / total, f"Scale: {scale}", ha="left", va="bottom", fontsize=7,
             wrap=True)
    return fig


def plot_iqm_vs_kept(table: pd.DataFrame, *, scale: str,
                     title: str | None = "IQM of final scores vs kept weights") -> plt.Figure:
    """Chapter 6: one point per configuration at its mean kept (nonzero) kernel weights,
    IQM with its 95% CI (columns ``kept_weights``, ``IQM``, ``lo``, ``hi``), one marker and
    colour per ``kind``, each point labelled by its width and sparsity (``label``)."""
    fig, (ax,) = _figure(1, scale, title, width=6.4)
    for i, (kind, rows) in enumerate(table.groupby("kind", sort=True)):
        err = np.array([rows["IQM"] - rows["lo"], rows["hi"] - rows["IQM"]])
        ax.errorbar(rows["kept_weights"], rows["IQM"], yerr=err, color=_color(i),
                    marker=MARKERS[i % len(MARKERS)], linestyle="none", capsize=3, label=kind)
        for row in rows.itertuples(index=False):
            ax.annotate(f"w{row.width}" + (f" {row.sparsity:.0%}" if row.sparsity else ""),
                        (row.kept_weights, row.IQM), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set(xlabel="kept kernel weights (log scale)", ylabel="IQM normalized score")
    ax.legend(fontsize=8)
    return fig
