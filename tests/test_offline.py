"""Offline RL: the DQN Replay Dataset layout, the uniform 5% sample, n-step targets of the fixed
replay, the CQL regulariser, and that offline runs never step the environment and resume."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from faults import stop_after

from prunebook import datasets, measures, spec
from prunebook.agents.cql import cql_regularizer, make_cql, make_cql_c51
from prunebook.analysis import claims_table
from prunebook.book import chapters
from prunebook.book.chapters import offline
from prunebook.book.chapters.offline import OfflineAnalysis
from prunebook.book.chapters.records import companions
from prunebook.config import (
    ConfigError,
    OfflineConfig,
    ci_config,
    config_from_dict,
    offline_ci_config,
    offline_cpu_config,
)
from prunebook.datasets import STORE_DTYPES, STORE_NAMES, LoggedData
from prunebook.envs.minatar import MinAtarEnv
from prunebook.loops import minatar as minatar_loop
from prunebook.loops.offline import OfflineTrainState, eval_key, make_offline_trainer
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.replay import fixed, jittable
from prunebook.sweeps import checkpoints, logger, registry, runner, store
from prunebook.sweeps.grid import run_units

OBS = (10, 10, 4)  # Breakout-MinAtar


def synthetic_data(sizes=(60, 41), obs_shape=OBS, seed=0, terminal_every=7):
    """Consecutive checkpoints of fake transitions (binary frames, some episode ends)."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    terminal = np.zeros(n, bool)
    terminal[rng.choice(n, size=n // terminal_every, replace=False)] = True
    return LoggedData(
        observation=rng.integers(0, 2, (n, *obs_shape), dtype=np.uint8),
        action=rng.integers(0, 3, n).astype(np.int32),
        reward=rng.integers(0, 2, n).astype(np.float32),
        terminal=terminal,
        segment=np.repeat(np.arange(len(sizes), dtype=np.int32), sizes))


# --- the DQN Replay Dataset layout ------------------------------------------------------------

def test_layout_round_trip_and_dopamine_files(tmp_path):
    data = synthetic_data()
    for i in (0, 1):
        rows = data.segment == i
        datasets.write_replay_checkpoint(tmp_path, i, {
            "observation": data.observation[rows], "action": data.action[rows],
            "reward": data.reward[rows], "terminal": data.terminal[rows]})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"$store$_{n}_ckpt.{i}.gz" for n in STORE_NAMES
                           for i in (0, 1))
    for name, dtype in STORE_DTYPES.items():
        raw = (tmp_path / f"$store$_{name}_ckpt.1.gz").read_bytes()
        assert raw[:2] == b"\x1f\x8b"  # gzip
        array = np.load(io.BytesIO(gzip.decompress(raw)), allow_pickle=False)  # plain np.save
        assert array.dtype == dtype and len(array) == 41
    loaded = datasets.load_dqn_replay(tmp_path)
    for field in ("observation", "action", "reward", "terminal", "segment"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(data, field))
    only_one = datasets.load_dqn_replay(tmp_path, checkpoints=[1])
    assert len(only_one.action) == 41 and set(only_one.segment) == {1}


def test_loader_reads_files_written_like_dopamine(tmp_path):
    # Dopamine's OutOfGraphReplayBuffer.save: np.save into a gzip.GzipFile, one file per array,
    # next to bookkeeping files the loader must ignore.
    rng = np.random.default_rng(1)
    store = {"observation": rng.integers(0, 255, (30, 84, 84), dtype=np.uint8),
             "action": rng.integers(0, 18, 30).astype(np.int32),
             "reward": rng.normal(size=30).astype(np.float32),
             "terminal": (rng.random(30) < 0.1).astype(np.uint8)}
    for name, array in store.items():
        with open(tmp_path / f"$store$_{name}_ckpt.7.gz", "wb") as f:
            with gzip.GzipFile(fileobj=f, mode="wb") as outfile:
                np.save(outfile, array, allow_pickle=False)
    (tmp_path / "add_count_ckpt.7.gz").write_bytes(gzip.compress(b"ignored"))
    loaded = datasets.load_dqn_replay(tmp_path)
    np.testing.assert_array_equal(loaded.observation, store["observation"])
    np.testing.assert_array_equal(loaded.terminal, store["terminal"].astype(bool))
    assert loaded.segment.tolist() == [7] * 30
    (tmp_path / "$store$_reward_ckpt.7.gz").unlink()
    with pytest.raises(FileNotFoundError, match="reward"):
        datasets.load_dqn_replay(tmp_path)


def test_logged_checkpoints_are_exactly_each_iterations_experience(tmp_path):
    # capacity = the whole run, so the final buffer holds every transition in order: the
    # concatenated checkpoints must equal it.
    config = ci_config("dqn", num_env_steps=1_500, iteration_env_steps=500,
                       replay_capacity=1_500, min_replay_history=200)
    trainer = minatar_loop.make_trainer(config)
    meta = logger.log_dqn_dataset(config, tmp_path, trainer=trainer)
    assert meta["num_checkpoints"] == 3 and len(meta["iterations"]) == 3
    assert json.loads((tmp_path / "dataset.json").read_text())["sha256"] == meta["sha256"]
    data = datasets.load_dqn_replay(tmp_path)
    state = trainer.init(config.seed)
    for _ in range(config.num_iterations):
        state = trainer.run_iteration(state)
    buffer = jax.device_get(state.replay)
    np.testing.assert_array_equal(data.observation, buffer.obs)
    np.testing.assert_array_equal(data.action, buffer.actions)
    np.testing.assert_array_equal(data.reward, buffer.rewards)
    np.testing.assert_array_equal(data.terminal, buffer.episode_end)
    assert data.segment.tolist() == [0] * 500 + [1] * 500 + [2] * 500
    with pytest.raises(ValueError, match="exceeds replay_capacity"):
        logger.log_dqn_dataset(config.replace(replay_capacity=400), tmp_path / "x")


def test_ensure_dataset_takes_over_a_stale_lock(tmp_path, monkeypatch):
    calls = []

    def fake_log(config, folder, **_):
        calls.append(config.game)
        folder.mkdir(parents=True)
        (folder / "dataset.json").write_text("{}")

    monkeypatch.setattr(logger, "log_dqn_dataset", fake_log)
    folder = datasets.dataset_dir("Breakout", "ci", 0, tmp_path)
    folder.parent.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    import socket

    folder.with_name(folder.name + ".lock").write_text(f"{socket.gethostname()} {dead.pid}")
    assert logger.ensure_dataset("Breakout", "ci", 0, tmp_path, poll_s=0.01) == folder
    assert logger.ensure_dataset("Breakout", "ci", 0, tmp_path) == folder  # no relog
    assert calls == ["Breakout"] and not folder.with_name(folder.name + ".lock").exists()


# --- the 5% sample ----------------------------------------------------------------------------

def test_sample_fraction_is_a_uniform_sample_without_replacement():
    data = synthetic_data(sizes=(101,), terminal_every=10**9)  # no episode end
    population = fixed.valid_starts(data, 1)
    assert population.tolist() == list(range(100))  # the last has no next observation
    draw = lambda seed: fixed.sample_fraction(data, 0.1, np.random.default_rng(seed))
    sample = draw(0)
    assert len(sample) == 10 and len(set(sample.tolist())) == 10
    assert set(sample.tolist()) <= set(population.tolist())
    np.testing.assert_array_equal(sample, draw(0))
    assert not np.array_equal(sample, draw(1))
    # every index equally likely: chi-square over 4,000 draws (expected 400 each, 99 dof)
    counts = np.bincount(np.concatenate([draw(s) for s in range(4_000)]), minlength=100)
    chi2 = ((counts - 400.0) ** 2 / 400.0).sum()
    assert chi2 < 99 + 5 * np.sqrt(2 * 99), chi2
    assert counts.min() > 300 and counts.max() < 500


def test_sample_sizes_and_seeds_per_run():
    data = synthetic_data(sizes=(1_000, 1_000))
    for n_step in (1, 3):
        population = fixed.valid_starts(data, n_step)
        sample = fixed.sample_fraction(data, 0.05, np.random.default_rng(0), n_step)
        assert len(sample) == round(0.05 * len(population))
    dense = offline_ci_config("cql", final_sparsity=0.0, seed=3)
    assert fixed.sample_seed(dense) == fixed.sample_seed(
        dense.replace(final_sparsity=0.95, width=3))
    assert fixed.sample_seed(dense) != fixed.sample_seed(dense.replace(seed=4))


def test_fixed_replay_reproduces_n_step_targets_of_the_full_log():
    """Precomputed windows read with a 1-step sample == Dopamine-style n-step targets computed
    on the full log (per checkpoint, as each checkpoint is its own buffer)."""
    gamma, n_step = 0.9, 3
    data = synthetic_data(sizes=(60, 41), terminal_every=6)
    starts = fixed.valid_starts(data, n_step)
    buffer = fixed.build_fixed_replay(data, starts, n_step, gamma)
    assert int(buffer.size) == len(starts) == buffer.actions.shape[0]
    batch = fixed.sample_fixed(buffer, jax.random.key(0), 64, n_step, gamma)
    slot = np.asarray(batch.indices)
    t = starts[slot]  # dataset index of each sampled window
    for segment in (0, 1):
        rows = np.flatnonzero(data.segment == segment)
        ends = jnp.asarray(data.terminal[rows])
        full = jittable.init(len(rows), OBS).replace(  # the whole checkpoint, oldest at slot 0
            obs=jnp.asarray(data.observation[rows]),
            next_obs=jnp.asarray(data.observation[np.minimum(rows + 1, rows[-1])]),
            actions=jnp.asarray(data.action[rows]), rewards=jnp.asarray(data.reward[rows]),
            terminated=ends, episode_end=ends, size=jnp.asarray(len(rows), jnp.int32))
        mine = data.segment[t] == segment
        idx = jnp.asarray(t[mine] - rows[0])
        returns, discounts, next_obs = jittable.n_step_targets(full, idx, n_step, gamma)
        np.testing.assert_allclose(np.asarray(batch.returns)[mine], returns, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(batch.discounts)[mine], discounts, rtol=1e-6)
        live = np.asarray(discounts) > 0
        np.testing.assert_array_equal(np.asarray(batch.next_obs)[mine][live],
                                      np.asarray(next_obs)[live])
        np.testing.assert_array_equal(np.asarray(batch.obs)[mine], data.observation[t[mine]])
    assert (np.asarray(batch.discounts) == 0).any() and (np.asarray(batch.discounts) > 0).any()


def test_fixed_replay_is_rebuilt_identically(tmp_path):
    data = synthetic_data(sizes=(300, 300))
    folder = datasets.dataset_dir("Breakout", "ci", 0, tmp_path)
    for i in (0, 1):
        rows = data.segment == i
        datasets.write_replay_checkpoint(folder, i, {
            "observation": data.observation[rows], "action": data.action[rows],
            "reward": data.reward[rows], "terminal": data.terminal[rows]})
    (folder / "dataset.json").write_text("{}")
    config = offline_ci_config("cql_c51")
    a = logger.fixed_replay_for(config, tmp_path)
    b = logger.fixed_replay_for(config, tmp_path)
    c = logger.fixed_replay_for(config.replace(seed=1), tmp_path)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert int(a.size) == round(0.05 * len(fixed.valid_starts(data, 3)))
    assert not np.array_equal(a.obs, c.obs)


# --- the agents -------------------------------------------------------------------------------

def test_cql_regularizer_matches_hand_computation():
    q = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    actions = jnp.array([0, 2])
    # log(e^1 + e^2 + e^3) - 1 = 2.4076059644; log 3 - 0 = 1.0986122887
    np.testing.assert_allclose(cql_regularizer(q, actions), [2.4076059644, 1.0986122887],
                               rtol=1e-6)
    assert 0.1 * float(cql_regularizer(q, actions).mean()) == pytest.approx(0.1753109127, 1e-6)


@pytest.mark.parametrize("factory,agent", [(make_cql, "cql"), (make_cql_c51, "cql_c51")])
def test_agent_loss_is_td_plus_alpha_times_regularizer(factory, agent):
    config = offline_ci_config(agent)
    data = synthetic_data(sizes=(80,))
    buffer = fixed.build_fixed_replay(data, fixed.valid_starts(data, config.n_step),
                                      config.n_step, config.gamma)
    batch = fixed.sample_fixed(buffer, jax.random.key(1), 8, config.n_step, config.gamma)
    with_cql = factory(config, 3)
    without = factory(config.replace(cql_alpha=0.0), 3)
    params = with_cql.network.init(jax.random.key(0), batch.obs)
    target = jax.tree.map(lambda p: p * 0.5, params)
    total = with_cql.per_sample_loss(params, target, batch, None)
    td = without.per_sample_loss(params, target, batch, None)
    q = with_cql.network.apply(params, batch.obs).q_values
    np.testing.assert_allclose(total - td, 0.1 * cql_regularizer(q, batch.actions), rtol=1e-5,
                               atol=1e-6)
    assert total.shape == (8,) and bool(jnp.all(td >= 0))


# --- the offline loop -------------------------------------------------------------------------

class CountingEnv:
    """MinAtar Breakout that counts executed `step`s (a host callback inside the jitted code)."""

    def __init__(self):
        self.inner = MinAtarEnv("Breakout")
        self.num_actions = self.inner.num_actions
        self.observation_shape = self.inner.observation_shape
        self.max_episode_steps = self.inner.max_episode_steps
        self.steps = 0

    def _count(self):
        self.steps += 1

    def reset(self, key):
        return self.inner.reset(key)

    def step(self, key, state, action):
        jax.debug.callback(self._count)
        return self.inner.step(key, state, action)


@pytest.fixture(scope="module")
def counting_trainer():
    config = offline_ci_config("cql", final_sparsity=0.9, num_iterations=3,
                               updates_per_iteration=40, mask_update_every=10,
                               target_update_period=20, eval_episodes=2)
    data = synthetic_data(sizes=(400,))
    buffer = fixed.build_fixed_replay(data, fixed.valid_starts(data, 1), 1, 0.99)
    env = CountingEnv()
    return make_offline_trainer(config, env=env, buffer=buffer), env


def test_offline_training_never_steps_the_environment(counting_trainer):
    trainer, env = counting_trainer
    state = trainer.init(0)
    names = {f for f in OfflineTrainState.__dataclass_fields__}
    assert not names & {"env_state", "obs", "replay", "episode_return"}
    before = env.steps
    state = jax.block_until_ready(trainer.run_iteration(state))
    assert env.steps == before  # gradient steps only
    assert int(state.updates) == 40 and int(state.agent_steps) == 0
    stats = trainer.stats(state)  # the evaluation phase
    assert env.steps > before and stats.num_episodes == 2
    evaluated = env.steps
    assert trainer.evaluate(state.params, eval_key(0, 0)) == stats.train_return
    assert env.steps == evaluated  # the runner's eval_return reuses the evaluation


def test_offline_runs_log_the_measures_on_their_fixed_sample(counting_trainer):
    trainer, _ = counting_trainer
    state = trainer.run_iteration(trainer.init(0))
    got = measures.to_record(trainer.measures(state, measures.measures_key(0)))
    assert got == measures.to_record(trainer.measures(state, measures.measures_key(0)))
    assert set(got) == {"dormant_tau0", "dormant_tau0.1", "srank", "param_norm", "q_mean",
                        "q_var", "td_target_var"}
    assert got["param_norm"] == pytest.approx(float(measures.l2_norm(state.params)))


def test_offline_run_resumes_like_online_runs(counting_trainer, tmp_path):
    trainer, _ = counting_trainer
    config = trainer.config
    straight = runner.run_one(config, "off", tmp_path / "a", tmp_path / "ca", trainer=trainer)
    assert len(stop_after(1, config, "off", tmp_path / "b", tmp_path / "cb", trainer)) == 1
    assert checkpoints.checkpoint_path(tmp_path / "cb", "off", config.run_id).exists()
    resumed = runner.run_one(config, "off", tmp_path / "b", tmp_path / "cb", trainer=trainer)
    drop = lambda rec: [{k: v for k, v in it.items() if k not in TIMING_KEYS}
                        for it in store.read_run(rec)["iterations"]]
    assert drop(straight) == drop(resumed)
    rows = drop(straight)
    assert [r["gradient_updates"] for r in rows] == [40, 80, 120]
    assert all(r["env_steps"] == 0 and r["eval_return"] == r["train_return"] for r in rows)
    assert rows[-1]["sparsity"] == pytest.approx(0.9, abs=0.01)
    frame = store.load_runs(tmp_path / "b")
    assert frame["agent"].tolist() == ["cql"] * 3 and frame["sparsity"].tolist() == [0.9] * 3


# --- config and sweep -------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,message", [
    ("agent", "dqn", "agent"), ("dataset_fraction", 0.0, "dataset_fraction"),
    ("eval_episodes", 0, "eval_episodes"), ("n_step", 0, "n_step"), ("preset", "paper", "preset"),
    ("dataset", "atari", "dataset"), ("cql_alpha", -1.0, "cql_alpha"),
    ("dueling", 1, "dueling"), ("final_sparsity", 1.0, "final_sparsity")])
