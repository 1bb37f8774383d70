"""The front page's claims figure: one forest row per claim, grouped by the runs judged,
the paper's value or "direction only", fragile verdicts marked, deterministic SVG."""

from prunebook.analysis import plots
from prunebook.analysis.claims import NON_INFERIORITY_MARGIN, Alternative, ClaimResult
from prunebook.book import frontpage


def _res(cid, sweep, ours, ci, verdict, fragile=False):
    alts = (Alternative("without Pong", "inconclusive" if fragile else verdict, ours, ci),)
    return ClaimResult(cid, verdict, ours, ci, "p", "s", None, "", ("Breakout", "Pong"), 3,
                       alts, sweep, "500,000 env steps")


RES = [_res("2-dqn", "online_cpu", 1.1, (1.02, 1.3), "reproduced", fragile=True),
       _res("3-99", "online_cpu", 0.4, (0.3, 0.5), "contradicted"),
       _res("4-cql-w1", "offline_cpu", 0.9, (0.6, 1.2), "inconclusive")]


def test_rows_group_by_sweep_and_carry_paper_values_and_fragility():
    panels = frontpage.forest_rows(RES)
    assert list(panels) == ["online_cpu: 2 games, 500,000 env steps, 3 seeds",
                            "offline_cpu: 2 games, 500,000 env steps, 3 seeds"]
    dqn, c99 = panels["online_cpu: 2 games, 500,000 env steps, 3 seeds"]
    assert dqn["paper"] == 1.6 and dqn["fragile"] and dqn["label"] == "2-dqn"
    assert c99["paper"] is None and c99["margin"] == NON_INFERIORITY_MARGIN
    assert c99["paper_text"] == "direction only (≥ 0.9)" and not c99["fragile"]
    assert "3 seeds per configuration and game" in frontpage.caption(RES)


def test_figure_has_labelled_log_axes_and_the_line_at_one():
    fig = frontpage.claims_figure(RES)
    axes = fig.axes
    assert len(axes) == 2  # one column: at most two panels per row
    for ax in axes:
        assert ax.get_xscale() == "log" and "IQM ratio" in ax.get_xlabel()
        assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.get_lines())
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == ["2-dqn  (fragile)", "3-99"]
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "Scale:" in texts and "seeds" in texts


def test_svg_is_deterministic():
    assert frontpage.figure_svg(RES) == frontpage.figure_svg(RES)


def test_at_most_two_panels_per_row():
    import pytest

    with pytest.raises(ValueError, match="at most two"):
        plots.plot_interval_rows({"a": []}, scale="x", title=None, columns=3)
