"""Chapter 5's helpers: the measures frame, reading claims part-way, and the summaries."""

from pathlib import Path

import nbformat
import pandas as pd

from prunebook.book import chapters
from prunebook.book.chapters import standard
from prunebook.book.chapters.records import measure_rows
from prunebook.config import ci_config
from prunebook.sweeps import store


def _record(config, measures_per_iteration, returns, sweep="s"):
    iterations = [{"iteration": i, "env_steps": (i + 1) * 1000, "gradient_updates": 10 * i,
                   "train_return": r, "num_episodes": 3, "eval_return": None, "loss": 0.1,
                   "sparsity": 0.0, "wall_s": 1.0, **({"measures": m} if m else {})}
                  for i, (m, r) in enumerate(zip(measures_per_iteration, returns, strict=True))]
    return {"run_id": config.run_id, "sweep": sweep, "config": config.to_dict(),
            "iterations": iterations}


def _measured(dormant, srank):
    return {"dormant_tau0.1": {"Conv_0": dormant, "overall": dormant}, "srank": srank,
            "param_norm": 2.0}


def test_measures_frame_flattens_nested_measures_and_skips_old_records(tmp_path):
    new = ci_config("dqn", game="Breakout", seed=0)
    old = ci_config("dqn", game="Breakout", seed=1)
    store.write_run(store.run_path(tmp_path, "s", new.run_id),
                    _record(new, [_measured(0.5, 7), _measured(0.25, 9)], [1.0, 2.0]))
    store.write_run(store.run_path(tmp_path, "s", old.run_id),
                    _record(old, [None, None], [1.0, 2.0]))
    frame = measure_rows(store.read_run(p) for p in sorted((tmp_path / "s").glob("*.json")))
    assert set(frame.run_id) == {new.run_id}
    got = frame.set_index(["env_steps", "measure"])["value"]
    assert got[(1000, "dormant_tau0.1/overall")] == 0.5
    assert got[(2000, "srank")] == 9 and got[(2000, "param_norm")] == 2.0
    assert len(frame) == 2 * 4


def test_measures_table_gives_start_and_end_medians():
    rows = []
    for run, (start, end) in enumerate([(0.1, 0.3), (0.2, 0.5), (0.3, 0.7)]):
        for steps, value in ((1000, start), (2000, end)):
            rows.append(dict(run_id=f"r{run}", game="Breakout", width=1, sparsity=0.0, seed=run,
                             env_steps=steps, measure="srank", value=value))
    table = standard.measures_table(pd.DataFrame(rows))
    assert table.loc["srank of penultimate features (δ = 0.01)", "×1 dense"] == "0.2 → 0.5"


def test_the_measures_figure_colours_by_method_and_fits_the_column():
    from matplotlib import pyplot as plt
    from matplotlib.text import Text

    from prunebook.analysis.styles import COLUMN_IN, FONT_PT, METHOD_STYLE

    rows = [dict(run_id=f"r{w}{s}", game="Breakout", width=w, sparsity=s, seed=0,
                 env_steps=steps, measure=name, value=v)
            for w in (1, 5) for s in (0.0, 0.95) for steps, v in ((1000, 0.1), (2000, 0.2))
            for name in standard.MEASURES]
    assert standard.measures_scale(pd.DataFrame(rows), ["Breakout"], [0, 1]) == (
        "MinAtar Breakout; 2 seeds; 4 runs with measures")
    assert standard.measures_scale(pd.DataFrame(), ["Breakout"], [0]).endswith(
        "1 seed; 0 runs with measures")
    fig = standard.figure_measures(pd.DataFrame(rows), "scale")
    assert fig.get_figwidth() <= COLUMN_IN + 1e-9
    lines = [ln for ax in fig.axes for ln in ax.get_lines()]
    dense, gmp = METHOD_STYLE["dense"]["color"], METHOD_STYLE["GMP"]["color"]
    assert {ln.get_color() for ln in lines if "dense" in ln.get_label()} == {dense}
    assert {ln.get_color() for ln in lines if "pruned" in ln.get_label()} == {gmp}
    # the width is the line style: ×1 and ×5 of one method differ
    assert len({ln.get_linestyle() for ln in lines if "dense" in ln.get_label()}) == 2
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert min(t.get_fontsize() for t in texts) >= FONT_PT
    plt.close(fig)


def test_the_correlation_ranks_runs_within_each_game():
    class Data:  # the one method measure_score_correlation needs
        def final(self, ids):
            return pd.DataFrame({"run_id": ids, "score": [float(i[-1]) for i in ids]})

    rows = []
    for game, sign in (("Breakout", 1), ("Asterix", -1)):
        for i in range(standard.MIN_RUNS):  # score = i; the measure rises with it in
            # Breakout, falls in Asterix
            rows.append(dict(run_id=f"{game}{i}", game=game, width=1, sparsity=0.0, seed=i,
                             env_steps=1000, measure="srank", value=sign * i * 10.0))
    table = standard.measure_score_correlation(pd.DataFrame(rows), Data()).set_index("measure")
    row = table.loc["srank of penultimate features (δ = 0.01)"]
    assert row["mean Spearman ρ"] == "+0.00"  # +1 and -1 averaged
    assert row["games"] == 2 and row["runs per game"] == standard.MIN_RUNS
    assert table.loc["parameter norm", "mean Spearman ρ"].startswith("too few runs (n=0")


