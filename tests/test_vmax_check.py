"""Chapter 2's v_max check: says "not run yet" without the sweep, borrows online_cpu's
reference runs, and on a copy of the committed runs gives the committed verdicts back."""

import json
import shutil
from pathlib import Path

from prunebook.analysis import normalization
from prunebook.book import chapters

ROOT = Path(__file__).resolve().parent.parent


def test_nothing_without_the_sweep_or_at_another_preset(tmp_path):
    assert chapters.vmax_check(tmp_path) == (None, None)
    assert chapters.vmax_check(ROOT / "results", preset="ci") == (None, None)
    assert normalization.reference_sweep("rainbow_vmax100") == "online_cpu"


def test_identical_runs_under_the_new_name_give_the_same_verdicts(tmp_path):
    # the committed Rainbow runs of the check's cells, relabelled: same data, same generators,
    # so both columns must agree exactly and every direction "holds"
    shutil.copy(ROOT / "results" / "minatar_random_scores.json", tmp_path)
    base = tmp_path / "online_cpu"
    base.mkdir()
    vmax = tmp_path / "rainbow_vmax100"
    vmax.mkdir()
    for path in (ROOT / "results" / "online_cpu").glob("*.json"):
        record = json.loads(path.read_text())
        c = record["config"]
        if c["game"] not in ("Breakout", "SpaceInvaders"):
            continue
        shutil.copy(path, base)
        if c["agent"] == "rainbow" and c["width"] in (1, 5):
            record["sweep"] = "rainbow_vmax100"
            (vmax / path.name).write_text(json.dumps(record))
    scope, table = chapters.vmax_check(tmp_path, reps=2000)
    assert list(table.index) == ["1-rainbow", "1-rainbow-pruned", "2-rainbow"]
    assert (table["direction holds"] == "yes").all(), table
    assert (table.iloc[:, 0] == table.iloc[:, 1]).all()
    assert scope.to_dict("records") == [{"v_max": "10", "games": "Breakout, SpaceInvaders",
                                         "seeds": "0, 1, 2", "runs": 24}]
