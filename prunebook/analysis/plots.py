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
from prunebook.analysis.styles import (  # noqa: F401  (OKABE_ITO, METHOD_STYLE: re-exported)
    COLUMN_IN,
    FONT_PT,
    METHOD_STYLE,
    OKABE_ITO,
    method_of,
    ratio_ticks,
    series_label,
    series_styles,
    value_label,
)
from prunebook.extras import missing_extra

try:
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import FuncFormatter, MaxNLocator
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error


def figure_panels(n_panels: int, scale: str, title: str | None, width: float = COLUMN_IN / 2):
    """At most two panels per row, the figure at most the book's column wide (so its text,
    :data:`FONT_PT` and up, is drawn at least that size)."""
    cols = min(n_panels, 2)
    rows = int(np.ceil(n_panels / cols))
    width = min(width, COLUMN_IN / cols)
    height = 3.0 * rows + 1.1
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height), squeeze=False)
    for ax in axes.flat[n_panels:]:
        fig.delaxes(ax)
    for ax in axes.flat[:n_panels]:
        ax.tick_params(labelsize=FONT_PT)
    if title:
        fig.suptitle(title, fontsize=FONT_PT + 2)
    fig.text(0.5, 0.01, f"Scale: {scale}", ha="center", va="bottom", fontsize=FONT_PT, wrap=True)
    fig.subplots_adjust(bottom=0.8 / height + 0.04, top=1 - (0.75 if title else 0.35) / height,
                        left=0.13, right=0.97, wspace=0.35, hspace=0.55)
    return fig, list(axes.flat[:n_panels])


COUNT_LABELS = {"env_steps": "agent steps", "agent_steps": "agent steps",
                "gradient_updates": "gradient updates"}
"""x columns that count steps or updates, and their axis labels."""


def _count_tick(value: float, _pos=None) -> str:
    """A tick of a count axis in thousands or millions: 250000 -> "250k", 1000000 -> "1M"."""
    for size, unit in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:g}"


def label_x(ax, x: str) -> None:
    """Label the x axis of column ``x``; a count axis (agent steps, gradient updates) gets
    at most five ticks written in thousands or millions, so they never run together."""
    if x not in COUNT_LABELS:
        ax.set_xlabel(x.replace("_", " "))
        return
    ax.set_xlabel(COUNT_LABELS[x])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(_count_tick))


def _reference_line(ax) -> None:
    """A dashed line at 1: normalised scores are 1 for the dense ×1 DQN."""
    ax.axhline(1, color="0.6", lw=0.8, ls="--", zorder=0)


def _series_key(df: pd.DataFrame, series) -> pd.Series:
    cols = [series] if isinstance(series, str) else list(series)
    if len(cols) == 1:
        return df[cols[0]]
    return pd.Series(list(zip(*(df[c] for c in cols), strict=True)), index=df.index)


def plot_iqm_vs_width(
    final_df: pd.DataFrame, *, scale: str, rng: np.random.Generator, reps: int = 2_000,
    value: str = "normalized", panel: str = "agent", series: str = "sparsity",
    title: str | None = "IQM of final scores vs width", reference_df: pd.DataFrame | None = None,
    axes: Sequence | None = None,
) -> plt.Figure:
    """Fig 1 style: IQM with 95% stratified-bootstrap error bars vs width, one line per series.

    One panel per ``panel`` value; within a panel only games present in every (series, width)
    cell are used, so all points aggregate the same game set (``axes``: draw the panels there, in
    a figure made by :func:`figure_panels`). With ``reference_df`` (per-run
    final scores holding the MinAtar reference runs) the intervals come from the raw ``score``
    with the reference resampled inside (:func:`prunebook.analysis.normalization.comparison`).
    """
    panels = sorted(final_df[panel].unique())
    fig, axes = ((axes[0].figure, axes) if axes is not None
                 else figure_panels(len(panels), scale, title))
    for ax, name in zip(axes, panels, strict=True):
        sub = final_df[(final_df[panel] == name) & final_df[value].notna()]
        cells = sub.groupby([series, "width"])["game"].apply(set)
        games = sorted(set.intersection(*cells)) if len(cells) else []
        keys = sorted(sub[series].unique())
        styles = series_styles(keys)
        for key in keys:
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
            ax.errorbar(widths, y, yerr=err, **styles[key], capsize=3, label=series_label(key))
        ax.set(title=f"{series_label(name)} ({len(games)} games)", xlabel="width scale",
               ylabel=value_label(value))
        ax.set_xticks(sorted(sub["width"].unique()))
        if value == "normalized":
            _reference_line(ax)
        ax.legend(fontsize=FONT_PT)
    return fig


