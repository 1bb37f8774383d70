"""Chapters 1-3: coverage of partial sweeps, complete-only verdicts, the notebooks' parameter
checks through papermill, and the notebooks on a synthetic results folder.

`write_fake_results` writes results files in the real schema (`prunebook.sweeps.store.write_run`)
with scores from a made-up model in which the paper's claims hold; the notebooks are run on it
with `results_root` pointing at a temporary folder, so no training is needed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from prunebook.analysis import claims, claims_table
from prunebook.analysis.claims import CLAIMS_BY_ID, ClaimResult
from prunebook.book import chapters
from prunebook.book.params import SPECS, ParameterError
from prunebook.config import CPU_NUM_ENV_STEPS
from prunebook.spec import REFERENCE_CONFIG
from prunebook.sweeps import registry, store

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {name: ROOT / "notebooks" / f"{name}.ipynb" for name in
             ("01_scaling_degradation", "02_pruned_scaling", "03_sparsity_levels")}
# Final raw score of dense x1 DQN per game in the fake model (random: Asterix 0.46, Breakout
# 0.44, Freeway 0.42, SpaceInvaders 4.2).
FAKE_BASE = {"Asterix": 6.0, "Breakout": 12.0, "Freeway": 40.0, "SpaceInvaders": 40.0,
             "Seaquest": 5.0}


def fake_factor(agent: str, width: int, sparsity: float) -> float:
    """Dense gets worse with width, pruned gets better; 90/95% beat dense, 99% about equal."""
    grow = (width - 1) / 4  # 0 at x1, 1 at x5
    base = 1.0 if agent == "dqn" else 1.2
    if sparsity == 0:
        return base * (1 - 0.3 * grow)
    level = {0.9: 1.25, 0.95: 1.3, 0.99: 1.0}.get(round(sparsity, 2), 1.1)
    return base * (1 + 0.1 * grow) * (level if width > 1 else 1.05)


def write_fake_results(root: Path, configs, seed: int = 0, noise: float = 0.1,
                       sweep: str | None = None) -> list[Path]:
    """One results file per config, in the schema `prunebook.sweeps.store` reads (in sweep
    `online_<preset>` unless `sweep` names another)."""
    paths = []
    for config in configs:
        rng = np.random.default_rng([seed, config.seed, sum(map(ord, config.run_id))])
        final = FAKE_BASE[config.game] * fake_factor(config.agent, config.width,
                                                     config.final_sparsity)
        iterations = []
        for i in range(config.num_iterations):
            progress = 1 - np.exp(-4 * (i + 1) / config.num_iterations)
            value = final * progress * float(rng.lognormal(0, noise)) + 0.5
            iterations.append({
                "iteration": i, "env_steps": (i + 1) * config.iteration_env_steps,
                "gradient_updates": (i + 1) * config.iteration_env_steps // 4,
                "train_return": value, "num_episodes": 10, "eval_return": None, "loss": 0.1,
                "sparsity": config.final_sparsity * min(1.0, i / (0.8 * config.num_iterations)),
                "wall_s": 1.0})
        name = sweep or "online_" + config.preset
        path = store.run_path(root, name, config.run_id)
        store.write_run(path, {"run_id": config.run_id, "sweep": name,
                                 "config": config.to_dict(), "iterations": iterations,
                                 "wall_clock_s": 1.0, "code_version": "fake",
                                 "device": "none (synthetic)",
                                 "finished_at": "2026-01-01T00:00:00Z"})
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def full_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    write_fake_results(root, registry.get_sweep("online_cpu").configs())
    return root


def sel02(**kw):
    return chapters.selection("cpu", ["dqn", "rainbow"], None, [0.0, 0.95], **kw)


# --------------------------------------------------------------------------- selections
def test_selection_adds_the_reference_and_matches_the_sweep():
    sel = chapters.selection("cpu", ["rainbow"], [3, 5], [0.0])
    assert REFERENCE_CONFIG in sel.cells
    ids = {c.run_id for c in sel.configs()}
    assert "dqn-Breakout-w1-s0-seed2" in ids and "rainbow-Asterix-w5-s0-seed0" in ids
    assert len(ids) == (2 + 1) * 4 * 3
    assert ids <= {c.run_id for c in registry.get_sweep("online_cpu").configs()}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"games": ["Seaquest"]}, "parameter 'games'"),
    ({"games": ["Pong"]}, "parameter 'games'"),
    ({"widths": [2]}, "parameter 'widths'"),
])
def test_selection_rejects_runs_the_sweep_does_not_have(kwargs, fragment):
    widths = kwargs.pop("widths", None)
    with pytest.raises(ParameterError, match=fragment):
        chapters.selection("cpu", ["dqn"], widths, [0.0], **kwargs)


def test_selection_at_ci_and_paper():
    ci = chapters.selection("ci", ["dqn"], None, [0.0, 0.95])
    assert ci.games == chapters.CI_GAMES and ci.widths == [1, 2]
    with pytest.raises(ParameterError, match="'games'"):
        chapters.selection("ci", ["dqn"], None, [0.0], games=["Pong"])
    paper = chapters.selection("paper", ["dqn"], None, [0.0])
    assert len(paper.games) == 15 and paper.seeds == (0, 1, 2, 3, 4)
    assert all(c.suite == "atari" and c.network == "impala" for c in paper.configs())


def test_sparsity_sweep_selection_needs_width_3_at_cpu():
    chapters.selection("cpu", ["dqn"], [3], [0.0, 0.9, 0.95, 0.99])
    with pytest.raises(ParameterError, match="does not contain"):
        chapters.selection("cpu", ["dqn"], [5], [0.9])


# --------------------------------------------------------------------------- coverage
def load_cpu(sel, root):
    return chapters.load("online", "cpu", sel, root)


def counts(data) -> dict[str, tuple]:
    """`coverage_summary` as {row: (finished, of)}."""
    table = chapters.coverage_summary(data)
    return {row: (table.loc[row, "finished"], table.loc[row, "of"]) for row in table.index}


def test_empty_results_folder(tmp_path):
    data = load_cpu(sel02(), tmp_path)
    assert data.sweep == "online_cpu" and data.present == set()
    assert counts(data) == {"runs this chapter needs": (0, 144),
                            "runs of the sweep online_cpu": (0, 168),
                            "configurations with every run finished": (0, 12),
                            "seeds finished for every configuration and game": (0, 3)}
    assert chapters.coverage_summary(data)["folder"].iloc[0].endswith("online_cpu")
    res = chapters.claim_results(data, ["2-dqn", "2-rainbow"])
    assert [r.verdict for r in res] == ["not yet run"] * 2
    assert chapters.figure_iqm_vs_width(data) is None


def test_partial_sweep_counts_and_complete_only_verdicts(tmp_path):
    sel = sel02()
    configs = sel.configs()
    # seeds 0 and 1 everywhere; seed 2 only for dense x1 (both agents) and pruned x5 of DQN
    keep = [c for c in configs if c.seed < 2 or c.width == 1 and c.final_sparsity == 0
            or (c.agent, c.width, c.final_sparsity) == ("dqn", 5, 0.95)]
    write_fake_results(tmp_path, keep)
    data = load_cpu(sel, tmp_path)
    assert counts(data)["runs this chapter needs"] == (len(keep), len(configs))
    assert data.balanced_seeds == [0, 1]
    assert counts(data)["seeds finished for every configuration and game"] == (2, 3)
    assert counts(data)["configurations with every run finished"] == (3, 12)
    table = data.coverage()  # dqn x1 dense, rainbow x1 dense, dqn x5 pruned have every run
    assert (table["runs finished"] == "12 of 12").sum() == 3
    res = {r.claim_id: r for r in chapters.claim_results(data, ["2-dqn", "2-rainbow",
                                                                "1-dqn"])}
    assert res["2-dqn"].verdict == "reproduced"  # complete comparison
    assert res["2-rainbow"].verdict == "not yet run"
    assert "Rainbow pruned 95% ×5: 8 of 12 runs" in res["2-rainbow"].note
    assert res["1-dqn"].verdict == "not yet run"  # dense x5 incomplete
    # figures use the balanced seeds only
    final = data.balanced_final()
    assert set(final["seed"]) == {0, 1} and final["normalized"].notna().all()


def test_widest_means_the_chapters_widest_not_the_widest_present(tmp_path):
    sel = sel02()
    write_fake_results(tmp_path, [c for c in sel.configs() if c.width < 5])
    data = load_cpu(sel, tmp_path)
    r = chapters.claim_results(data, ["2-dqn"])[0]
    assert r.verdict == "not yet run" and "×5" in r.note
    # whereas prunebook.analysis.claims alone would compare at width 3
    final = data.final()
    alone = claims.evaluate(CLAIMS_BY_ID["2-dqn"], final, np.random.default_rng(0),
                            reps=200)
    assert "×3" in alone.scale


def test_full_sweep_matches_the_front_page_claims_table(full_root):
    data = load_cpu(sel02(), full_root)
    assert counts(data)["seeds finished for every configuration and game"] == (3, 3)
    ours = {r.claim_id: r for r in chapters.claim_results(data, ["2-dqn", "1-dqn-pruned"],
                                                        reps=2_000)}
    front = {r.claim_id: r for r in claims.evaluate_all(
        claims_table.final_frames(store.load_runs(full_root))[0], reps=2_000,
        claims=[CLAIMS_BY_ID["2-dqn"], CLAIMS_BY_ID["1-dqn-pruned"]])}
    for cid in ours:
        assert ours[cid].verdict == front[cid].verdict == "reproduced"
        assert ours[cid].ours == pytest.approx(front[cid].ours)
        assert ours[cid].ci == pytest.approx(front[cid].ci)


def test_tables_and_sentences(full_root):
    data = load_cpu(sel02(), full_root)
    res = chapters.claim_results(data, ["1-dqn", "2-dqn", "2-rainbow"], reps=2_000)
    table = chapters.verdict_table(res)
    assert list(table.index) == ["1-dqn", "2-dqn", "2-rainbow"]
    assert set(table["verdict"]) == {"reproduced"}
    gains = chapters.gain_table(data, ["dqn"], reps=2_000)
    assert gains.loc[("dqn", 5, "95%"), "gain"] == table.loc["2-dqn", "gain"]
    assert gains.loc[("dqn", 5, "dense"), "gain"] == table.loc["1-dqn", "gain"]
    assert "MinAtar, 4 games" in chapters.scale_description(data.final())
    setup = chapters.setup_table(data)
    steps = f"{CPU_NUM_ENV_STEPS:,} agent steps"
    assert steps in setup.loc["training", "this chapter"]
    assert "10,000,000 agent steps = 40,000,000 frames" in setup.loc["training", "paper"]
    assert chapters.config_drift(data).empty
    assert chapters.unnormalisable_games(data).empty
    first, *rest = data.records
    # as a reader sees it: no index, column names in words, × and → (not x and ->)
    shown = chapters.readable(setup, "setup").data
    assert list(shown.columns) == ["setting", "this chapter", "paper"]
    text = " ".join(shown.astype(str).to_numpy().ravel())
    assert "×1" in text and "→" in text and "10×10" in text
    assert not any(bad in text for bad in (" x1", "10x10", "->", "-dirty"))
    # a record made from a tree with uncommitted changes is marked, and a footnote names it
    dirty = dataclasses.replace(data, records=(
        dict(first, code_version="abcdef0123456789-dirty"), *rest))
    marked = chapters.setup_table(dirty)
    assert "abcdef0*" in marked.loc["run files", "this chapter"]
    assert "-dirty" not in marked.loc["run files", "this chapter"]
    assert first["run_id"] in marked.attrs["footnote"]
    assert "not yet committed" in marked.attrs["footnote"]
    assert setup.attrs["footnote"] == "" or "-dirty" in setup.attrs["footnote"]
    config = {k: v for k, v in first["config"].items() if k != "kappa"} | {"learning_rate": 1.0}
    stale = dataclasses.replace(data, records=(dict(first, config=config), *rest))
    assert stale.configs[first["run_id"]]["learning_rate"] == 1.0
    drift = chapters.config_drift(stale)  # a missing default is no drift
    assert drift.to_dict("records") == [{
        "field": "learning_rate", "results files": 1, "e.g. run": first["run_id"],
        "in the file": "1.0", "from the preset today": repr(first["config"]["learning_rate"])}]


def test_comparisons_outside_the_selection_say_so(full_root):
    data = load_cpu(chapters.selection("cpu", ["rainbow"], [3, 5], [0.0, 0.95]), full_root)
    gains = chapters.gain_table(data, ["rainbow"], reps=200)
    assert set(gains["status"]) == {"not selected"}  # rainbow dense x1 is not selected
    r = chapters.claim_results(data, ["2-rainbow"], reps=200)[0]
    assert "outside this chapter's parameters: Rainbow dense ×1" in r.note


def test_paper_preset_without_results_says_not_yet_run(tmp_path):
    sel = chapters.selection("paper", ["dqn", "rainbow"], None, [0.0])
    data = chapters.load("online", "paper", sel, tmp_path)
    assert data.sweep == "online_paper" and data.folder.endswith("online_paper")
    assert counts(data)["runs this chapter needs"] == (0, len(sel.configs()))
    text = chapters.paper_instructions("01_scaling_degradation", ["dqn", "rainbow"], [1, 3, 5],
                                       [0.0])
    assert "--preset paper --name online_paper" in text and "-p preset paper" in text
    assert "VideoPinball" in text
    # a link to the built page of book/paper_scale.md (a page of the book's table of contents)
    assert "see [Running the paper's sweep](../book/paper_scale.html)." in text
    assert "book/paper_scale.md`" not in text
    root = Path(__file__).resolve().parents[1]
    assert (root / "book/paper_scale.md").exists()
    assert "file: book/paper_scale" in (root / "_toc.yml").read_text()


def test_measured_sparsity_and_iqm_table(full_root):
    sel = chapters.selection("cpu", ["dqn"], [3], [0.0, 0.9, 0.95, 0.99])
    data = load_cpu(sel, full_root)
    table = chapters.measured_sparsity(data)
    assert table.loc[("dqn", 3, "0.99"), "measured at the end (mean over runs)"] == "0.9900"
    iqms = chapters.iqm_table(data, sel.cells, reps=500)
    assert (iqms["runs per game"] == 3).all()


# --------------------------------------------------------------------------- params specs
@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_spec_has_the_chapter_knobs(name):
    spec = SPECS[name]
    for knob in ("preset", "seed", "games", "results_root", "bootstrap_reps"):
        assert knob in spec


def test_list_parameters_accept_papermill_strings():
    spec = SPECS["02_pruned_scaling"]
    assert spec["games"].validate("games", '["Breakout"]') == ["Breakout"]
    with pytest.raises(ParameterError, match="'widths'"):
        spec["widths"].validate("widths", "[0]")
    with pytest.raises(ParameterError, match="'games'"):
        spec["games"].validate("games", "Breakout")


# --------------------------------------------------------------------------- papermill
def _execute(name, tmp_path, parameters):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS[name]), str(out), parameters=parameters,
                               kernel_name="python3", cwd=str(NOTEBOOKS[name].parent),
                               progress_bar=False)
    return out


@pytest.mark.parametrize("parameters, fragment", [
    ({"preset": "ci", "gmaes": ["Breakout"]}, "unknown parameter 'gmaes'"),
    ({"preset": "ci", "games": ["Breakoutt"]}, "parameter 'games'"),
    ({"preset": "ci", "games": '["Pong"]'}, "parameter 'games'"),
    ({"preset": "ci", "widths": [0]}, "parameter 'widths'"),
    ({"preset": "ci", "widths": "[0]"}, "parameter 'widths'"),
])
def test_bad_parameters_fail_before_compute(tmp_path, parameters, fragment):
    papermill = pytest.importorskip("papermill")
    import nbformat

    with pytest.raises(papermill.PapermillExecutionError) as info:
        _execute("02_pruned_scaling", tmp_path, parameters)
    assert info.value.ename == "ParameterError" and fragment in info.value.evalue
    cells = [c for c in nbformat.read(tmp_path / "02_pruned_scaling.ipynb", as_version=4).cells
             if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(cells)
                  if any(o.get("output_type") == "error" for o in c.outputs))
    # the params.check cell, or the next one (games/widths the preset's sweep lacks)
    source = cells[failed].source
    assert "params.check(globals()" in source or "chapters.selection(" in source
    assert "load_or_run" not in source
    assert all(c.execution_count is None for c in cells[failed + 1:])


def _text(path) -> str:
    import nbformat

    out = []
    for cell in nbformat.read(path, as_version=4).cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                       + str(o.get("data", {}).get("text/markdown", ""))
                       + str(o.get("data", {}).get("text/html", "")))
    return "\n".join(out)


def _row(text: str, label: str) -> list[str]:
    """The cells after `label` in the first HTML table row that starts with it."""
    import re

    row = re.search(rf"<td[^>]*>{re.escape(label)}</td>(.*?)</tr>", text, re.S)
    assert row is not None, label
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_notebook_on_a_synthetic_full_sweep(name, tmp_path, full_root):
    text = _text(_execute(name, tmp_path, {"results_root": str(full_root),
                                           "bootstrap_reps": 2_000}))
    assert _row(text, "seeds finished for every configuration and game")[:2] == ["3", "3"]
    assert _row(text, "runs this chapter needs")[1] == _row(text, "runs this chapter needs")[0]
    assert "reproduced" in text and "not yet run" not in text


def test_notebook_on_a_synthetic_partial_sweep(tmp_path):
    configs = registry.get_sweep("online_cpu").configs()
    write_fake_results(tmp_path / "r", [c for c in configs if c.seed == 0 or c.width < 5])
    text = _text(_execute("02_pruned_scaling", tmp_path,
                          {"results_root": str(tmp_path / "r"), "bootstrap_reps": 2_000}))
    # seed 0 everywhere, seeds 1 and 2 without width 5: figures use seed 0 only
    assert _row(text, "seeds finished for every configuration and game")[:2] == ["1", "3"]
    assert _row(text, "configurations with every run finished")[:2] == ["8", "12"]
    assert "not yet run" in text


@pytest.mark.slow
def test_notebook_02_at_preset_ci(tmp_path):
    """The issue's command: papermill ... -p preset ci -p games '["Breakout"]' -p seed 3."""
    text = _text(_execute("02_pruned_scaling", tmp_path,
                          {"preset": "ci", "games": '["Breakout"]', "seed": 3}))
    assert "prunebook-ci-" in _row(text, "runs this chapter needs")[2]  # a temporary folder



