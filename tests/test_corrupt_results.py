"""Corrupt or mismatched results files: every reader names the file and the problem; the
runner never counts one as finished (it restores the cached copy or reruns, and says which);
`prunebook status` lists them; extra fields are ignored."""

from __future__ import annotations

import json

import pytest

from prunebook import cli
from prunebook.analysis import claims_table
from prunebook.book import chapters
from prunebook.config import ci_config
from prunebook.sweeps import checkpoints, cost, local, store
from prunebook.sweeps.grid import Grid, Sweep
from prunebook.sweeps.store import ResultsFileError

SWEEP = "t"


def _record(config, sweep=SWEEP, **extra):
    its = [dict(iteration=i, env_steps=100 * (i + 1), gradient_updates=10, train_return=5.0 + i,
                eval_return=None) for i in range(2)]
    return dict(run_id=config.run_id, sweep=sweep, config=config.to_dict(), iterations=its,
                wall_clock_s=3.0, **extra)


def _write(root, config, record=None):
    path = store.run_path(root, SWEEP, config.run_id)
    store.write_run(path, record or _record(config))
    return path


def _cases(config):
    """(name, how to break a good file, the problem the error must name)."""
    other = ci_config("dqn", seed=7)
    return [
        ("truncated", lambda p: p.write_text(p.read_text()[:40]), "unreadable"),
        ("not json", lambda p: p.write_bytes(b"\xff\xfe"), "unreadable"),
        ("no iterations", lambda p: _edit(p, lambda r: r.pop("iterations")),
         "missing field(s) ['iterations']"),
        ("config lacks seed", lambda p: _edit(p, lambda r: r["config"].pop("seed")),
         "config is missing field(s) ['seed']"),
        ("iteration lacks return", lambda p: _edit(p, lambda r: r["iterations"][0].pop(
            "train_return")), "iteration 0 is missing"),
        ("another run's config", lambda p: _edit(p, lambda r: r.update(config=other.to_dict())),
         f"stored config is run {other.run_id!r}"),
        ("wrong run_id", lambda p: _edit(p, lambda r: r.update(run_id="x")),
         "does not match the file name"),
        ("wrong sweep", lambda p: _edit(p, lambda r: r.update(sweep="online_cpu")),
         "does not match its folder"),
        ("wrong schema", lambda p: _edit(p, lambda r: r.update(schema=9)), "schema 9"),
    ]


def _edit(path, change):
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


CONFIG = ci_config("dqn")
CASES = _cases(CONFIG)


@pytest.mark.parametrize("name, breaks, problem", CASES, ids=[c[0] for c in CASES])
def test_every_reader_names_the_file_and_the_problem(tmp_path, name, breaks, problem):
    path = _write(tmp_path, CONFIG)
    breaks(path)
    for read in (lambda: store.read_run(path), lambda: store.load_runs(tmp_path),
                 lambda: claims_table.claims_table(tmp_path, reps=10)):
        with pytest.raises(ResultsFileError) as info:
            read()
        assert str(path) in str(info.value) and problem in str(info.value), name
    good, bad = store.scan(tmp_path)
    assert good == {} and problem in bad[path]


def test_a_chapter_refuses_a_bad_file(tmp_path):
    sel = chapters.selection("cpu", ["dqn"], [1], [0.0])
    config = sel.configs()[0]
    path = store.run_path(tmp_path, "online_cpu", config.run_id)
    store.write_run(path, _record(config, sweep="online_cpu"))
    assert chapters.load("online", "cpu", sel, tmp_path).present == {config.run_id}
    path.write_text("{")
    with pytest.raises(ResultsFileError, match=config.run_id):
        chapters.load("online", "cpu", sel, tmp_path)


def test_extra_fields_are_ignored(tmp_path):
    record = _record(CONFIG)
    record["config"]["max_episode_steps"] = 1000  # a field added to configs later
    for it in record["iterations"]:
        it["measures"] = {"dormant_fraction": 0.1, "srank": 12}
    path = _write(tmp_path, CONFIG, record)
    frame = store.load_runs(tmp_path)
    assert len(frame) == 2 and list(frame["train_return"]) == [5.0, 6.0]
    assert store.read_run(path)["iterations"][0]["measures"]["srank"] == 12


