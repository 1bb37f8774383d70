"""Verdict rules on synthetic results built to be each verdict; table and markdown output."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prunebook.analysis import atari_scores, claims, claims_table
from prunebook.analysis.claims import CLAIMS, CLAIMS_BY_ID, NON_INFERIORITY_MARGIN
from prunebook.sweeps import store

GAMES = ["Pong", "Breakout", "Asterix", "Qbert", "Boxing", "Enduro"]


def frame(cells, agent="dqn", seeds=5, noise=0.05, seed=0, sweep="online", preset="paper",
          suite="atari", games=GAMES):
    """Per-run final scores whose human-normalized value is ``level * (1 + noise * N(0, 1))``."""
    rng = np.random.default_rng(seed)
    rows = []
    for (width, sparsity), level in cells.items():
        for game in games:
            random, human = atari_scores.atari_reference(game)
            for s in range(seeds):
                hn = level * (1.0 + noise * rng.standard_normal())
                rows.append(dict(run_id=f"{agent}-{game}-w{width}-s{sparsity}-seed{s}",
                                 sweep=sweep, agent=agent, suite=suite, game=game, width=width,
                                 sparsity=sparsity, seed=s, preset=preset, env_steps=10_000,
                                 score=random + hn * (human - random)))
    return pd.DataFrame(rows)


def run(claim_id, df, reps=4000):
    return claims.evaluate(CLAIMS_BY_ID[claim_id], df, np.random.default_rng(0), reps=reps)


def test_verdict_truth_table():
    v = claims.verdict
    assert v("greater", (1.1, 1.5)) == "reproduced"
    assert v("greater", (0.5, 0.9)) == "contradicted"
    assert v("greater", (0.9, 1.1)) == "inconclusive"
    assert v("less", (0.5, 0.9)) == "reproduced"
    assert v("less", (1.1, 1.5)) == "contradicted"
    assert v("less", (0.95, 1.05)) == "inconclusive"
    assert v("non_inferior", (0.92, 1.2), 0.9) == "reproduced"
    assert v("non_inferior", (0.5, 0.85), 0.9) == "contradicted"
    assert v("non_inferior", (0.85, 1.2), 0.9) == "inconclusive"
    assert v("greater", (np.nan, np.nan)) == "inconclusive"
    with pytest.raises(ValueError):
        v("bigger", (1.0, 2.0))


def test_claim_catalogue():
    ids = {c.id for c in CLAIMS}
    assert {"1-dqn", "1-rainbow", "2-dqn", "2-rainbow", "3-90", "3-95", "3-99", "4-cql-w1",
            "4-cql-w3", "4-cql-c51-w1", "4-cql-c51-w3"} <= ids
    by = CLAIMS_BY_ID
    assert by["2-dqn"].paper_ratio == 1.6 and by["2-rainbow"].paper_ratio == 1.5
    assert by["3-90"].paper_ratio == by["3-95"].paper_ratio == 1.33
    assert by["3-99"].rule == "non_inferior" and by["3-99"].margin == NON_INFERIORITY_MARGIN
    for c in CLAIMS:
        text = " ".join(str(v) for v in dataclasses.asdict(c).values())
        assert "173" not in text  # the offline claim has no number in the paper
        if c.id.startswith("4-"):
            assert c.paper_ratio is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        by["2-dqn"].paper_ratio = 2.0


def test_claim2_reproduced_with_paper_magnitude_inside():
    df = frame({(1, 0.0): 1.0, (3, 0.95): 1.3, (5, 0.95): 1.6, (5, 0.0): 0.8})
    res = run("2-dqn", df)
    assert res.verdict == "reproduced"
    assert res.ours == pytest.approx(1.6, abs=0.05)
    assert res.ci[0] > 1 and res.paper_in_ci is True
    assert "DQN pruned 95% ×5 vs DQN dense ×1" in res.scale  # widest width resolved to 5
    assert "6 games" in res.scale and "runs/game 5 vs 5" in res.scale
    assert "10,000 env steps" in res.scale
    assert run("1-dqn", df).verdict == "reproduced"  # dense w5 (0.8) below dense w1
    assert run("1-dqn-pruned", frame({(1, 0.95): 1.0, (5, 0.95): 1.6})).verdict == "reproduced"


def test_claim2_reproduced_but_paper_magnitude_outside():
    res = run("2-dqn", frame({(1, 0.0): 1.0, (5, 0.95): 1.2}, noise=0.02))
    assert res.verdict == "reproduced" and res.paper_in_ci is False


def test_contradicted():
    df = frame({(1, 0.0): 1.0, (5, 0.95): 0.6, (5, 0.0): 1.4})
    assert run("2-dqn", df).verdict == "contradicted"
    assert run("1-dqn", df).verdict == "contradicted"


def test_inconclusive_when_ci_straddles_one():
    df = frame({(1, 0.0): 1.0, (5, 0.95): 1.0}, noise=0.8, seeds=3, games=GAMES[:2])
    res = run("2-dqn", df)
    assert res.ci[0] < 1 < res.ci[1]
    assert res.verdict == "inconclusive"


def test_non_inferiority_claim_3_99():
    def at(level, noise=0.03):
        return run("3-99", frame({(3, 0.0): 1.0, (3, 0.99): level}, noise=noise))

    assert at(0.98).verdict == "reproduced"
    assert at(0.5).verdict == "contradicted"
    assert at(0.9, noise=0.3).verdict == "inconclusive"
    assert run("3-95", frame({(3, 0.0): 1.0, (3, 0.95): 1.33})).verdict == "reproduced"


def test_not_yet_run():
    res = run("2-dqn", frame({(1, 0.0): 1.0}))  # no pruned runs
    assert res.verdict == "not yet run" and res.reason == "missing_side"
    res = run("2-dqn", frame({(1, 0.0): 1.0, (1, 0.95): 1.5}))  # widest is width 1
    assert res.verdict == "not yet run" and "width above 1" in res.note
    assert res.reason == "no_wider"
    assert run("2-rainbow", frame({(1, 0.0): 1.0, (5, 0.95): 1.5})).verdict == "not yet run"
    assert run("4-cql-w1", frame({(1, 0.0): 1.0})).verdict == "not yet run"
    empty = frame({(1, 0.0): 1.0}).iloc[:0]
    assert run("3-90", empty).verdict == "not yet run"


def test_offline_scale_counts_gradient_updates_not_env_steps():
    df = frame({(1, 0.0): 1.0, (1, 0.95): 1.3}, agent="cql").assign(env_steps=0,
                                                                     gradient_updates=62_500)
    res = run("4-cql-w1", df)
    assert res.verdict == "reproduced"
    assert "62,500 gradient updates" in res.scale and "env steps" not in res.scale


def test_unnormalisable_minatar_runs_are_not_yet_run():
    # MinAtar Rainbow runs but no dense width-1 DQN reference anywhere: cannot normalise.
    df = frame({(1, 0.0): 1.0, (5, 0.95): 1.5}, agent="rainbow", suite="minatar",
               games=["Breakout"])
    res = run("2-rainbow", df)
    assert res.verdict == "not yet run" and "reference" in res.note
    assert res.reason == "unnormalisable"


def test_evaluate_refuses_mixed_groups_and_evaluate_all_splits_them():
    a = frame({(1, 0.0): 1.0, (5, 0.95): 1.6}, sweep="a", preset="cpu")
    b = frame({(1, 0.0): 1.0, (5, 0.95): 0.5}, sweep="b", preset="paper", seed=1)
    both = pd.concat([a, b], ignore_index=True)
    with pytest.raises(ValueError, match="groups"):
        run("2-dqn", both)
    results = claims.evaluate_all(both, reps=2000)
    two = [r for r in results if r.claim_id == "2-dqn"]
    assert [r.verdict for r in two] == ["reproduced", "contradicted"]
    assert "sweep a" in two[0].scale and "preset paper" in two[1].scale
    assert all(r.verdict == "not yet run" for r in results if r.claim_id.startswith("3-"))
    # seeded per claim: the same call gives identical intervals
    again = [r for r in claims.evaluate_all(both, reps=2000) if r.claim_id == "2-dqn"]
    assert [r.ci for r in two] == [r.ci for r in again]


def test_claims_table_and_markdown_with_no_results(tmp_path):
    table = claims_table.claims_table(tmp_path / "nothing", reps=100)
    assert list(table.columns) == ["claim", "paper", "ours", "ci95", "verdict", "robustness",
                                   "scale"]
    assert len(table) == len(CLAIMS)
    assert (table["verdict"] == "not yet run").all()
    out = tmp_path / "claims.md"
    claims_table.write_claims_markdown(out, results_root=tmp_path, reps=100)
    text = out.read_text()
    assert text.startswith("| claim | paper | ours | ci95 | verdict | robustness | scale |")
    assert text.count("not yet run") == len(CLAIMS)
    assert "lower bound above 0.9" in text  # the non-inferiority margin is stated


def test_claims_table_reads_results_files(tmp_path):
    df = frame({(1, 0.0): 1.0, (5, 0.95): 1.6}, games=GAMES[:3], seeds=3)
    sweep = tmp_path / "online_test"
    sweep.mkdir()
    for row in df.itertuples(index=False):
        config = dict(agent=row.agent, suite=row.suite, game=row.game, width=row.width,
                      final_sparsity=row.sparsity, seed=row.seed, preset=row.preset,
                      num_env_steps=2000)
        run_id = store.config_run_id(config)
        its = [dict(iteration=i, env_steps=1000 * (i + 1), gradient_updates=10, num_episodes=3,
                    train_return=row.score, eval_return=None, loss=0.0, sparsity=row.sparsity,
                    wall_s=1.0) for i in range(2)]
        (sweep / f"{run_id}.json").write_text(json.dumps(dict(
            schema=1, run_id=run_id, sweep="online_test", config=config, iterations=its,
            wall_clock_s=2.0, code_version="test", device="cpu", finished_at="now")))
    res = {r.claim_id: r for r in claims_table.results_for(tmp_path, reps=500)}
    assert res["2-dqn"].verdict == "reproduced", res["2-dqn"]
    assert "2,000 env steps" in res["2-dqn"].scale and "sweep online_test" in res["2-dqn"].scale
    table = claims_table.table_of(list(res.values()))
    row = table[table["claim"] == "2-dqn"].iloc[0]
    assert row["scale"] == ("[online_test · 3 games · 3 seeds]"
                            "(../notebooks/02_pruned_scaling.ipynb)")
    assert (table.loc[table["claim"] == "3-90", "verdict"] == "not yet run").all()


def test_partial_sweep_withholds_the_verdict():
    """A planned comparison with missing runs is "not yet run", saying what it waits for."""
    import pandas as pd

    from prunebook.analysis.claims import CLAIMS_BY_ID, evaluate

    plan = pd.DataFrame([("dqn", "Breakout", w, 0.0, s) for w in (1, 5) for s in (0, 1)],
                        columns=["agent", "game", "width", "sparsity", "seed"])
    rows = [dict(run_id=f"r{w}{s}", sweep="x", agent="dqn", suite="minatar", game="Breakout",
                 width=w, sparsity=0.0, seed=s, preset="cpu", score=10.0 - w)
            for w, s in ((1, 0), (1, 1), (5, 0))]  # (5, seed 1) is still running
    claim = CLAIMS_BY_ID["1-dqn"]
    rng = np.random.default_rng(0)
    partial = evaluate(claim, pd.DataFrame(rows), rng, reps=200, plan=plan)
    assert partial.verdict == "not yet run" and "DQN dense ×5: 1 of 2 runs" in partial.note
    assert partial.reason == "waiting"
    rows.append(dict(rows[-1], run_id="r51", seed=1))
    full = evaluate(claim, pd.DataFrame(rows), rng, reps=200, plan=plan)
    assert full.verdict != "not yet run"


def test_runs_of_the_same_name_in_two_sweeps_are_not_pooled(tmp_path):
    # chapter 4's logging DQN runs share their run ids with chapter 1's dense x1 DQN runs

    def write(sweep, returns):
        iterations = [dict(iteration=i, env_steps=1000 * (i + 1), gradient_updates=0,
                           train_return=r, eval_return=None) for i, r in enumerate(returns)]
        config = dict(agent="dqn", suite="minatar", game="Breakout", width=1,
                      final_sparsity=0.0, seed=0, preset="cpu")
        store.write_run(store.run_path(tmp_path, sweep, "dqn-Breakout-w1-s0-seed0"),
                        dict(run_id="dqn-Breakout-w1-s0-seed0", sweep=sweep, config=config,
                               iterations=iterations))

    write("offline_x", [1.0, 10.0])
    write("online_x", [2.0, 30.0, 50.0])
    final = claims_table.final_frames(store.load_runs(tmp_path))[0].set_index("sweep")
    assert final.loc["offline_x", "score"] == 10.0 and final.loc["online_x", "score"] == 50.0
    assert list(final.loc[["offline_x", "online_x"], "env_steps"]) == [2000, 3000]


def test_each_row_links_to_the_chapter_of_its_claim_and_sweep():
    assert claims_table.chapter_of("1-dqn") == "01_scaling_degradation"
    assert claims_table.chapter_of("1-dqn-pruned", "online_cpu") == "02_pruned_scaling"
    assert claims_table.chapter_of("1-dqn", "online_std") == "05_standard_budget"
    assert claims_table.chapter_of("1-rainbow", "rainbow_vmax100") == "02_pruned_scaling"


def test_a_sweep_waits_only_for_comparisons_it_plans():
    root = Path(__file__).resolve().parents[1] / "results"
    runs = store.load_runs(root, sweep="online_std")  # committed: at least one run
    assert len(runs)
    final = store.final_scores(runs)
    plan = claims.planned_runs("online_std")
    rng = np.random.default_rng(0)
    waits = {cid: claims.evaluate(CLAIMS_BY_ID[cid], final, rng, reps=10, plan=plan).note
             for cid in ("1-dqn", "1-rainbow", "3-90")}
    assert waits["1-dqn"].startswith("waiting")  # planned, not complete yet
    assert not waits["1-rainbow"].startswith("waiting")  # online_std runs no Rainbow
    assert not waits["3-90"].startswith("waiting")  # nor DQN at width 3


def test_a_result_without_a_verdict_names_a_known_reason():
    """Chapters read why a comparison has no verdict from `reason`, never from the note's
    words, so every reason has a status and an unknown one fails where it is made."""
    from prunebook.analysis.claim_rules import NOT_RUN_REASONS
    from prunebook.analysis.claims import CLAIMS_BY_ID, not_run_result
    from prunebook.book.chapters.verdicts import STATUS_OF_REASON, comparison_status

    assert set(STATUS_OF_REASON) == set(NOT_RUN_REASONS)
    claim = CLAIMS_BY_ID["1-dqn"]
    with pytest.raises(ValueError, match="reason='late'"):
        not_run_result(claim, "—", "x", "late")
    # the words of a note no longer decide the status: a waiting note with another reason
    odd = not_run_result(claim, "—", "waiting for nothing", "outside_selection")
    assert comparison_status(odd) == "not selected"
    assert comparison_status(not_run_result(claim, "—", "no runs yet", "no_runs")) == (
        "not yet run")
