"""The session queue over several sweeps (`prunebook run --sweeps ... --until T`): which run a
free worker gets, estimates from measured rates, and stopping at the deadline so that the run
resumes to the record an uninterrupted run writes."""

import datetime as dt
import json
import time

import pytest
from faults import stop_after

from prunebook import cli
from prunebook.config import ConfigError, ci_config, std_config
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.sweeps import checkpoints, cost, local, planner, rates, runner, store
from prunebook.sweeps.grid import Grid, Sweep, run_units

CPU = "cpu: test CPU (family 1, model 2; AVX2)"


class FakeClock:
    """Time that moves only when read: `step` seconds per call."""

    def __init__(self, start=1_000.0, step=1.0):
        self.now, self.step = start, step

    def __call__(self):
        self.now += self.step
        return self.now


def _run(sweep, run_id, seconds, done=0, make_config=ci_config):
    config = make_config("dqn")
    config = config.__class__(**{**config.to_dict(), "seed": int(run_id)})
    return planner.QueuedRun(sweep, config, seconds, done)


def test_choose_takes_a_partial_run_first_then_the_first_that_fits():
    fits, too_long = _run("a", 1, 500.0), _run("a", 2, 5_000.0)
    # does not fit, but its checkpoint is on disk, and one of its 46 iterations left fits
    partial = _run("b", 3, 9_000.0, done=4, make_config=std_config)
    unknown = _run("a", 4, None)
    queue = [too_long, unknown, fits, partial]
    assert planner.choose(queue, 1_000.0) is partial
    assert planner.choose(queue, 1_000.0, taken=[planner.key(partial)]) is fits
    # packing: with the short run given out, nothing else fits in 1,000 s
    assert planner.choose(queue, 1_000.0, taken=[planner.key(partial), planner.key(fits)]) is None
    assert planner.choose(queue, 6_000.0, taken=[planner.key(partial)]) is too_long
    assert planner.choose([unknown], 1e9) is None  # no estimate: never started blind


def test_a_run_longer_than_the_whole_session_starts_in_its_turn():
    """A run that could never finish within one session is not deferred for ever: it starts
    in its turn; a run that would fit a fresh session but not the time left still waits."""
    fits_a_session = _run("a", 1, 5_000.0)
    spans = _run("a", 2, 20_000.0, make_config=std_config)  # 400 s per iteration
    short = _run("a", 3, 500.0)
    queue = [fits_a_session, spans, short]
    assert planner.choose(queue, 1_000.0, window=10_000.0) is spans
    assert planner.choose(queue, 1_000.0) is short  # without a window: only what fits
    assert planner.choose(queue, 6_000.0, window=10_000.0) is fits_a_session
    assert planner.spans_sessions(spans, 10_000.0)
    assert not planner.spans_sessions(fits_a_session, 10_000.0)
    assert planner.choose([_run("a", 4, None)], 1_000.0, window=10.0) is None


def test_nothing_starts_when_not_even_one_iteration_fits():
    """At the deadline's edge a worker takes nothing: a run given out then would train one
    iteration past the deadline (a session's workers ran about 5 minutes late this way)."""
    spans = _run("a", 1, 50 * 400.0, make_config=std_config)  # 400 s per iteration
    partial = _run("b", 2, 10 * 400.0, done=40, make_config=std_config)
    assert spans.seconds_per_iteration == partial.seconds_per_iteration == 400.0
    assert planner.choose([spans], 500.0, window=10_000.0) is spans
    assert planner.choose([spans], 300.0, window=10_000.0) is None
    assert planner.choose([partial, spans], 500.0, window=10_000.0) is partial
    assert planner.choose([partial, spans], 300.0, window=10_000.0) is None
    short = _run("a", 3, 200.0)  # the time left goes to a run that fits
    assert planner.choose([partial, spans, short], 300.0, window=10_000.0) is short


