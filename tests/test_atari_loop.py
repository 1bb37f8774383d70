"""The host-stepped Atari loop (tiny budgets through the runner, exact resume) and IQN.

Budgets are tiny on purpose: a few hundred agent steps and ~25 gradient updates of the Nature
CNN per run. Runs of one agent share a configuration, so they share one compilation.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from faults import stop_after

from prunebook import networks
from prunebook.agents import iqn
from prunebook.agents.common import linearly_decaying_epsilon
from prunebook.config import RunConfig, paper_config
from prunebook.loops import atari as atari_loop
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.sweeps import checkpoints, runner, store


def _tiny(agent: str, **overrides):
    """400 agent steps in 2 iterations; 25 updates (steps 304..400), 3 target syncs."""
    values = dict(network="nature", num_env_steps=400, iteration_env_steps=200,
                  min_replay_history=300, replay_capacity=1_000, target_update_period=40,
                  epsilon_decay_steps=100)
    values.update(overrides)
    return paper_config(agent, **values)


def _iterations_without_wall(record):
    return [{k: v for k, v in it.items() if k not in TIMING_KEYS}
            for it in record["iterations"]]


def test_host_epsilon_is_dopamines_schedule():
    config = _tiny("dqn")
    for step in (0, 150, 300, 301, 350, 399, 400, 10_000):
        expected = float(linearly_decaying_epsilon(
            config.epsilon_decay_steps, step, config.min_replay_history, config.epsilon_train))
        assert atari_loop.epsilon_at(config, step) == pytest.approx(expected, abs=1e-6)
    assert atari_loop.epsilon_at(config, 0) == 1.0
    assert atari_loop.epsilon_at(config, 400) == pytest.approx(config.epsilon_train)


@pytest.mark.parametrize("agent", ["dqn", "rainbow"])
def test_tiny_run_writes_results_and_resume_equals_uninterrupted(agent, tmp_path):
    config = _tiny(agent)
    full = runner.run_one(config, "atari", tmp_path / "full", tmp_path / "ck_full")
    record = store.read_run(full)
    its = record["iterations"]
    assert record["config"] == config.to_dict() and record["config"]["suite"] == "atari"
    assert [it["env_steps"] for it in its] == [200, 400]
    assert [it["gradient_updates"] for it in its] == [0, 25]
    assert its[0]["loss"] is None and np.isfinite(its[1]["loss"])
    assert its[1]["sparsity"] == pytest.approx(0.95, abs=0.01)  # GMP reached its target
    assert sum(it["num_episodes"] for it in its) >= 1  # random Breakout ends within 400 steps
    layers = set(its[1]["measures"]["dormant_tau0.1"])  # the §5 measures; output layer left out
    assert "QHead_0/Dense_0" in layers and "QHead_0/Dense_1" not in layers
    assert its[1]["measures"]["param_norm"] > 0 and its[1]["measures"]["srank"] >= 1
    frame = store.load_runs(tmp_path / "full")
    assert len(frame) == 2 and set(frame.suite) == {"atari"}

    # Interrupted after iteration 1 (checkpoint on disk), then resumed in a fresh trainer.
    assert len(stop_after(1, config, "atari", tmp_path / "res", tmp_path / "ck")) == 1
    assert checkpoints.checkpoint_path(tmp_path / "ck", "atari", config.run_id).exists()
    resumed = runner.run_one(config, "atari", tmp_path / "res", tmp_path / "ck")
    assert _iterations_without_wall(json.loads(resumed.read_text())) == \
        _iterations_without_wall(record)


def test_checkpoint_round_trip_restores_replay_rng_and_emulator(tmp_path):
    config = _tiny("rainbow")  # prioritized: the sum-tree is saved too
    trainer = atari_loop.make_atari_trainer(config)  # shares the compilation of the run above
    state = trainer.init(0)
    for _ in range(config.num_iterations):
        state = trainer.run_iteration(state)
    path = tmp_path / "state.npz"
    checkpoints.save_checkpoint(path, trainer.to_arrays(state), {"note": "test"})
    arrays, _ = checkpoints.load_checkpoint(path)
    restored = trainer.from_arrays(trainer.init(0), arrays)

    for a, b in zip(jax.tree.leaves((state.params, state.target_params, state.opt_state)),
                    jax.tree.leaves((restored.params, restored.target_params,
                                     restored.opt_state)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(state.key), np.asarray(restored.key))
    for name in ("frames", "actions", "rewards", "terminals", "episode_ends"):
        np.testing.assert_array_equal(getattr(state.replay, name), getattr(restored.replay, name))
    np.testing.assert_array_equal(state.replay.sum_tree.nodes, restored.replay.sum_tree.nodes)
    assert restored.replay.add_count == state.replay.add_count
    assert (restored.agent_steps, restored.updates) == (state.agent_steps, state.updates) == (
        400, 25)
    assert len(np.unique(state.replay.sum_tree.get(np.arange(400)))) > 3  # learned priorities
    assert restored.rng.bit_generator.state == state.rng.bit_generator.state
    np.testing.assert_array_equal(restored.obs, state.obs)
    # The emulator (sticky-action RNG included) continues identically.
    actions = np.random.default_rng(1).integers(0, state.env.num_actions, 300)
    for env in (state.env, restored.env):
        trace = []
        for a in actions:
            res = env.step(int(a))
            trace.append((res.obs, res.reward, res.terminated, res.truncated))
            if res.terminated or res.truncated:
                env.reset()
        env.trace = trace
    for (o1, *r1), (o2, *r2) in zip(state.env.trace, restored.env.trace, strict=True):
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2


def test_impala_width_1_forward_matches_dossier_count():
    net = networks.ImpalaCNN(num_actions=18, width=1)
    obs = jnp.full((1, 84, 84, 4), 128, jnp.uint8)
    key = jax.random.PRNGKey(0)
    shapes = jax.eval_shape(net.init, key, obs)
    assert networks.count_params(shapes) == 2_089_954  # dossier §2.4, |A| = 18
    rng = np.random.default_rng(0)  # random weights, without compiling the initializers
    params = jax.tree.map(lambda s: 0.05 * rng.standard_normal(s.shape, np.float32), shapes)
    q_values = net.apply(params, obs).q_values
    assert q_values.shape == (1, 18) and bool(jnp.isfinite(q_values).all())


# --- IQN -------------------------------------------------------------------------------------

def test_quantile_huber_loss_by_hand():
    # u = T_j - Z_i: [[1, -1.5], [3, 0.5]]; Huber_1: [[0.5, 1.0], [2.5, 0.125]];
    # |tau_i - 1{u<0}|: [[0.25, 0.25], [0.25, 0.75]];
    # rows (sum over i): 0.375, 0.71875; mean over j: 0.546875
    loss = iqn.quantile_huber_loss(jnp.array([1.0, 3.0]), jnp.array([0.0, 2.5]),
                                   jnp.array([0.25, 0.75]), kappa=1.0)
    assert float(loss) == pytest.approx(0.546875)
    # kappa = 2: Huber_2 = [[0.5, 1.125], [4.0, 0.125]] / 2, same weights
    loss2 = iqn.quantile_huber_loss(jnp.array([1.0, 3.0]), jnp.array([0.0, 2.5]),
                                    jnp.array([0.25, 0.75]), kappa=2.0)
    expected = ((0.25 * 0.5 + 0.25 * 1.125) + (0.25 * 4.0 + 0.75 * 0.125)) / 2 / 2
    assert float(loss2) == pytest.approx(expected)


def test_iqn_defaults_are_dopamines():
    hp = iqn.IQNHyperParams.from_config(RunConfig(agent="iqn"))
    assert (hp.kappa, hp.num_tau_samples, hp.num_tau_prime_samples, hp.num_quantile_samples,
            hp.quantile_embedding_dim) == (1.0, 64, 64, 32, 64)


def test_iqn_network_shapes():
    net = iqn.IQNNetwork(num_actions=5, encoder="minatar")
    obs = jnp.ones((3, 10, 10, 4), jnp.uint8)

    @jax.jit
    def forward(key):
        init_key, tau_key = jax.random.split(key)
        return net.apply(net.init(init_key, obs, tau_key, 1), obs, tau_key, 7)

    out = forward(jax.random.PRNGKey(0))
    assert out.quantile_values.shape == (3, 7, 5) and out.taus.shape == (3, 7)
    assert bool(((out.taus >= 0) & (out.taus < 1)).all())
    np.testing.assert_allclose(out.q_values, out.quantile_values.mean(axis=1), rtol=1e-6)
    assert not np.allclose(out.quantile_values[:, 0], out.quantile_values[:, 1])  # tau matters
    # Atari trunks: Nature flattens to 7 x 7 x 64, Impala to 11 x 11 x 32 (x width); the tau
    # embedding maps 64 cosines to that size.
    key = jax.random.PRNGKey(0)
    frames = jnp.zeros((1, 84, 84, 4), jnp.uint8)
    for encoder, width, features in [("nature", 1, 3136), ("impala", 1, 3872),
                                     ("impala", 3, 11_616)]:
        shapes = jax.eval_shape(lambda e=encoder, w=width: iqn.IQNNetwork(18, e, w).init(
            key, frames, key, 1))
        assert shapes["params"]["Dense_0"]["kernel"].shape == (64, features)
        out = jax.eval_shape(lambda p, e=encoder, w=width: iqn.IQNNetwork(18, e, w).apply(
            p, frames, key, 64), shapes)
        assert out.quantile_values.shape == (1, 64, 18)


def test_iqn_tiny_atari_run_through_the_runner(tmp_path):
    config = paper_config("iqn", network="nature", num_env_steps=400, iteration_env_steps=200,
                          min_replay_history=360, replay_capacity=1_000, batch_size=8,
                          target_update_period=40, epsilon_decay_steps=100)
    trainer = atari_loop.make_atari_trainer(config, agent=iqn.make_iqn(config, 4))
    out = runner.run_one(config, "atari_iqn", tmp_path / "r", tmp_path / "c", trainer=trainer)
    its = store.read_run(out)["iterations"]
    assert [it["gradient_updates"] for it in its] == [0, 10]
    assert np.isfinite(its[1]["loss"]) and its[1]["loss"] > 0
    assert its[1]["sparsity"] == pytest.approx(0.95, abs=0.01)
