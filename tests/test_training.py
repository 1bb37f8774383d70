"""The jitted MinAtar loop and the runner: learning, masks, determinism, resume, guards."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from faults import stop_after

from prunebook import pruning
from prunebook.agents.common import make_agent
from prunebook.config import ConfigError, RunConfig, ci_config
from prunebook.envs.minatar import MinAtarEnv
from prunebook.loops import minatar as minatar_loop
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.sweeps import checkpoints, cost, local, registry, runner, store, vmap
from prunebook.sweeps.grid import Grid, Sweep
from prunebook.sweeps.runner import NonFiniteLossError


def _random_policy_return(game: str, episodes: int = 200, seed: int = 0) -> float:
    env = MinAtarEnv(game)

    @jax.jit
    def episode(key):
        key, reset_key = jax.random.split(key)
        obs, state = env.reset(reset_key)

        def body(carry, _):
            state, key, total, running = carry
            key, a_key, s_key = jax.random.split(key, 3)
            step = env.step(s_key, state, jax.random.randint(a_key, (), 0, env.num_actions))
            total = total + jnp.where(running, step.reward, 0.0)
            return (step.state, key, total, running & ~(step.terminated | step.truncated)), None

        (_, _, total, _), _ = jax.lax.scan(body, (state, key, 0.0, True), None, length=300)
        return total

    keys = jax.random.split(jax.random.PRNGKey(seed), episodes)
    return float(jax.vmap(episode)(keys).mean())


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["dqn", "rainbow"])
def test_agents_learn_breakout(agent):
    config = ci_config(agent, num_env_steps=60_000, iteration_env_steps=20_000,
                       replay_capacity=20_000, min_replay_history=2_000,
                       epsilon_decay_steps=20_000, target_update_period=500,
                       final_sparsity=0.9, mask_update_every=1000)
    trainer = minatar_loop.make_trainer(config)
    state = trainer.init(0)
    for _ in range(config.num_iterations):
        state = trainer.run_iteration(state)
    learned = minatar_loop.iteration_stats(state).train_return
    random_return = _random_policy_return("Breakout")
    assert random_return < 1.0
    assert learned > random_return + 2.0, (learned, random_return)
    assert minatar_loop.measured_sparsity(state) == pytest.approx(0.9, abs=0.01)


def test_masks_follow_the_schedule_during_training():
    config = ci_config("dqn", final_sparsity=0.9)
    trainer = minatar_loop.make_trainer(config)
    schedule = pruning.GMPSchedule.from_run_length(0.9, config.total_updates, 0.2, 0.8,
                                                   config.mask_update_every)
    state = trainer.init(0)
    targets = state.opt_state.target_sparsities
    for _ in range(config.num_iterations):
        state = trainer.run_iteration(state)
        done = int(state.updates)
        assert done == int(state.opt_state.count)
        fraction = float(schedule.sparsity_at(done - 1)) / 0.9
        leaves = (jax.tree.leaves(state.opt_state.masks), jax.tree.leaves(state.params),
                  jax.tree.leaves(targets))
        for mask, param, target in zip(*leaves, strict=True):
            expected_kept = max(1, round(mask.size * (1 - float(target) * fraction)))
            assert int(mask.sum()) == expected_kept
            assert np.all(np.asarray(param)[np.asarray(mask) == 0] == 0)
    assert done == config.total_updates
    assert minatar_loop.measured_sparsity(state) == pytest.approx(0.9, abs=1e-3)


# iqn: a loss with a PRNG key inside the jitted loop (few taus to keep it quick)
@pytest.mark.parametrize("agent, extra", [
    ("rainbow", {}),
    ("iqn", dict(num_tau_samples=8, num_tau_prime_samples=8, num_quantile_samples=4))])
def test_same_seed_is_bit_identical_and_seeds_differ(agent, extra):
    config = ci_config(agent, num_env_steps=2_000, final_sparsity=0.5, **extra)
    trainer = minatar_loop.make_trainer(config)

    def run(seed):
        state = trainer.init(seed)
        for _ in range(config.num_iterations):
            state = trainer.run_iteration(state)
        return trainer.to_arrays(state)

    a, b, c = run(3), run(3), run(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def _records_equal(a, b):
    strip = lambda r: [{k: v for k, v in it.items() if k not in TIMING_KEYS} for r in [r]
                       for it in r["iterations"]]
    return strip(a) == strip(b)


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    config = ci_config("dqn", final_sparsity=0.9)
    full = runner.run_one(config, "t", tmp_path / "full", tmp_path / "ck_full")
    script = textwrap.dedent(f"""
        import os, signal
        from prunebook.sweeps import runner
        from prunebook.config import RunConfig
        config = RunConfig.from_dict({config.to_dict()!r})
        def kill_after_two(event):
            if event["iteration"] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        runner.run_one(config, "t", {str(tmp_path / "resumed")!r}, {str(tmp_path / "ck")!r},
                       progress=kill_after_two, checkpoint_interval_s=0)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=os.environ)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    ckpt = checkpoints.checkpoint_path(tmp_path / "ck", "t", config.run_id)
    assert ckpt.exists()
    assert not (tmp_path / "resumed" / "t" / f"{config.run_id}.json").exists()
    resumed = runner.run_one(config, "t", tmp_path / "resumed", tmp_path / "ck")
    a, b = json.loads(full.read_text()), json.loads(resumed.read_text())
    assert len(b["iterations"]) == config.num_iterations
    assert _records_equal(a, b)
    assert not ckpt.exists()  # a finished run drops its checkpoint


