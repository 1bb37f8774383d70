"""The front page: the claims figure (one forest row per judged claim, labelled in words,
grouped by the runs judged, the paper's value or "no number", fragile verdicts marked,
deterministic SVG, no empty panel) and the table (pending claims folded per sweep)."""

import pandas as pd

from prunebook.analysis import plots, styles
from prunebook.analysis.claims import (
    CLAIMS,
    CLAIMS_BY_ID,
    NON_INFERIORITY_MARGIN,
    Alternative,
    ClaimResult,
    not_run_result,
)
from prunebook.book import frontpage


def _res(cid, sweep, ours, ci, verdict, fragile=False):
    alts = (Alternative("without Pong", "inconclusive" if fragile else verdict, ours, ci),)
    return ClaimResult(cid, verdict, ours, ci, "p", "s", None, "", ("Breakout", "Pong"), 3,
                       alts, sweep, "500,000 env steps")


RES = [_res("2-dqn", "online_cpu", 1.1, (1.02, 1.3), "reproduced", fragile=True),
       _res("3-99", "online_cpu", 0.4, (0.3, 0.5), "contradicted"),
       _res("4-cql-w1", "offline_cpu", 0.9, (0.6, 1.2), "inconclusive")]
PENDING = [not_run_result(CLAIMS_BY_ID[c], "—", "no matching runs in results/", "no_runs")
           for c in ("6-gmp-vs-lottery", "7-l2-w1", "7-l2-w3")]


def test_rows_group_by_sweep_and_carry_paper_values_and_fragility():
    panels = frontpage.forest_rows(RES + PENDING)  # claims without a verdict: no row
    assert list(panels) == ["online_cpu: 2 games, 500,000 env steps, 3 seeds",
                            "offline_cpu: 2 games, 500,000 env steps, 3 seeds"]
    dqn, c99 = panels["online_cpu: 2 games, 500,000 env steps, 3 seeds"]
    assert dqn["paper"] == 1.6 and dqn["fragile"]
    assert dqn["label"] == "DQN: pruned widest vs dense ×1"
    assert c99["paper"] is None and c99["margin"] == NON_INFERIORITY_MARGIN
    assert c99["paper_text"] == "paper: ≥ 0.9 (no number)" and not c99["fragile"]
    assert "3 seeds per configuration and game" in frontpage.caption(RES)


def test_figure_has_labelled_log_axes_and_the_line_at_one():
    fig = frontpage.claims_figure(RES + PENDING)
    axes = fig.axes
    assert len(axes) == 2  # no panel for the pending claims; one column of panels
    for ax in axes:
        assert ax.get_xscale() == "log" and "IQM ratio" in ax.get_xlabel()
        assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.get_lines())
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == ["DQN: pruned widest vs dense ×1", "DQN ×3: 99% pruned vs dense"]
    fonts = [t.get_fontsize() for ax in axes for t in ax.get_yticklabels() + ax.get_xticklabels()]
    assert min(fonts + [t.get_fontsize() for t in fig.texts]) >= 9
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "Scale:" in texts and "seeds" in texts


def test_svg_is_deterministic():
    assert frontpage.figure_svg(RES) == frontpage.figure_svg(RES)


def test_at_most_two_panels_per_row():
    import pytest

    with pytest.raises(ValueError, match="at most two"):
        plots.plot_interval_rows({"a": []}, scale="x", title=None, columns=3)


def test_every_claim_has_its_own_label_in_words():
    labels = [c.title for c in CLAIMS]
    assert len(set(labels)) == len(labels) and not [c.id for c in CLAIMS if c.title == c.id]


def test_pending_claims_fold_into_one_progress_line_per_sweep():
    table = frontpage.page_table(RES + PENDING, {"controls_cpu": (1, 112),
                                                 "baselines_cpu": (0, 144)})
    assert list(table.columns) == frontpage.PAGE_COLUMNS and len(table) == 5
    pending = table[table["verdict"].str.startswith("not yet run")]
    assert pending["verdict"].tolist() == ["not yet run: 1 of 112 runs; 1 claim pending",
                                           "not yet run: 0 of 144 runs; 2 claims pending"]
    assert pending["runs"].iloc[1] == "[baselines_cpu](../notebooks/07_pruning_vs_baselines.ipynb)"
    assert table["claim"].iloc[0] == "DQN: pruned widest vs dense ×1 (`2-dqn`)"
    markdown = frontpage.page_markdown(table)
    assert markdown.count(":::{dropdown}") == 1
    for statement in {c.statement for c in CLAIMS}:  # each quoted sentence once
        assert markdown.count(statement) == 1
    assert "undecided" not in markdown and isinstance(table, pd.DataFrame)


def test_no_text_is_clipped_and_none_is_below_9_points():
    longest = max(CLAIMS, key=lambda c: len(c.title))
    res = RES + [_res(longest.id, "online_cpu", 1.2, (1.0, 1.4), "inconclusive", fragile=True)]
    fig = frontpage.claims_figure(res)
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for text in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize")):
        if text.get_text() and text.get_visible():
            extent = text.get_window_extent(renderer)
            assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()
            assert text.get_fontsize() >= 9, text.get_text()


def test_no_two_ratio_tick_labels_touch():
    """The front page's panels are narrow: with every candidate tick, "0.5" and "0.7" ran
    together ("0.50.7")."""
    wide = RES + [_res("4-cql-w1", "offline_cpu", 0.2, (0.12, 0.3), "contradicted"),
                  _res("2-dqn", "offline_cpu", 2.5, (2.0, 3.4), "reproduced")]
    fig = frontpage.claims_figure(wide)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        assert len(boxes) >= 4  # still a readable scale: 1 and its neighbours
        half_em = labels[0].get_fontsize() / 2 * fig.dpi / 72  # pixels
        for left, right in zip(boxes, boxes[1:], strict=False):
            assert right.x0 - left.x1 >= half_em, [t.get_text() for t in labels]


def test_ratio_ticks_keep_every_candidate_on_a_wide_axis_and_prefer_round_ones():
    assert styles.ratio_ticks(0.15, 4.0, 40.0, 9) == [0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0]
    narrow = styles.ratio_ticks(0.15, 4.0, 1.6, 9)
    assert 1.0 in narrow and 0.5 in narrow and 2.0 in narrow and not {0.5, 0.7} <= set(narrow)
