"""`prunebook export`: a sweep's per-run scores and rliable arrays, from a small results tree
written by the store's own builder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prunebook import cli
from prunebook.analysis import export
from prunebook.config import ci_config
from prunebook.sweeps import store

SWEEP = "tiny"
GAMES = ("Asterix", "Breakout")


def _write(root, config, returns, device="cpu: Some CPU (family 25, model 17; AVX-512)"):
    its = [{"iteration": i, "env_steps": 1000 * (i + 1), "gradient_updates": 10 * i,
            "train_return": r, "eval_return": None} for i, r in enumerate(returns)]
    record = store.run_record(config.to_dict(), config.run_id, SWEEP, its, 5.0,
                              version="abc123", device=device)
    store.write_run(store.run_path(root, SWEEP, config.run_id), record)


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    for game in GAMES:
        for seed in (0, 1):
            # the dense x1 DQN runs are the reference: their mean is 1.0 by construction
            _write(root, ci_config("dqn", game=game, seed=seed), [1.0, 2.0, 3.0 + 2 * seed])
            _write(root, ci_config("dqn", game=game, seed=seed, final_sparsity=0.95),
                   [1.0, 2.0, 6.0])
    # a pruned x2 run on one game only: not a complete configuration for rliable
    _write(root, ci_config("dqn", game="Asterix", seed=0, width=2), [0.0, 0.0, 9.0])
    return root


def test_runs_table_has_one_row_per_run_with_what_made_it(results):
    table = export.runs_table(results, SWEEP)
    assert list(table.columns) == export.COLUMNS and len(table) == 9
    row = table[(table["game"] == "Breakout") & (table["seed"] == 1) & (table["sparsity"] == 0)]
    assert row["final_return"].item() == 5.0
    assert row["last3_return"].item() == pytest.approx((1 + 2 + 5) / 3)
    assert set(table["code_version"]) == {"abc123"} and "family 25" in table["cpu"].iloc[0]
    dense = table[(table["sparsity"] == 0) & (table["width"] == 1)]
    assert dense.groupby("game")["normalized"].mean().to_numpy() == pytest.approx([1.0, 1.0])


def test_rliable_arrays_are_runs_by_games_per_complete_configuration(results):
    arrays = export.score_arrays(export.runs_table(results, SWEEP))
    assert sorted(arrays) == ["dqn_w1_s0", "dqn_w1_s0.95"]  # w2 lacks Breakout
    assert arrays["dqn_w1_s0"].shape == (2, 2)
    assert export.config_key("dqn", 5, 0.95, "lottery") == "dqn_w5_s0.95_lottery"


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_cli_writes_the_files_and_they_are_reproducible(results, tmp_path, fmt):
    out = tmp_path / "out"
    args = ["export", "--sweep", SWEEP, "--format", fmt, "--out", str(out),
            "--results", str(results)]
    assert cli.main(args) == 0
    runs, rliable = out / f"{SWEEP}_runs.{fmt}", out / f"{SWEEP}_rliable.npz"
    first = runs.read_bytes(), rliable.read_bytes()
    assert cli.main(args) == 0 and (runs.read_bytes(), rliable.read_bytes()) == first
    table = export.runs_table(results, SWEEP)
    if fmt == "csv":
        read = pd.read_csv(runs, keep_default_na=False, na_values=[""])
        assert read["final_return"].tolist() == pytest.approx(table["final_return"].tolist())
    else:
        read = dict(np.load(runs))
        assert read["run_id"].tolist() == table["run_id"].tolist()
    with np.load(rliable) as arrays:
        assert arrays["dqn_w1_s0.95"].shape == (2, 2)


def test_cli_names_a_sweep_without_runs(results, tmp_path, capsys):
    assert cli.main(["export", "--sweep", "nope", "--results", str(results),
                     "--out", str(tmp_path)]) == 2
    assert "no finished runs of sweep 'nope'" in capsys.readouterr().err