def test_a_cached_finished_run_is_restored_only_for_its_own_config(tmp_path):

    config = ci_config("dqn")
    copy = checkpoints.finished_copy_path(tmp_path / "ck", "t", config.run_id)
    record = dict(run_id=config.run_id, sweep="t", config=config.to_dict(), iterations=[],
                  wall_clock_s=1.0)
    out = store.run_path(tmp_path / "r", "t", config.run_id)
    store.write_run(copy, {**record, "config": {**config.to_dict(), "learning_rate": 1e-3}})
    assert not checkpoints.restore_finished(config, "t", tmp_path / "r", tmp_path / "ck")
    assert not out.exists()  # made with another learning rate: not this run's result
    copy.write_text("{ truncated")
    assert not checkpoints.restore_finished(config, "t", tmp_path / "r", tmp_path / "ck")
    store.write_run(copy, record)
    assert checkpoints.restore_finished(config, "t", tmp_path / "r", tmp_path / "ck")
    assert store.read_run(out) == store.read_run(copy)


def test_nan_loss_stops_the_run_and_keeps_the_checkpoint(tmp_path):
    config = ci_config("dqn")
    assert len(stop_after(2, config, "t", tmp_path / "r", tmp_path / "c")) == 2
    ckpt = checkpoints.checkpoint_path(tmp_path / "c", "t", config.run_id)
    before = ckpt.read_bytes()
    good = minatar_loop.make_trainer(config)
    poisoned = make_agent(config, good.agent.network, good.agent.optimizer,
                          lambda *args: good.agent.per_sample_loss(*args) * jnp.nan,
                          good.env.num_actions)
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        runner.run_one(config, "t", tmp_path / "r", tmp_path / "c",
                       trainer=minatar_loop.make_trainer(config, agent=poisoned),
                       checkpoint_interval_s=0)
    assert ckpt.read_bytes() == before
    assert not (tmp_path / "r" / "t" / f"{config.run_id}.json").exists()


@pytest.mark.parametrize("field, value, message", [
    ("width", 0, "width"), ("final_sparsity", 1.0, "final_sparsity"),
    ("final_sparsity", -0.1, "final_sparsity"), ("game", "Pong", "game"),
    ("agent", "ppo", "agent"), ("num_env_steps", -5, "num_env_steps"),
    ("preset", "cpuu", "preset"), ("seed", -1, "seed"),
])
def test_invalid_configs_fail_before_compute(field, value, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**{field: value})


def test_claim_files_keep_two_runners_apart(tmp_path):
    lock = tmp_path / "x.lock"
    assert checkpoints.try_claim(lock)
    assert not checkpoints.try_claim(lock)  # held by a live process (us)
    lock.write_text(f"{os.uname().nodename} 999999999")  # a dead owner
    assert checkpoints.try_claim(lock)