def test_config_run_id_is_the_config_classes_formula():
    for config in (ci_config("dqn"), ci_config("rainbow", width=3, final_sparsity=0.95, seed=2)):
        assert store.config_run_id(config.to_dict()) == config.run_id


class _Recorder:
    """An executor that trains nothing: it records which runs the sweep would train."""

    num_workers = 1

    def __init__(self):
        self.trained = []

    def run(self, configs, sweep, results_root, checkpoint_root, on_event):
        self.trained += [c.run_id for c in configs]


def _sweep(configs):
    return Sweep(SWEEP, (Grid(("dqn",), ("Breakout",), (1,), (0.0,),
                              tuple(c.seed for c in configs), "ci"),))


def test_runner_restores_a_valid_cached_copy_of_a_bad_file(tmp_path, capsys):
    results_root, ck = tmp_path / "r", tmp_path / "ck"
    good = _record(CONFIG)
    store.write_run(checkpoints.finished_copy_path(ck, SWEEP, CONFIG.run_id), good)
    path = _write(results_root, CONFIG)
    path.write_text(path.read_text()[:30])  # truncated
    recorder = _Recorder()
    local.run_sweep(_sweep([CONFIG]), results_root, ck, recorder, show_progress=False)
    out = capsys.readouterr().out
    assert recorder.trained == []
    assert str(path) in out and "unreadable" in out and "restored its cached copy" in out
    assert store.read_run(path) == store.read_run(
        checkpoints.finished_copy_path(ck, SWEEP, CONFIG.run_id))


@pytest.mark.parametrize("cache", ["absent", "corrupt", "another config"])
def test_runner_reruns_a_bad_file_without_a_valid_cached_copy(tmp_path, capsys, cache):
    results_root, ck = tmp_path / "r", tmp_path / "ck"
    copy = checkpoints.finished_copy_path(ck, SWEEP, CONFIG.run_id)
    if cache == "corrupt":
        copy.parent.mkdir(parents=True)
        copy.write_text("{")
    elif cache == "another config":
        store.write_run(copy, {**_record(CONFIG), "config": {**CONFIG.to_dict(),
                                                               "learning_rate": 1.0}})
    path = _write(results_root, CONFIG)
    _edit(path, lambda r: r["config"].pop("game"))
    recorder = _Recorder()
    local.run_sweep(_sweep([CONFIG]), results_root, ck, recorder, show_progress=False)
    out = capsys.readouterr().out
    assert recorder.trained == [CONFIG.run_id]
    assert str(path) in out and "missing field(s) ['game']" in out and "training it again" in out
    assert not checkpoints.restore_finished(CONFIG, SWEEP, results_root, ck)


def test_runner_reruns_a_file_of_another_preset(tmp_path, capsys):
    results_root = tmp_path / "r"
    _write(results_root, CONFIG, _record(CONFIG) | {"config": {**CONFIG.to_dict(),
                                                               "preset": "cpu"}})
    state, why = checkpoints.finished_state(CONFIG, SWEEP, results_root, tmp_path / "ck")
    assert state == "train" and "preset='cpu'" in why


def test_status_lists_bad_files_and_does_not_count_them(tmp_path, capsys):
    configs = [ci_config("dqn", game="Breakout", seed=s) for s in (0, 1)]
    sweep = _sweep(configs)
    results_root, ck = tmp_path / "r", tmp_path / "ck"
    for c in configs:
        _write(results_root, c)
    bad = store.run_path(results_root, SWEEP, configs[1].run_id)
    bad.write_text("not json")
    state = cost.sweep_status(sweep, results_root, ck)
    assert state["done"] == [configs[0].run_id] and state["left"] == [configs[1].run_id]
    assert len(state["bad"]) == 1 and str(bad) in state["bad"][0]
    costs = cost.cost_estimate(sweep, results_root)
    assert sum(r.done for r in costs) == 1
    cli.main(["status", "--preset", "ci", "--name", SWEEP, "--seeds", "0", "1",
              "--sparsities", "0", "--results", str(results_root), "--checkpoints", str(ck)])
    out = capsys.readouterr().out
    assert "bad         1" in out and str(bad) in out and "unreadable" in out