def test_a_correlation_from_few_runs_is_not_a_number():
    class Data:
        def final(self, ids):
            return pd.DataFrame({"run_id": ids, "score": [float(i[-1]) for i in ids]})

    rows = [dict(run_id=f"Breakout{i}", game="Breakout", width=1, sparsity=0.0, seed=i,
                 env_steps=1000, measure="srank", value=i * 10.0) for i in range(4)]
    table = standard.measure_score_correlation(pd.DataFrame(rows), Data()).set_index("measure")
    row = table.loc["srank of penultimate features (δ = 0.01)"]
    assert row["mean Spearman ρ"].startswith("too few runs (n=4") and row["games"] == 0


def test_at_env_steps_cuts_every_run_after_that_step(tmp_path):
    sel = chapters.selection("cpu", ["dqn"], [1, 3], [0.0, 0.95], games=["Breakout"],
                             seeds=[0])
    for c in sel.configs():
        store.write_run(store.run_path(tmp_path, "online_cpu", c.run_id),
                        _record(c, [None] * 4, [1.0, 2.0, 3.0, 4.0 * c.width], "online_cpu"))
    data = chapters.load("online", "cpu", sel, tmp_path)
    assert len(data.present) == 4
    early = standard.at_env_steps(data, 2_000)
    assert set(early.final()["score"]) == {2.0}
    assert set(data.final()["score"]) == {4.0, 12.0}
    assert early.present == data.present


def test_orientation_table_sets_dense_x1_beside_the_published_dqn(tmp_path):
    """Only dense x1 DQN counts (the pruned and the wide runs score 1,000 here, and would show
    if they leaked in); the mean and range are over that game's finished seeds."""
    sel = chapters.selection("std", ["dqn"], [1, 5], [0.0, 0.95],
                             games=["Breakout", "Seaquest"], seeds=[0, 1])
    final_return = {("Breakout", 0): 8.0, ("Breakout", 1): 12.0, ("Seaquest", 0): 30.0,
                    ("Seaquest", 1): 50.0}
    for c in sel.configs():
        score = (final_return[c.game, c.seed] if (c.width, c.final_sparsity) == (1, 0.0)
                 else 1000.0)
        store.write_run(store.run_path(tmp_path, "online_std", c.run_id),
                        _record(c, [None] * 2, [0.0, score], "online_std"))
    table = standard.orientation_table(chapters.load("online", "std", sel, tmp_path))
    assert table.loc["Breakout"].tolist() == [2, 10.0, "8.0–12.0", 10.0, "×1.0"]
    assert table.loc["Seaquest"].tolist() == [2, 40.0, "30.0–50.0", 20.0, "×2.0"]


def test_protocol_table_names_every_deviation():
    """Chapter 5's protocol table (a Markdown table of the notebook): one row per setting,
    each deviation from original MinAtar marked as such."""
    nb = nbformat.read(Path(__file__).resolve().parent.parent / "notebooks"
                       / "05_standard_budget.ipynb", as_version=4)
    table = next(c.source for c in nb.cells if c.cell_type == "markdown"
                 and "| setting | original MinAtar" in c.source)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| setting")}
    assert {"sticky actions", "action set", "episode length", "difficulty ramping"} <= set(rows)
    assert "deviation" in rows["optimiser, update period"]
    assert "deviation" not in rows["sticky actions"]


def test_methods_measures_table_names_measures_and_configurations_in_words():
    from types import SimpleNamespace

    from prunebook.book.chapters import methods

    rows = [dict(run_id=f"r{m}{seed}", method=m, width=3, sparsity=s, env_steps=steps,
                 measure=name, value=v * (seed + 1))
            for m, s in (("", 0.95), ("redo", 0.0)) for seed in (0, 1)
            for steps, v in ((100, 1.0), (200, 4.0))
            for name in (*standard.MEASURES, "dormant_tau0.1/layer0")]
    table = methods.measures_table(SimpleNamespace(measures=pd.DataFrame(rows)))
    assert set(table.index.get_level_values("configuration")) == {"GMP 95% ×3",
                                                                   "dense + ReDo ×3"}
    labels = [label for label, _ in standard.MEASURES.values()]
    assert sorted(set(table.index.get_level_values("measure"))) == sorted(labels)
    row = table.loc[("dense + ReDo ×3", "parameter norm")]  # seeds' values 1, 2 then 4, 8
    assert (row["first iteration"], row["last iteration"], row["runs"]) == (1.5, 6.0, 2)