def plot_learning_curves(
    runs_df: pd.DataFrame, *, scale: str, rng: np.random.Generator, reps: int = 500,
    value: str = "normalized", x: str = "env_steps", panel: str = "agent",
    series=("width", "sparsity"), title: str | None = "IQM learning curves",
    reference_df: pd.DataFrame | None = None, axes: Sequence | None = None,
) -> plt.Figure:
    """Fig 3 style: IQM per iteration with 95% CI bands, one line per series, panel per agent
    (``axes``: draw the panels there, in a figure made by :func:`figure_panels`).

    ``runs_df`` has one row per (run, iteration) and a ``value`` column (normalise per-iteration
    returns with ``normalize_frame(df.assign(score=df.train_return), reference_df=final)``).
    With ``reference_df`` (the runs' per-run final scores, holding the MinAtar reference runs),
    the bands come from the raw ``score`` with the reference resampled inside each replicate.
    """
    panels = sorted(runs_df[panel].unique())
    fig, axes = ((axes[0].figure, axes) if axes is not None
                 else figure_panels(len(panels), scale, title))
    for ax, name in zip(axes, panels, strict=True):
        sub = runs_df[runs_df[panel] == name]
        keys = _series_key(sub, series)
        games = sorted(set.intersection(*(set(sub.loc[keys == k, "game"]) for k in keys.unique())))
        styles = series_styles(sorted(keys.unique()))
        for key in sorted(keys.unique()):
            arr, xs = normalization.curve_array(sub[keys == key], value, games, x)
            if arr.shape[-1] == 0:
                continue
            if reference_df is None:
                point, ci = stats.learning_curve_estimates({key: arr}, rng=rng, reps=reps)
            else:
                point, ci = _curve_estimates(sub[keys == key], key, games, x, reference_df,
                                             rng, reps)
            style = styles[key]
            ax.plot(xs, point[key], color=style["color"], linestyle=style["linestyle"],
                    label=series_label(key))
            ax.fill_between(xs, ci[key][0], ci[key][1], color=style["color"], alpha=0.2,
                            linewidth=0)
        ax.set(title=f"{series_label(name)} ({len(games)} games)", ylabel=value_label(value))
        label_x(ax, x)
        ax.legend(fontsize=FONT_PT)
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
    fig, axes = figure_panels(len(games), scale, title)
    keys = sorted(df[series].unique())
    # agents as series: colour of the one method all runs share (dense, GMP), else neutral
    methods = {method_of(float(s)) for s in df["sparsity"]} if "sparsity" in df else set()
    styles = series_styles(keys, method=methods.pop() if len(methods) == 1 else None)
    for ax, game in zip(axes, games, strict=True):
        sub = df[df["game"] == game]
        for key in keys:
            g = sub[sub[series] == key].groupby(x)[value].agg(["mean", "std", "count"])
            if g.empty:
                continue
            spread = g["std"].fillna(0.0)
            if err == "ci":
                spread = 1.96 * spread / np.sqrt(g["count"])
            xs = g.index.to_numpy()
            ax.plot(xs, g["mean"], **styles[key], label=series_label(key))
            # agents share their method's colour: a dashed agent's band is hatched
            band = ({"facecolor": "none", "edgecolor": styles[key]["color"], "hatch": "////",
                     "alpha": 0.35} if series == "agent" and styles[key]["linestyle"] != "-"
                    else {"color": styles[key]["color"], "alpha": 0.2})
            ax.fill_between(xs, g["mean"] - spread, g["mean"] + spread, linewidth=0, **band)
        ax.set(title=game, ylabel=value.replace("_", " "))
        label_x(ax, x)
    # one legend for every panel, under the title: the series are the same in each
    handles, labels = axes[0].get_legend_handles_labels()
    height = fig.get_figheight()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), frameon=False,
               fontsize=FONT_PT, bbox_to_anchor=(0.5, 1 - (0.4 if title else 0.05) / height))
    fig.subplots_adjust(top=1 - (1.05 if title else 0.7) / height)
    return fig