def _record(results, sweep, config, wall_s, device):
    record = store.run_record(config.to_dict(), config.run_id, sweep, [], wall_s,
                              version="test", device=device)
    store.write_run(store.run_path(results, sweep, config.run_id), record)


def test_pending_estimates_from_this_cpu_first_and_puts_partial_runs_first(tmp_path):
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    grid = Grid(("dqn",), ("Breakout",), (1, 2), (0.0,), (0, 1, 2), "ci")
    sweep = Sweep("q", (grid,), order="grid")
    configs = {(c.width, c.seed): c for c in sweep.configs()}
    units = configs[(1, 0)].num_env_steps
    _record(results, "q", configs[(1, 0)], 100.0, CPU)  # this CPU: 100 s a run
    _record(results, "q", configs[(2, 0)], 900.0, "cpu: another")
    _record(results, "q", configs[(1, 1)], 300.0, "cpu: another")  # ignored: this CPU measured
    checkpoints.save_checkpoint(
        checkpoints.checkpoint_path(ckpts, "q", configs[(2, 2)].run_id), [],
        {"config": configs[(2, 2)].to_dict(), "iterations": [{}], "wall_s": 50.0})
    plan = planner.pending([sweep], results, ckpts, CPU)
    by_id = {run.config.run_id: run for run in plan}
    assert plan[0].config == configs[(2, 2)] and plan[0].partial
    it = configs[(2, 2)].iteration_env_steps
    assert plan[0].seconds_left == pytest.approx(50.0 / it * (units - it))  # its own pace
    assert by_id[configs[(1, 2)].run_id].seconds_left == pytest.approx(100.0)
    assert by_id[configs[(2, 1)].run_id].seconds_left == pytest.approx(900.0)
    assert configs[(1, 0)].run_id not in by_id  # finished
    lock = checkpoints.checkpoint_path(ckpts, "q", configs[(1, 2)].run_id).with_suffix(".lock")
    assert checkpoints.try_claim(lock)  # held by a live process: not offered
    assert configs[(1, 2)].run_id not in {r.config.run_id for r in
                                           planner.pending([sweep], results, ckpts, CPU)}


def test_a_fresh_run_is_estimated_at_its_own_games_benchmark_and_the_sweeps_efficiency(tmp_path):
    """A group's rate averages the games that finished (Breakout here): a Seaquest run, twice
    as slow per step, would be quoted at half its time and overrun a session's deadline."""
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    grid = Grid(("dqn",), ("Breakout", "Seaquest", "Freeway"), (1,), (0.0,), (0, 1), "ci")
    sweep = Sweep("g", (grid,), order="grid")
    configs = {(c.game, c.seed): c for c in sweep.configs()}
    units = run_units(configs["Breakout", 0])
    _record(results, "g", configs["Breakout", 0], units / 800.0, CPU)  # 800 steps/s
    by_id = {run.config.run_id: run for run in planner.pending([sweep], results, ckpts, CPU)}
    assert by_id[configs["Seaquest", 1].run_id].seconds_left == pytest.approx(units / 800.0)
    (results / rates.BENCHMARKS_FILE).write_text(json.dumps({"cpus": {CPU: {
        "agent_steps_per_s": {"ci/dqn/x1/Breakout": 1000.0, "ci/dqn/x1/Seaquest": 500.0}}}}))
    by_id = {run.config.run_id: run for run in planner.pending([sweep], results, ckpts, CPU)}
    seaquest = by_id[configs["Seaquest", 1].run_id]
    assert seaquest.seconds_left == pytest.approx(units / (500.0 * 0.8), rel=1e-3)  # 80% here
    assert seaquest.rate_source == "Seaquest's benchmark at g's 80% on this CPU"
    assert by_id[configs["Breakout", 1].run_id].seconds_left == pytest.approx(
        units / 800.0, rel=1e-3)
    freeway = by_id[configs["Freeway", 1].run_id]  # no benchmark: the group's measured rate
    assert freeway.seconds_left == pytest.approx(units / 800.0)
    assert freeway.rate_source == "g on this CPU"