def test_one_loader_checks_its_selection_and_preset(tmp_path):
    with pytest.raises(ParameterError, match="the selection is of sweep online_cpu"):
        chapters.load("online", "std", sel02(), tmp_path)
    with pytest.raises(ParameterError, match="preset"):
        chapters.load("controls", "paper", results_root=tmp_path)
    # no runs given: the whole sweep; the lender's runs are read beside the sweep's own
    write_fake_results(tmp_path, [c for c in registry.get_sweep("online_cpu").configs()
                                  if c.agent == "dqn" and c.width == 1 and c.seed == 0])
    data = chapters.load("baselines", "cpu", results_root=tmp_path)
    assert len(data.expected) == len(registry.get_sweep("baselines_cpu").configs())
    assert data.records == () and data.lender == "online_cpu"
    assert {r["config"]["final_sparsity"] for r in data.lent} == {0.0, 0.95}
    assert len(data.lent) == 8  # dense and 95% x1, 4 games, seed 0
    assert counts(data) == {"runs this chapter needs": (0, len(data.expected)),  # the sweep
                            "comparator runs lent by online_cpu": (8, "—")}
    assert data.final().empty  # the sweep's own runs: none yet


def test_result_box_states_the_answer_first(full_root):
    data = load_cpu(sel02(), full_root)
    res = chapters.claim_results(data, ["2-dqn", "1-dqn-pruned"], reps=2_000)
    box = chapters.result_box(res, "Do pruned networks improve as they widen?")
    assert box.startswith("> **Do pruned networks improve as they widen?**")
    assert "Verdicts: 2 reproduced." in box
    assert "paper DQN +~60% (×1.6)" in box and "**reproduced**" in box
    assert f"[{res[0].ci[0]:.2f}, {res[0].ci[1]:.2f}]" in box  # ours, with its interval
    assert "**Scale:**" in box and "undecided" not in box


