"""Every plot returns a labelled Figure with the expected panels and series."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from prunebook.analysis import plots
from prunebook.analysis.plots import OKABE_ITO

SCALE = "MinAtar, 2 games, 3 seeds, 4k env steps, preset ci"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def runs_frame(iterations=3):
    rng = np.random.default_rng(0)
    rows = []
    for agent in ("dqn", "rainbow"):
        for width in (1, 3):
            for sparsity in (0.0, 0.95):
                for game in ("Breakout", "Asterix"):
                    for seed in range(3):
                        for it in range(iterations):
                            value = float(rng.normal(width * (1 + sparsity), 0.3)) + it
                            rows.append(dict(run_id=f"{agent}{width}{sparsity}{game}{seed}",
                                             sweep="s", agent=agent, suite="minatar", game=game,
                                             width=width, sparsity=sparsity, seed=seed,
                                             preset="ci", iteration=it,
                                             env_steps=1000 * (it + 1), score=value,
                                             normalized=value))
    return pd.DataFrame(rows)


def labels(ax):
    return ax.get_legend_handles_labels()[1]


def has_scale(fig):
    return any(SCALE in t.get_text() for t in fig.texts)


def test_plot_iqm_vs_width():
    final = runs_frame(iterations=1)
    fig = plots.plot_iqm_vs_width(final, scale=SCALE, rng=np.random.default_rng(0), reps=200)
    assert isinstance(fig, plt.Figure) and has_scale(fig)
    assert len(fig.axes) == 2  # one panel per agent
    for ax in fig.axes:
        assert labels(ax) == ["dense", "pruned 95%"]
        assert len(ax.containers) == 2  # two error-bar series
        xs = ax.containers[0].lines[0].get_xdata()
        assert list(xs) == [1, 3]


def test_plot_learning_curves():
    fig = plots.plot_learning_curves(runs_frame(), scale=SCALE, rng=np.random.default_rng(0),
                                     reps=100)
    assert has_scale(fig) and len(fig.axes) == 2
    for ax in fig.axes:
        assert labels(ax) == ["×1 dense", "×1 pruned 95%", "×3 dense", "×3 pruned 95%"]
        assert len(ax.collections) == 4  # one CI band per series
        assert list(ax.lines[0].get_xdata()) == [1000, 2000, 3000]


def test_plot_per_game():
    final = runs_frame(iterations=1)
    fig = plots.plot_per_game(final[final["agent"] == "dqn"], scale=SCALE, err="ci")
    assert has_scale(fig)
    assert sorted(ax.get_title() for ax in fig.axes) == ["Asterix", "Breakout"]
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    fig = plots.plot_per_game(runs_frame().query("agent == 'dqn' and width == 1"), scale=SCALE,
                              x="iteration")
    assert len(fig.axes[0].lines[0].get_xdata()) == 3
    with pytest.raises(ValueError):
        plots.plot_per_game(final, scale=SCALE, err="sd")


def test_plot_performance_profiles():
    rng = np.random.default_rng(1)
    scores = {"dense": rng.normal(1, 0.3, (5, 4)), "pruned": rng.normal(1.5, 0.3, (5, 4))}
    fig = plots.plot_performance_profiles(scores, np.linspace(0, 3, 31), scale=SCALE, rng=rng,
                                          reps=100)
    assert has_scale(fig) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert labels(ax) == ["dense", "pruned"] and len(ax.collections) == 2
    assert "Performance profiles" in fig.get_suptitle()


def test_palette_is_okabe_ito():
    assert OKABE_ITO[:3] == ("#000000", "#E69F00", "#56B4E9")
    assert plots.series_label(0.0) == "dense" and plots.series_label((3, 0.9)) == "×3 pruned 90%"


def test_one_style_per_method_in_every_figure():
    styles = plots.series_styles([0.0, 0.95])
    assert styles[0.0]["color"] == plots.METHOD_STYLE["dense"]["color"] == "#000000"
    assert styles[0.95]["color"] == plots.METHOD_STYLE["GMP"]["color"]
    # chapters 6-7 label their series in words, sorted "GMP 95%" before "dense": same colours
    words = plots.series_styles(["GMP 95%", "dense", "dense + ReDo", "static random 95%",
                                 "lottery ticket 95%", "dense + weight decay"])
    for key, method in [("GMP 95%", "GMP"), ("dense", "dense"), ("dense + ReDo", "ReDo"),
                        ("static random 95%", "static random"),
                        ("lottery ticket 95%", "lottery ticket"),
                        ("dense + weight decay", "weight decay")]:
        assert words[key]["color"] == plots.METHOD_STYLE[method]["color"]
        assert words[key]["marker"] == plots.METHOD_STYLE[method]["marker"]
    # GMP at several sparsities: one colour, told apart by marker and line style
    levels = plots.series_styles([0.0, 0.9, 0.95, 0.99])
    assert len({levels[k]["color"] for k in (0.9, 0.95, 0.99)}) == 1
    assert len({(levels[k]["marker"], levels[k]["linestyle"]) for k in (0.9, 0.95, 0.99)}) == 3


def test_agents_are_told_apart_by_marker_and_line_never_by_a_method_colour():
    methods = {v["color"] for v in plots.METHOD_STYLE.values()}
    agents = plots.series_styles(["dqn", "rainbow"])  # runs of several methods: neutral
    assert not {agents[a]["color"] for a in agents} & methods
    dense = plots.series_styles(["dqn", "rainbow"], method="dense")  # all dense: black
    assert {dense[a]["color"] for a in dense} == {plots.METHOD_STYLE["dense"]["color"]}
    assert dense["dqn"]["marker"] != dense["rainbow"]["marker"]
    assert dense["dqn"]["linestyle"] != dense["rainbow"]["linestyle"]
    final = runs_frame(iterations=1)
    fig = plots.plot_per_game(final[final["sparsity"] == 0], scale=SCALE, series="agent")
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in ("DQN", "Rainbow")]
    assert {ln.get_color() for ln in lines} == {"#000000"} and len(lines) == 2


def test_labels_write_widths_and_agents_in_words():
    assert plots.series_label(3) == "×3" and plots.series_label("cql_c51") == "CQL+C51"
    assert plots.value_label("normalized") == "IQM normalised score"
    final = runs_frame(iterations=1)
    fig = plots.plot_iqm_vs_width(final, scale=SCALE, rng=np.random.default_rng(0), reps=50)
    assert all(ax.get_title().startswith(("DQN (", "Rainbow (")) for ax in fig.axes)
    assert {ax.get_ylabel() for ax in fig.axes} == {"IQM normalised score"}


def test_figures_fit_the_column_two_panels_per_row():
    final = runs_frame(iterations=1)
    fig = plots.plot_per_game(final[final["agent"] == "dqn"], scale=SCALE)
    assert fig.get_figwidth() <= plots.COLUMN_IN + 1e-9
    fig = plots.plot_iqm_vs_width(final, scale=SCALE, rng=np.random.default_rng(0), reps=50)
    assert fig.get_figwidth() <= plots.COLUMN_IN + 1e-9
    xs = sorted({round(ax.get_position().x0, 3) for ax in fig.axes})
    assert len(xs) <= 2
    for ax in fig.axes:
        assert all(t.get_fontsize() >= plots.FONT_PT for t in ax.get_xticklabels())
        if ax.get_legend():
            assert all(t.get_fontsize() >= plots.FONT_PT for t in ax.get_legend().get_texts())


def test_count_ticks_are_in_thousands_or_millions():
    from prunebook.analysis.plots import _count_tick
    assert [_count_tick(v) for v in (0, 500, 250_000, 1_000_000, 1_500_000)] == [
        "0", "500", "250k", "1M", "1.5M"]