def test_a_games_own_runs_on_this_cpu_beat_its_benchmark_in_the_estimate(tmp_path):
    """A game can train faster here than its benchmark times the sweep's mean efficiency (the
    Xeon's Seaquest x5: 1.88-1.98 h, quoted 2.13 h): its finished runs here are the measure;
    runs of it on another CPU are not."""
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    grid = Grid(("dqn",), ("Breakout", "Seaquest"), (1,), (0.0, 0.95), (0, 1), "ci")
    sweep = Sweep("g", (grid,), order="grid")
    configs = {(c.game, c.final_sparsity, c.seed): c for c in sweep.configs()}
    units = run_units(configs["Breakout", 0.0, 0])
    (results / "g").mkdir(parents=True)
    (results / rates.BENCHMARKS_FILE).write_text(json.dumps({"cpus": {CPU: {
        "agent_steps_per_s": {"ci/dqn/x1/Breakout": 1000.0, "ci/dqn/x1/Seaquest": 500.0}}}}))
    _record(results, "g", configs["Breakout", 0.0, 0], units / 800.0, CPU)  # 80% here
    _record(results, "g", configs["Seaquest", 0.0, 0], units / 100.0, "cpu: another")
    seaquest = {r.config.run_id: r for r in planner.pending([sweep], results, ckpts, CPU)}[
        configs["Seaquest", 0.95, 1].run_id]
    assert seaquest.seconds_left == pytest.approx(units / (500.0 * 0.8), rel=1e-3)
    _record(results, "g", configs["Seaquest", 0.95, 0], units / 560.0, CPU)  # 112% here
    _record(results, "g", configs["Seaquest", 0.0, 1], units / 440.0, CPU)  # 88%
    by_id = {r.config.run_id: r for r in planner.pending([sweep], results, ckpts, CPU)}
    seaquest = by_id[configs["Seaquest", 0.95, 1].run_id]
    assert seaquest.seconds_left == pytest.approx((units / 560.0 + units / 440.0) / 2, rel=1e-3)
    assert seaquest.rate_source == "Seaquest's 2 finished runs of g on this CPU"
    breakout = by_id[configs["Breakout", 0.95, 1].run_id]
    assert breakout.rate_source == "Breakout's 1 finished run of g on this CPU"
    assert breakout.seconds_left == pytest.approx(units / 800.0, rel=1e-3)


def test_rate_for_scales_the_nearest_measured_width():
    table = {("dqn", 5): rates.Rate(2.0, "s")}
    assert planner.rate_for("dqn", 10, [{}, table]).seconds_per_unit == pytest.approx(4.0)
    assert planner.rate_for("dqn", 5, [table]).seconds_per_unit == 2.0
    assert planner.rate_for("rainbow", 5, [table]) is None


def test_parse_until():
    now = dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.timezone.utc)
    assert planner.parse_until("09:30", now) == now.replace(hour=9, minute=30)
    assert planner.parse_until("06:30", now) == now.replace(day=7, hour=6, minute=30)
    assert planner.parse_until("+2h30m", now) == now + dt.timedelta(hours=2, minutes=30)
    assert planner.parse_until("+45m", now) == now + dt.timedelta(minutes=45)
    assert planner.parse_until("2026-12-06T10:00", now) == now.replace(hour=10)
    for bad in ("tomorrow", "+", "2026-12-05T10:00"):
        with pytest.raises(ConfigError, match="--until"):
            planner.parse_until(bad, now)