def test_result_box_for_an_unfinished_sweep():
    waiting = [ClaimResult(f"7-l2-w{w}", "not yet run", None, None, "p", "—", None,
                           "waiting for dqn dense + L2: 0 of 12 runs") for w in (1, 3, 5)]
    box = chapters.result_box(waiting, "Q?", progress=(0, 144),
                              known={"runs lent": 72, "reruns identical": "0 of 4"})
    assert "0 of 144 runs of the sweep finished so far. Runs lent: 72; reruns identical: " \
        "0 of 4." in box
    assert "**So far:** Runs lent: 72." in chapters.result_box(waiting, "Q?",
                                                             known={"runs lent": 72})
    assert box.count("not yet run") >= 3
    many = waiting + [dataclasses.replace(w, claim_id=w.claim_id.replace("l2", "reset"))
                      for w in waiting]
    assert "**Not yet run** (6 claims" in chapters.result_box(many, "Q?")


def test_readable_tables_have_words_not_code():
    import pandas as pd

    table = pd.DataFrame({"agent": ["cql", "cql"], "width": [1, 3], "sparsity": [0.0, 0.95],
                          "peak_update": [40_000, 2_500], "ci_low": [0.31234, float("nan")],
                          "note": ["a sentence " * 20, "b"]}).set_index(["agent", "width"])
    styled = chapters.readable(table, "t")
    shown = styled.data
    assert list(shown.columns) == ["agent", "width", "sparsity", "update of the peak",
                                   "95% CI low", "note"]
    assert list(shown["sparsity"]) == ["dense", "95%"]
    assert list(shown["update of the peak"]) == ["40,000", "2,500"]
    assert list(shown["95% CI low"]) == ["0.312", "—"]
    html = styled.to_html()
    assert "T_t" in html and "…" not in html and "a sentence " * 20 in html
    assert html == chapters.readable(table, "t").to_html()  # the same output on a re-run
    # each header aligned as its column: numbers right (width 1, 40,000), words left
    right = " ".join(re.findall(r"([^}]*)\{\s*text-align: right", html))
    assert {"level0_col1", "row0_col1", "level0_col3", "row1_col4"} <= set(
        re.findall(r"(level0_col\d|row\d_col\d)", right))
    assert not re.search(r"(level0|row\d)_col[025]\b", right)  # agent, sparsity, note
    assert chapters.readable(None) is None
    empty = chapters.readable(table.iloc[:0], "e")  # a sentence, not a lone header row
    assert empty._repr_html_() == ("<p><em>Nothing here yet: this table fills in as runs "
                                   "finish.</em></p>")
    assert empty.columns[3] == "update of the peak"