def plot_performance_profiles(
    scores_by_config: Mapping[str, np.ndarray], taus, *, scale: str,
    rng: np.random.Generator, reps: int = 2_000, xlabel: str = "normalized score (τ)",
    title: str | None = "Performance profiles",
) -> plt.Figure:
    """Fraction of runs scoring above τ, with 95% stratified-bootstrap bands (rliable style)."""
    taus = np.asarray(taus, dtype=float)
    profiles, cis = stats.performance_profiles(scores_by_config, taus, rng=rng, reps=reps)
    fig, (ax,) = figure_panels(1, scale, title, width=5.5)
    styles = series_styles(list(profiles))
    for name, prof in profiles.items():
        ax.plot(taus, prof, color=styles[name]["color"], linestyle=styles[name]["linestyle"],
                label=str(name))
        ax.fill_between(taus, cis[name][0], cis[name][1], color=styles[name]["color"],
                        alpha=0.2, linewidth=0)
    ax.set(xlabel=xlabel, ylabel="fraction of runs with score > τ", ylim=(0, 1.02))
    ax.legend(fontsize=FONT_PT)
    return fig


# --------------------------------------------------------------------------- interval rows
VERDICT_COLORS = {"reproduced": OKABE_ITO[3], "contradicted": OKABE_ITO[5],
                  "inconclusive": "0.45", "not yet run": "0.75"}


def plot_interval_rows(
    panels: Mapping[str, Sequence[Mapping]], *, scale: str, title: str | None,
    xlabel: str = "ratio (log scale; 1 = no difference)", columns: int = 1,
    row_height: float = 0.32, width: float = 7.0, open_label: str = "fragile",
    fontsize: float = FONT_PT + 1, suffix: bool = True,
) -> plt.Figure:
    """Forest plot: per panel, one row per interval (point and 95% CI), a line at 1.

    A row is a mapping with ``label``, ``point``, ``ci`` ((lo, hi) or None), ``verdict``;
    optional ``paper`` (a value drawn as a diamond; None writes ``paper_text``, default
    "direction only"),
    ``margin`` (a dashed tick, e.g. a non-inferiority margin) and ``fragile`` (an open
    marker and ``open_label`` after the label). At most ``columns`` (<= 2) panels per row.
    ``fontsize``: tick labels and axis labels (legend, notes and caption one point smaller);
    the margins grow with the longest row label and note, so none is clipped. ``suffix=False``
    leaves ``open_label`` out of the row labels (the open marker and the legend still say it).
    """
    if not 1 <= columns <= 2:
        raise ValueError("columns must be 1 or 2 (at most two panels per row)")
    names = list(panels)
    if not names:
        raise ValueError("plot_interval_rows: no panels")
    per_row = [max(len(panels[n]) for n in names[i:i + columns])
               for i in range(0, len(names), columns)]
    heights = [row_height * n + 0.25 for n in per_row]  # inches of plotting area
    small = fontsize - 1
    grow = fontsize / 8  # vertical space for text scales with its size
    gaps, top, bottom = 0.75 * grow, 0.85 * grow, 1.05 * grow  # panels; legend; caption
    total = sum(heights) + gaps * (len(per_row) - 1) + top + bottom
    fig_width = width * columns if columns > 1 else width
    fig = plt.figure(figsize=(fig_width, total))
    # inches a label of n characters needs (about 0.6 em per character)
    chars = max(len(r["label"]) + (len(open_label) + 4) * bool(r.get("fragile") and suffix)
                for rows in panels.values() for r in rows) if any(panels.values()) else 0
    notes = max((len(r.get("paper_text", "direction only")) for rows in panels.values()
                 for r in rows if "paper" in r and r["paper"] is None), default=0)
    left = max(0.22 if columns == 1 else 0.2, (chars * fontsize * 0.56 / 72 + 0.15) / fig_width)
    right = min(0.84 if columns == 1 else 0.97, 1 - (notes * small * 0.56 / 72 + 0.12) / fig_width)
    grid = fig.add_gridspec(len(per_row), columns, height_ratios=heights,
                            hspace=gaps / np.mean(heights), wspace=1.0, left=left, right=right,
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
                                fontsize=small, color="0.35", annotation_clip=False)
                else:
                    ax.plot(row["paper"], y, "D", color="black", markersize=5,
                            markerfacecolor="none")
            if row.get("margin") is not None:
                ax.plot([row["margin"]] * 2, [y - 0.35, y + 0.35], "--", color="0.3",
                        linewidth=1)
        ax.set_yticks(ys, [r["label"] + (f"  ({open_label})" if r.get("fragile") and suffix
                                         else "")
                           for r in rows], fontsize=fontsize)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ticks = ratio_ticks(lo, hi, ax.get_position().width * fig_width, fontsize)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(xlabel, fontsize=fontsize)
        # one column: panel titles start at the figure's left edge, over the row labels
        ax.set_title(name, fontsize=fontsize + 1, loc="left",
                     x=(0.01 - left) / (right - left) if columns == 1 else 0.0)
        ax.tick_params(axis="x", labelsize=fontsize)
        ax.grid(axis="x", color="0.9", linewidth=0.6, zorder=0)
    handles = [plt.Line2D([], [], color=c, marker="o", linewidth=2, label=v)
               for v, c in VERDICT_COLORS.items() if v != "not yet run"]
    handles += [plt.Line2D([], [], color="0.45", marker="o", markerfacecolor="white",
                           linestyle="none", label=f"{open_label} (open)"),
                plt.Line2D([], [], color="black", marker="D", markerfacecolor="none",
                           linestyle="none", label="paper's value")]
    fig.legend(handles=handles, loc="upper left", fontsize=small, frameon=False, ncol=5,
               bbox_to_anchor=(0.01, 1 - 0.38 / total), handlelength=1.5, columnspacing=1.2)
    if title:
        fig.suptitle(title, x=0.01, y=1 - 0.08 / total, ha="left", va="top",
                     fontsize=fontsize + 2)
    if scale:
        fig.text(0.01, 0.12 / total, f"Scale: {scale}", ha="left", va="bottom", fontsize=small,
                 wrap=True)
    return fig