def test_invalid_offline_configs_name_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message):
        OfflineConfig(**{**offline_ci_config("cql").to_dict(), field: value})


def test_offline_config_round_trip_and_sweep():
    config = offline_cpu_config("cql_c51", width=3, final_sparsity=0.99, seed=2)
    assert config_from_dict(config.to_dict()) == config
    assert isinstance(config_from_dict(config.to_dict()), OfflineConfig)
    assert (config.n_step, config.dueling, config.double_dqn, config.target_update_period) == (
        3, True, True, 100)
    assert config.total_updates == 62_500 and config.num_env_steps == 0
    # progress is counted in gradient updates, and said so
    assert (config.iteration_units, config.progress_unit) == (2_500, "gradient update")
    assert not hasattr(config, "iteration_env_steps")
    assert run_units(config) == config.total_updates
    sweep = registry.offline_sweep("cpu")
    configs = sweep.configs()
    assert sweep.name == "offline_cpu" and len(configs) == 144
    assert len({c.run_id for c in configs}) == 144
    assert {c.agent for c in configs} == {"cql", "cql_c51"}
    assert {c.width for c in configs} == {1, 3} and {c.seed for c in configs} == {0, 1, 2}


def test_collapse_table_reads_peak_final_and_drop_from_the_iqm_curve():
    rows = []
    for run_id, values in (("a", [0.0, 1.0, 0.5, 0.5]), ("b", [0.0, 1.0, 0.3, 0.3])):
        for update, value in zip((10, 20, 30, 40), values, strict=True):
            rows.append({"run_id": run_id, "agent": "cql", "width": 1, "sparsity": 0.0,
                         "gradient_updates": update, "normalized": value})
    for update, value in zip((10, 20, 30, 40), (0.2, 0.4, 0.6, 0.8), strict=True):
        rows.append({"run_id": "c", "agent": "cql", "width": 1, "sparsity": 0.95,
                     "gradient_updates": update, "normalized": value})
    curves = pd.DataFrame(rows)
    table = offline.collapse_table(curves, last_iterations=2).set_index("sparsity")
    # dense: IQM of two runs per iteration = their mean: [0, 1, 0.4, 0.4]
    assert table.loc[0.0, "runs"] == 2
    assert table.loc[0.0, "peak"] == pytest.approx(1.0)
    assert table.loc[0.0, "peak_update"] == 20
    assert table.loc[0.0, "final"] == pytest.approx(0.4)
    assert table.loc[0.0, "drop"] == pytest.approx(0.6)
    # still rising at the end: the peak is the last point; the drop is only the averaging
    assert table.loc[0.95, "peak_update"] == 40
    assert table.loc[0.95, "drop"] == pytest.approx(0.8 - 0.7)
    # the notebook's table is the same, rounded, at the chapter's last_iterations
    analysis = OfflineAnalysis(None, curves, None, None, None, "", last_iterations=2)
    shown = chapters.offline_collapse_table(analysis).set_index("sparsity")
    assert shown.loc[0.95, "drop"] == pytest.approx(0.1)
    assert shown.loc[0.0, "peak_update"] == 20