def test_chapter_0_result_box():
    from prunebook.book import schedule

    run = schedule.train_tiny_gmp(0.95, 300)
    box = schedule.result_box(run, 0.95, "erk", 1)
    assert "**Answer:** yes" in box and "300-update run" in box


def test_kept_weights_scores_a_configuration_on_every_game_or_not_at_all(tmp_path):
    """One static-random run on Breakout must not shrink every configuration's score to
    Breakout (it did: the games every configuration has); it gets a row without a score."""
    from prunebook.book.chapters import methods

    write_fake_results(tmp_path, [c for c in registry.get_sweep("online_cpu").configs()
                                  if c.agent == "dqn"])
    [static] = [c for c in registry.get_sweep("controls_cpu").configs()
                if c.mask_method == "static_random" and c.width == 1 and c.seed == 0
                and c.game == "Breakout"]
    write_fake_results(tmp_path, [static], sweep="controls_cpu")
    table = methods.iqm_by_config(chapters.load("controls", "cpu", results_root=tmp_path),
                                  reps=200)
    unscored = table[table["IQM"].isna()]
    assert unscored["method"].tolist() == ["static_random"] and unscored["games"].tolist() == [1]
    scored = table.dropna(subset=["IQM"])
    assert len(scored) >= 4 and (scored["games"] == 4).all()
    assert (scored["runs per game"] == 3).all()
    dense_x1 = scored[(scored["width"] == 1) & (scored["sparsity"] == 0)]
    assert float(dense_x1["IQM"].iloc[0]) == pytest.approx(1.0, abs=0.15)  # the reference


def test_the_scale_line_counts_seeds_per_method_not_per_width_and_sparsity():
    """A figure with dense (3 seeds) and dense + L2 (2 seeds) at the same width said "3 seeds
    per configuration and game"."""
    import pandas as pd

    rows = [{"suite": "minatar", "agent": "dqn", "width": 1, "sparsity": 0.0, "method": method,
             "game": game, "seed": seed, "env_steps": 500_000, "preset": "cpu"}
            for method, seeds in (("", 3), ("l2", 2)) for game in ("Breakout", "Asterix")
            for seed in range(seeds)]
    line = chapters.scale_description(pd.DataFrame(rows))
    assert "2-3 seeds per configuration and game" in line
    same = chapters.scale_description(pd.DataFrame(rows).query("method == ''"))
    assert "3 seeds per configuration and game" in same and "2-3" not in same