def test_a_lock_whose_pid_came_back_as_a_thread_or_a_later_process_is_stale(tmp_path):
    """A killed worker's pid can return as a thread of another program (a thread's id opens
    /proc/<id> and answers kill(id, 0)) or as a new process: neither holds the run."""
    import socket
    import threading

    lock, host = tmp_path / "x.lock", socket.gethostname()
    assert checkpoints.try_claim(lock)
    _, pid, started = lock.read_text().split()
    assert int(pid) == os.getpid() and started != "-"
    assert checkpoints.lock_alive(lock)
    checkpoints.release(lock)
    assert not lock.exists()
    lock.write_text(f"{host} {os.getpid()} {int(started) + 1}")  # our pid, another start
    assert not checkpoints.lock_alive(lock)
    ready, done = threading.Event(), threading.Event()
    ids = []

    def hold():
        ids.append(threading.get_native_id())
        ready.set()
        done.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait()
    try:
        lock.write_text(f"{host} {ids[0]}")  # an old two-field lock naming a live thread
        assert os.kill(ids[0], 0) is None  # kill(tid, 0) says "alive": what fooled the queue
        assert not checkpoints.lock_alive(lock)
        assert checkpoints.try_claim(lock)
    finally:
        done.set()
        thread.join()


def test_cli_ci_sweep_and_status(tmp_path, capsys):
    from prunebook import cli

    args = ["--preset", "ci", "--games", "Breakout", "--widths", "1", "--sparsities", "0",
            "0.95", "--seeds", "0", "--env-steps", "2000", "--results", str(tmp_path / "r"),
            "--checkpoints", str(tmp_path / "c"), "--name", "cli"]
    assert cli.main(["run", *args, "--serial", "--no-progress"]) == 0
    frame = store.load_runs(tmp_path / "r")
    assert sorted(frame.run_id.unique()) == ["dqn-Breakout-w1-s0-seed0",
                                             "dqn-Breakout-w1-s0.95-seed0"]
    assert len(frame) == 2 * 2 and frame.train_return.notna().all()
    assert cli.main(["status", *args]) == 0
    out = capsys.readouterr().out
    hours = re.search(r"done\s+2\s+\((\S+) h in training iterations\)\n", out)
    spent = sum(store.read_run(p)["wall_clock_s"] for p in (tmp_path / "r").rglob("*.json"))
    assert hours and float(hours.group(1)) == round(spent / 3600, 2)
    assert "runs left: about 0.0 core-hours" in out
    sweep = Sweep("cli", (Grid(("dqn",), ("Breakout",), (1,), (0.0, 0.95), (0,),
                                             "ci", (("num_env_steps", 2000),)),))
    assert spent > 0 and cost.measured_seconds(sweep, tmp_path / "r") == pytest.approx(spent)

    # a fresh checkout lost a finished (uncommitted) result: restored from the cache, not rerun
    lost = store.run_path(tmp_path / "r", "cli", "dqn-Breakout-w1-s0.95-seed0")
    record = lost.read_text()
    lost.unlink()
    assert cli.main(["run", *args, "--serial", "--no-progress"]) == 0
    assert "1 finished runs missing" in capsys.readouterr().out
    assert lost.read_text() == record  # same finished_at and timings: nothing was retrained
    assert cli.main(["run", "--widths", "0", "--results", str(tmp_path / "r")]) == 2


def test_grid_flags_select_part_of_a_named_sweep(capsys):
    from prunebook import cli

    whole = registry.get_sweep("online_std").configs()
    assert cli.main(["status", "--sweep", "online_std", "--widths", "1", "--seeds", "0", "2",
                     "--results", "/nonexistent"]) == 0
    out = capsys.readouterr().out
    wanted = [c for c in whole if c.width == 1 and c.seed in (0, 2)]
    assert f"sweep online_std: {len(wanted)} runs" in out and 0 < len(wanted) < len(whole)
    selected = cli._sweep_from_args(cli.argparse.Namespace(
        sweep="online_std", agents=None, games=["Seaquest"], widths=[5], sparsities=None,
        seeds=None))
    assert selected.name == "online_std"  # same results folder and donors as the whole sweep
    assert [c.run_id for c in selected.configs()] == [
        c.run_id for c in whole if c.game == "Seaquest" and c.width == 5]
    assert cli.main(["status", "--sweep", "online_std", "--widths", "7"]) == 2
    assert "no run of sweep 'online_std' has width in [7]" in capsys.readouterr().err