def test_chapter4_verdicts_equal_the_front_page_on_the_committed_sweep():
    root = Path(__file__).resolve().parent.parent / "results"
    runs = chapters.offline_runs("cpu", ("cql", "cql_c51"), spec.BOOK_GAMES, (1, 3),
                                 (0.0, 0.95, 0.99))
    data = chapters.load("offline", "cpu", runs, root)
    assert data.sweep == "offline_cpu" and len(data.expected) == 144
    behaviour = companions(runs)  # the DQN runs that logged the datasets, one per game
    assert len(behaviour) == 4 and all(i.startswith("dqn-") for i in behaviour)
    assert {r["run_id"] for r in data.records} == data.present | behaviour
    chapter = chapters.offline_verdict_table(chapters.offline_analysis(data, last_iterations=3))
    front = claims_table.claims_table(root).set_index("claim")
    assert len(chapter) == 4
    for row in chapter.itertuples(index=False):  # whatever the figures' last_iterations
        assert (row.ours, row.ci95, row.verdict) == tuple(front.loc[row.claim,
                                                                    ["ours", "ci95", "verdict"]])
    assert len(data.present) == 144
    assert set(data.coverage()["runs finished"]) == {"12 of 12"}
    assert chapters.coverage_summary(data).loc["runs this chapter needs", "finished"] == 144