def plot_iqm_vs_kept(table: pd.DataFrame, *, scale: str,
                     title: str | None = "IQM of final scores vs kept weights") -> plt.Figure:
    """Chapter 6: one point per configuration at its mean kept (nonzero) kernel weights,
    IQM with its 95% CI (columns ``kept_weights``, ``IQM``, ``lo``, ``hi``), one marker and
    colour per ``kind``, each point labelled by its width and sparsity (``label``)."""
    fig, (ax,) = figure_panels(1, scale, title, width=COLUMN_IN)
    styles = series_styles(sorted(table["kind"].unique()))
    for kind, rows in table.groupby("kind", sort=True):
        err = np.array([rows["IQM"] - rows["lo"], rows["hi"] - rows["IQM"]])
        ax.errorbar(rows["kept_weights"], rows["IQM"], yerr=err, color=styles[kind]["color"],
                    marker=styles[kind]["marker"], linestyle="none", capsize=3, label=kind)
    # a point with a close neighbour (about equal kept weights and score) further right is
    # labelled above-left, the neighbour below-right, so the two labels never meet
    pts = table.sort_values("kept_weights").reset_index(drop=True)
    span = float(pts["IQM"].max() - pts["IQM"].min()) or 1.0

    def close(a, b) -> bool:
        return (abs(np.log10(a.kept_weights / b.kept_weights)) < 0.25
                and abs(a.IQM - b.IQM) < 0.15 * span)

    rows = list(pts.itertuples(index=False))
    for j, row in enumerate(rows):
        left = any(close(row, other) for other in rows[:j])
        right = any(close(row, other) for other in rows[j + 1:])
        dx, dy, ha = (6, -14, "left") if left else (-6, 5, "right") if right else (5, 4, "left")
        ax.annotate(f"×{row.width}" + (f" {row.sparsity:.0%}" if row.sparsity else ""),
                    (row.kept_weights, row.IQM), textcoords="offset points", xytext=(dx, dy),
                    ha=ha, fontsize=FONT_PT)
    ax.set_xscale("log")
    ax.margins(x=0.15)  # room for the labels of the outermost points
    _reference_line(ax)
    ax.set(xlabel="kept kernel weights (log scale)", ylabel=value_label("normalized"))
    ax.legend(fontsize=FONT_PT)
    return fig