def test_cost_estimate_applies_each_groups_measured_rate_to_its_runs_left(tmp_path,
                                                                         monkeypatch):

    grid = Grid(("dqn",), ("Breakout",), (1, 2), (0.0, 0.95), (0, 1), "ci",
                       (("num_env_steps", 2000),))
    sweep = Sweep("costs", (grid,))
    finished = {"dqn-Breakout-w1-s0-seed0": 100.0, "dqn-Breakout-w1-s0.95-seed1": 300.0,
                "dqn-Breakout-w2-s0-seed0": 60.0}
    configs = {c.run_id: c.to_dict() for c in sweep.configs()}
    for run_id, seconds in finished.items():
        store.write_run(store.run_path(tmp_path, "costs", run_id),
                        dict(run_id=run_id, sweep="costs", config=configs[run_id],
                               iterations=[], wall_clock_s=seconds))
    reads, read_run = [], store.read_run
    monkeypatch.setattr(store, "read_run", lambda path: reads.append(path) or read_run(path))
    rows = {(r.agent, r.width): r for r in cost.cost_estimate(sweep, tmp_path)}
    assert len(reads) == len(set(reads)) == 3  # one pass: each results file read once
    monkeypatch.undo()
    assert (rows["dqn", 1].done, rows["dqn", 1].left) == (2, 2)
    assert rows["dqn", 1].left_seconds == pytest.approx(400.0)  # 2 runs at (100 + 300) / 2
    assert rows["dqn", 2].left_seconds == pytest.approx(180.0)  # 3 runs at 60
    text = cost.format_cost_estimate(list(rows.values()), workers=2)
    assert f"about {580 / 3600:.1f} core-hours" in text and "on 2 workers" in text

    table = cost.cost_markdown(list(rows.values()), "costs").splitlines()
    assert table[2] == "| dqn | ×1 | 2 | 200 (100 – 300) | 0.11 | 2 | ≈ 0.11 h |"
    assert table[-1] == "| **all** | | **3** | | **0.13** | **5** | ≈ 0.2 h |"

    empty = cost.cost_estimate(Sweep("none", (grid,)), tmp_path)
    assert all(r.left_seconds is None and r.left == 4 for r in empty)

    # a longer sweep with nothing finished borrows the rate per agent step of `costs`
    longer = Sweep("long", (Grid(("dqn",), ("Breakout",), (1, 2), (0.0,), (0,),
                                               "ci", (("num_env_steps", 20_000),)),))
    borrowed = {(r.agent, r.width): r for r in cost.cost_estimate(longer, tmp_path, sweep)}
    assert borrowed["dqn", 1].left_seconds == pytest.approx(2000.0)  # 10x the steps at 200 s
    assert borrowed["dqn", 2].rate_from == "costs" and borrowed["dqn", 2].done == 0
    assert "(at `costs`'s rate per step)" in cost.cost_markdown(list(borrowed.values()),
                                                                  "long")
    assert "plus 8 runs of groups with no finished run" in cost.format_cost_estimate(empty, 2)