def test_chapter4_shows_nothing_but_counts_on_an_empty_results_folder(tmp_path, capsys):
    """No runs: the chapter's data counts 0 of its runs, its analysis is None, and every table
    and figure is None, silently (the notebook's Markdown says what that means; nothing is
    trained at preset "cpu")."""
    runs = chapters.offline_runs("cpu", ("cql", "cql_c51"), spec.BOOK_GAMES, (1, 3),
                                 (0.0, 0.95, 0.99))
    data = chapters.load("offline", "cpu", runs, tmp_path / "empty")
    assert data.present == set() and chapters.offline_analysis(data) is None
    summary = chapters.coverage_summary(data)
    assert tuple(summary.loc["runs this chapter needs", ["finished", "of"]]) == (0, 144)
    assert set(data.coverage()["runs finished"]) == {"0 of 12"} and len(data.coverage()) == 12
    shown = [chapters.offline_behaviour_table, chapters.figure_offline_curves,
             chapters.offline_collapse_table, chapters.offline_iqm_table,
             chapters.figure_offline_iqm_vs_width, chapters.offline_verdict_table,
             chapters.offline_sensitivity_table]
    for show in shown:
        assert show(None) is None, show.__name__
    assert capsys.readouterr().out == ""
    # the setting describes the runs to come, so it is there before any has finished
    setting = chapters.offline_setting_table(data)
    assert set(setting.index.get_level_values("agent")) == {"cql", "cql_c51"}
    # the robustness cells (front-page functions) have nothing to show either
    robust = chapters.sweep_results(data, ["4-cql-w1"])
    assert [r.verdict for r in robust] == ["not yet run"]
    assert chapters.robustness_table(robust).empty
    assert chapters.figure_robustness(robust) is None
