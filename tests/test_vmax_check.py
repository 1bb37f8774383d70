"""Chapter 2's v_max check: says "not run yet" without the sweep, reads its runs and the ones
it is compared with through the chapters' one loader, and on a copy of the committed runs
gives the committed verdicts back."""

import json
import shutil
from pathlib import Path

from prunebook.analysis import normalization
from prunebook.book import chapters
from prunebook.book.chapters import data as chapter_data
from prunebook.book.chapters import vmax
from prunebook.spec import REFERENCE_CONFIG
from prunebook.sweeps import store

ROOT = Path(__file__).resolve().parent.parent


def copy_relabelled(tmp_path: Path) -> Path:
    """The committed online_cpu runs of the check's games, and their Rainbow x1 and x5 runs
    again as `rainbow_vmax100`'s: same data under the new name."""
    shutil.copy(ROOT / "results" / "minatar_random_scores.json", tmp_path)
    base = tmp_path / "online_cpu"
    base.mkdir()
    copy = tmp_path / "rainbow_vmax100"
    copy.mkdir()
    for path in (ROOT / "results" / "online_cpu").glob("*.json"):
        record = json.loads(path.read_text())
        c = record["config"]
        if c["game"] not in ("Breakout", "SpaceInvaders"):
            continue
        shutil.copy(path, base)
        if c["agent"] == "rainbow" and c["width"] in (1, 5):
            record["sweep"] = "rainbow_vmax100"
            (copy / path.name).write_text(json.dumps(record))
    return tmp_path


def test_nothing_without_the_sweep_or_at_another_preset(tmp_path):
    assert chapters.vmax_check(tmp_path) == (None, None)
    assert chapters.vmax_check(ROOT / "results", preset="ci") == (None, None)
    assert normalization.reference_sweep("rainbow_vmax100") == "online_cpu"


def test_the_loader_lends_the_compared_rainbow_runs_and_the_reference(tmp_path):
    data = chapters.load("vmax", "cpu", results_root=copy_relabelled(tmp_path))
    assert data.sweep == "rainbow_vmax100" and data.lender == "online_cpu"
    assert len(data.records) == 24  # 2 games x 2 widths x 2 sparsities x 3 seeds
    lent = {(c["agent"], c["width"], c["final_sparsity"]) for c in
            (r["config"] for r in data.lent)}
    assert {k for k in lent if k[0] != "rainbow"} == {REFERENCE_CONFIG}  # no other DQN run
    assert len(data.lent) == 2 * 3 * 2 * 3 + 2 * 3  # Rainbow x1/x3/x5 dense and 95%; reference
    assert set(data.runs["sweep"]) == {"rainbow_vmax100", "online_cpu"}


def test_the_check_reads_through_the_loader_and_gives_identical_runs_the_same_verdicts(
        tmp_path, monkeypatch):
    # the committed Rainbow runs of the check's cells, relabelled: same data, same generators,
    # so both columns must agree exactly and every direction "holds"
    root = copy_relabelled(tmp_path)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return chapter_data.load(*args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("the check read the results folder itself")

    monkeypatch.setattr(vmax, "load", spy)
    monkeypatch.setattr(store, "load_runs", forbidden)
    monkeypatch.setattr(store, "scan", forbidden)
    scope, table = chapters.vmax_check(root, reps=2000)
    assert calls == [("vmax", "cpu")]
    assert list(table.index) == ["1-rainbow", "1-rainbow-pruned", "2-rainbow"]
    assert (table["direction holds"] == "yes").all(), table
    assert (table.iloc[:, 0] == table.iloc[:, 1]).all()
    assert scope.to_dict("records") == [{"v_max": "10", "games": "Breakout, SpaceInvaders",
                                         "seeds": "0, 1, 2", "runs": 24}]