def test_cli_queue_flags_fail_before_compute(tmp_path, capsys):
    base = ["--results", str(tmp_path / "r"), "--checkpoints", str(tmp_path / "c")]
    assert cli.main(["run", "--sweeps", "online_std", "nope", "--until", "+1h", *base]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(["run", "--sweeps", "online_std", *base]) == 2
    assert "--until" in capsys.readouterr().err
    assert cli.main(["run", "--sweep", "online_std", "--until", "+1h", *base]) == 2
    assert cli.main(["run", "--sweeps", "online_std", "--until", "soon", *base]) == 2
    assert "HH:MM" in capsys.readouterr().err


def _strip(record):
    return [{k: v for k, v in it.items() if k not in TIMING_KEYS} for it in record["iterations"]]


def test_deadline_stops_with_a_checkpoint_that_resumes_to_the_uninterrupted_record(tmp_path):
    config = ci_config("dqn", final_sparsity=0.9)
    full = runner.run_one(config, "t", tmp_path / "full", tmp_path / "ck_full")
    clock = FakeClock(step=1.0)
    # the clock passes the deadline during the second iteration's check
    assert runner.run_one(config, "t", tmp_path / "r", tmp_path / "ck", deadline=clock.now + 2.5,
                          clock=clock) is None
    ckpt = checkpoints.checkpoint_path(tmp_path / "ck", "t", config.run_id)
    meta = checkpoints.checkpoint_meta(ckpt)
    assert 0 < len(meta["iterations"]) < config.num_iterations
    assert runner.run_one(config, "t", tmp_path / "r", tmp_path / "ck", deadline=clock.now - 1,
                          clock=clock) is None  # past the deadline: nothing trained or lost
    assert checkpoints.checkpoint_meta(ckpt)["iterations"] == meta["iterations"]
    assert checkpoints.checkpoint_meta(ckpt)["code_versions"] == [[0, store.code_version()]]
    resumed = runner.run_one(config, "t", tmp_path / "r", tmp_path / "ck")
    assert _strip(json.loads(resumed.read_text())) == _strip(json.loads(full.read_text()))
    assert "code_versions" not in json.loads(resumed.read_text())  # one version trained it


def test_a_run_resumed_under_another_version_names_each_version(tmp_path, monkeypatch):
    config = ci_config("dqn")
    monkeypatch.setattr(store, "code_version", lambda repo=None: "aaa")
    steps = runner.advance(runner.start_run(config, "t", tmp_path / "r", tmp_path / "ck"),
                           checkpoint_interval_s=0)
    next(steps)
    steps.close()
    monkeypatch.setattr(store, "code_version", lambda repo=None: "bbb")
    path = runner.run_one(config, "t", tmp_path / "r", tmp_path / "ck")
    record = json.loads(path.read_text())
    assert record["code_version"] == "bbb"
    assert record["code_versions"] == [{"from_iteration": 0, "code_version": "aaa"},
                                       {"from_iteration": 1, "code_version": "bbb"}]


def test_run_queue_packs_runs_into_the_deadline_and_resumes_partial_runs_first(tmp_path):
    """In-process queue with a fake clock over two sweeps: sweep "b"'s run is partial and goes
    first; then only the runs whose estimate fits the time left start."""
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    a = Sweep("a", (Grid(("dqn",), ("Breakout",), (1,), (0.0,), (0, 1, 2), "ci"),), order="grid")
    b = Sweep("b", (Grid(("dqn",), ("Breakout",), (1,), (0.0,), (0,), "ci"),), order="grid")
    cfg_a = a.configs()
    device = store.device_description()
    # a measured rate for "a" on this CPU: 1,000 fake seconds a run
    _record(results, "a", cfg_a[0], 1_000.0, device)
    assert len(stop_after(1, b.configs()[0], "b", results, ckpts)) == 1
    clock = FakeClock(step=1.0)
    log = []

    def note(line):  # a run of "a" takes 1,100 fake seconds of the session
        log.append(line)
        if line.startswith("a/") and "starting" in line:
            clock.now += 1_100.0

    outcome = local.run_queue([a, b], clock.now + 1_500.0, results, ckpts, workers=0,
                              clock=clock, log=note)
    assert list(outcome) == [f"b/{b.configs()[0].run_id}", f"a/{cfg_a[1].run_id}"]
    assert all(status == "done" for status in outcome.values())
    assert "resumed at iteration 1" in log[0]
    # ~390 s left after the second run, estimated at ~500 s (the mean of the fake 1,000 s and
    # its own few seconds): the third did not start
    assert not store.run_path(results, "a", cfg_a[2].run_id).exists()


def test_run_queue_starts_a_run_longer_than_the_session_and_checkpoints_it(tmp_path):
    """The run's estimate (4,000 fake seconds, 1,000 per iteration) exceeds the whole 1,500 s
    session: it starts, the log says it goes on next session, and it stops at the deadline
    with a checkpoint."""
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    a = Sweep("a", (Grid(("dqn",), ("Breakout",), (1,), (0.0,), (0, 1), "ci"),), order="grid")
    first, second = a.configs()
    _record(results, "a", first, 4_000.0, store.device_description())
    clock = FakeClock(step=1.0)
    until = clock.now + 1_500.0
    log = []

    def note(line):  # the run starts; its first iteration's check falls past the deadline
        log.append(line)
        if "starting" in line:
            clock.now = until - 2.5

    outcome = local.run_queue([a], until, results, ckpts, workers=0, clock=clock, log=note)
    assert outcome == {f"a/{second.run_id}": local.STOPPED}
    assert "goes on from its checkpoint next session" in log[0]
    meta = checkpoints.checkpoint_meta(checkpoints.checkpoint_path(ckpts, "a", second.run_id))
    assert 0 < len(meta["iterations"]) < second.num_iterations


def test_the_queue_ends_with_what_it_trained_against_the_benchmark(tmp_path):
    """The last line of a queue's log is the session's own efficiency: only the iterations
    trained by this queue (not the partial run's earlier one), against the benchmark."""
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    sweep = Sweep("q", (Grid(("dqn",), ("Breakout",), (1,), (0.0,), (0, 1), "ci"),),
                  order="grid")
    first, second = sweep.configs()
    assert len(stop_after(1, first, "q", results, ckpts)) == 1  # a partial run: 1 of 4
    device = store.device_description()
    results.mkdir(exist_ok=True)
    (results / rates.BENCHMARKS_FILE).write_text(json.dumps({"cpus": {device: {
        "agent_steps_per_s": {"ci/dqn/x1/Breakout": 1000.0}}}}))
    log = []
    outcome = local.run_queue([sweep], time.time() + 3600.0, results, ckpts, workers=0,
                              log=log.append)
    assert list(outcome.values()) == ["done", "done"], log
    logs = {c.run_id: store.read_run(store.run_path(results, "q", c.run_id))["iterations"]
            for c in (first, second)}
    trained = logs[first.run_id][1:] + logs[second.run_id]
    assert len(trained) == 2 * first.num_iterations - 1
    units, seconds = len(trained) * first.iteration_units, sum(it["wall_s"] for it in trained)
    assert log[-1] == (f"this queue: 2 runs on this CPU model, {seconds / 3600:.2f} "
                       f"core-hours, {units / seconds:,.0f} agent steps/s per worker, "
                       f"{100 * units / 1000.0 / seconds:.0f}% of the single-worker benchmark")


def test_efficiency_against_the_benchmark_of_each_runs_game(tmp_path):
    results = tmp_path / "results"
    sweep = Sweep("e", (Grid(("dqn",), ("Breakout", "Seaquest"), (1,), (0.0,), (0, 1), "ci"),))
    configs = {(c.game, c.seed): c for c in sweep.configs()}
    units = run_units(configs["Breakout", 0])
    _record(results, "e", configs["Breakout", 0], units / 800.0, CPU)  # 800 steps/s
    _record(results, "e", configs["Seaquest", 0], units / 300.0, CPU)  # 300 steps/s
    _record(results, "e", configs["Breakout", 1], 1.0, "cpu: another")  # not this CPU
    row = cost.efficiency(sweep, results, tmp_path / "ck", CPU)
    assert row.runs == 2 and row.efficiency is None  # no benchmark yet
    speeds = {"ci/dqn/x1/Breakout": 1000.0}
    (results / rates.BENCHMARKS_FILE).write_text(json.dumps({"cpus": {CPU: {
        "agent_steps_per_s": speeds}}}))
    row = cost.efficiency(sweep, results, tmp_path / "ck", CPU)
    assert row.efficiency == pytest.approx(0.8)  # Seaquest has no benchmark: left out
    assert "80% of the single-worker benchmark (over the 1 of 2 runs" in row.describe()
    speeds["ci/dqn/x1/Seaquest"] = 500.0
    (results / rates.BENCHMARKS_FILE).write_text(json.dumps({"cpus": {CPU: {
        "agent_steps_per_s": speeds}}}))
    row = cost.efficiency(sweep, results, tmp_path / "ck", CPU)
    expected = (1 / 1000 + 1 / 500) / (1 / 800 + 1 / 300)
    assert row.efficiency == pytest.approx(expected, rel=1e-3)  # wall_s kept to the ms
    assert f"{100 * expected:.0f}% of the single-worker benchmark," not in row.describe()
    assert row.describe().endswith(f"{100 * expected:.0f}% of the single-worker benchmark")


def test_benchmark_rate_prefers_the_runs_own_sparsity():
    config = ci_config("dqn", final_sparsity=0.95)
    speeds = {"ci/dqn/x1/Breakout": 900.0}
    assert rates.benchmark_key("ci", "dqn", 1, "Breakout", 0.95) == "ci/dqn/x1/Breakout/s0.95"
    assert rates.benchmark_rate(speeds, config) == 900.0  # dense: the same gmp code
    speeds["ci/dqn/x1/Breakout/s0.95"] = 600.0
    assert rates.benchmark_rate(speeds, config) == 600.0
    assert rates.benchmark_rate(speeds, ci_config("dqn", game="Asterix")) is None


def test_controls_and_baselines_queue_their_cheap_comparisons_first():
    from prunebook.sweeps import registry

    controls = registry.get_sweep("controls_cpu").configs()
    assert len(controls) == len({c.run_id for c in controls}) == 112
    kinds = [(c.mask_method, c.width, c.final_sparsity) for c in controls]
    first_lottery = next(i for i, k in enumerate(kinds) if k[0] == "lottery")
    donors = [i for i, k in enumerate(kinds) if k == ("gmp", 5, 0.95)]
    assert max(donors) < first_lottery  # every donor is queued before any lottery ticket
    static = [i for i, k in enumerate(kinds) if k[0] == "static_random"]
    assert max(static) < min(i for i, k in enumerate(kinds) if k[2] in (0.5, 0.8, 0.9))
    wide = [i for i, k in enumerate(kinds) if k[1] == 10]
    assert min(wide) == len(kinds) - len(wide)  # x10 last
    baselines = registry.get_sweep("baselines_cpu").configs()
    assert len(baselines) == 144
    widths = [c.width for c in baselines]
    assert widths == sorted(widths)  # every method at x1, then x3, then x5


def test_run_queue_in_a_worker_process(tmp_path):
    """The path sessions use: a pinned worker process takes the queue's picks and finishes
    them, reporting back to the queue (packing by deadline is tested in-process above)."""
    results, ckpts = tmp_path / "results", tmp_path / "ck"
    sweep = Sweep("w", (Grid(("dqn",), ("Breakout",), (1,), (0.0,), (0, 1, 2), "ci"),),
                  order="grid")
    configs = sweep.configs()
    _record(results, "w", configs[0], 60.0, store.device_description())
    log = []
    outcome = local.run_queue([sweep], time.time() + 3600.0, results, ckpts, workers=1,
                              log=log.append)
    assert outcome == {f"w/{c.run_id}": "done" for c in configs[1:]}, log
    assert all(store.run_path(results, "w", c.run_id).exists() for c in configs)