def test_cost_estimate_for_a_cpu_costs_runs_left_at_that_cpus_rate(tmp_path):
    """`prunebook status` on one machine must not quote another machine's speed: the runs left
    are costed at this CPU model's rate where it has one, at the all-CPU rate where it has not."""
    grid = Grid(("dqn",), ("Breakout",), (1, 2), (0.0,), (0, 1, 2), "ci",
                (("num_env_steps", 2000),))
    sweep = Sweep("mixed", (grid,))
    configs = {c.run_id: c.to_dict() for c in sweep.configs()}
    made = {"dqn-Breakout-w1-s0-seed0": ("fast", 100.0),
            "dqn-Breakout-w1-s0-seed1": ("slow", 500.0),
            "dqn-Breakout-w2-s0-seed0": ("slow", 80.0)}
    for run_id, (cpu, seconds) in made.items():
        store.write_run(store.run_path(tmp_path, "mixed", run_id),
                        dict(run_id=run_id, sweep="mixed", config=configs[run_id], iterations=[],
                             wall_clock_s=seconds, device=cpu))
    mixed = {r.width: r for r in cost.cost_estimate(sweep, tmp_path)}
    here = {r.width: r for r in cost.cost_estimate(sweep, tmp_path, cpu="fast")}
    assert mixed[1].left_seconds == pytest.approx(300.0)  # 1 run at (100 + 500) / 2
    assert here[1].left_seconds == pytest.approx(100.0)  # 1 run at this CPU's 100
    assert here[2].left_seconds == pytest.approx(160.0)  # no x2 run here: 2 runs at 80
    assert (here[1].rate_cpu, here[2].rate_cpu, mixed[1].rate_cpu) == (
        "this CPU", "another CPU", "")
    assert here[1].done_seconds == mixed[1].done_seconds == 600.0  # done counts every CPU
    text = cost.format_cost_estimate(list(here.values()), workers=1)
    assert "(measured on this CPU)" in text and "(measured on another CPU)" in text


def test_status_gives_a_finish_time_only_to_a_run_that_is_training():
    """A checkpoint left by an earlier session would otherwise 'finish' hours in the past."""
    progress = cost.Progress("r", iterations_done=10, num_iterations=40, units_per_s=500.0,
                             finish_s=5_400.0)
    saved_at = 1_800_000_000.0
    clock = time.strftime("%H:%M", time.localtime(saved_at + 5_400.0))
    assert progress.describe(saved_at, running=True) == (
        f"r: iteration 10/40, 500 steps/s, finishes about {clock}")
    assert progress.describe(saved_at, running=False) == (
        "r: iteration 10/40, 500 steps/s, about 1.50 h left once resumed")


def test_a_resumed_runs_finish_is_reckoned_from_its_claim_not_its_old_checkpoint(tmp_path):
    """Resumed this session, a run has not saved yet: its checkpoint is last session's."""
    config = ci_config("dqn", num_env_steps=2_000)
    ckpt = checkpoints.checkpoint_path(tmp_path, "s", config.run_id)
    checkpoints.save_checkpoint(ckpt, [np.zeros(1)], {"iterations": [{}], "wall_s": 10.0})
    three_hours_ago = time.time() - 3 * 3600
    os.utime(ckpt, (three_hours_ago, three_hours_ago))
    progress, since = cost.run_progress(config, "s", tmp_path)
    assert since == three_hours_ago  # unclaimed: nobody trains it, its checkpoint's time
    assert progress.iterations_done == 1
    assert progress.finish_s == pytest.approx((config.num_iterations - 1) * 10.0)  # 10 s each
    claim = checkpoints.claim_path(tmp_path, "s", config.run_id)
    assert checkpoints.try_claim(claim)
    _, since = cost.run_progress(config, "s", tmp_path)
    assert since == claim.stat().st_mtime > three_hours_ago


def test_vmapped_group_matches_separate_runs(tmp_path):

    configs = [ci_config("dqn", num_env_steps=1_000, min_replay_history=300, seed=seed,
                         final_sparsity=sparsity) for seed, sparsity in ((0, 0.0), (1, 0.9))]
    vmap.run_group(configs, "v", tmp_path / "vr", tmp_path / "vc")
    for config in configs:
        runner.run_one(config, "s", tmp_path / "sr", tmp_path / "sc")
    together = store.load_runs(tmp_path / "vr").sort_values(["run_id", "iteration"])
    alone = store.load_runs(tmp_path / "sr").sort_values(["run_id", "iteration"])
    assert len(together) == len(alone) == 2
    # warm-up transitions are random actions: identical; after updates, float-close
    np.testing.assert_allclose(together.train_return.to_numpy(), alone.train_return.to_numpy(),
                               rtol=1e-5)


def test_a_worker_stops_when_the_sweeps_main_process_is_gone():
    import queue

    events = queue.Queue()
    local.parent_watching_progress(os.getppid(), events)({"run_id": "r"})
    assert events.get_nowait() == ("progress", {"run_id": "r"})
    orphaned = local.parent_watching_progress(os.getppid() + 10**6, events)
    with pytest.raises(SystemExit, match="main process"):
        orphaned({"run_id": "r"})
    assert events.empty()

