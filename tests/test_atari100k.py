"""DER and DrQ(eps) (`prunebook.agents.atari100k`): losses, one update, tiny Atari runs.

Everything runs the Nature CNN at width 1 on a handful of 84x84 frames; the Impala network is
only shape-checked (`jax.eval_shape`, no compile).
"""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from faults import stop_after

from prunebook import networks
from prunebook.agents import atari100k, augment, rainbow
from prunebook.cli import main as cli_main
from prunebook.config import ConfigError, ci_config, cpu_config, paper_config, preset_config
from prunebook.loops import atari as atari_loop
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.replay.jittable import Batch
from prunebook.sweeps import runner, store

NUM_ACTIONS = 4


def _config(agent, **overrides):
    values = dict(network="nature", batch_size=4, num_env_steps=200, iteration_env_steps=100,
                  min_replay_history=150, replay_capacity=1_000, epsilon_decay_steps=50)
    values.update(overrides)
    return paper_config(agent, **values)


def _batch(seed=0, size=4) -> Batch:
    rng = np.random.default_rng(seed)
    frames = lambda: rng.integers(0, 256, (size, 84, 84, 4), dtype=np.uint8)  # noqa: E731
    return Batch(obs=frames(), actions=rng.integers(0, NUM_ACTIONS, size).astype(np.int32),
                 returns=rng.normal(size=size).astype(np.float32),
                 discounts=np.array([0.9, 0.0, 0.9, 0.9][:size], np.float32),
                 next_obs=frames(), indices=np.arange(size, dtype=np.int32),
                 probabilities=np.full(size, 0.25, np.float32))


def _params(agent, batch, seed=0):
    """Online params and a different target network."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    init = jax.jit(agent.network.init)
    return init(k1, batch.obs[:1]), init(k2, batch.obs[:1])


def _loss(agent, params, target, batch, key):
    return np.asarray(jax.jit(agent.per_sample_loss)(params, target, batch, key))


def test_drq_augmentation_hook_changes_the_loss_and_a_zero_shift_does_not():
    config = _config("drq_eps")
    batch = _batch()
    drq = atari100k.make_atari100k(config, NUM_ACTIONS)
    plain = atari100k.make_atari100k(config, NUM_ACTIONS, variant=dataclasses.replace(
        atari100k.VARIANTS["drq_eps"], data_augmentation=False))

    def zero_shift(key, obs):  # offsets = pad: the crop returns the image; no intensity change
        n = obs.shape[0]
        return augment.shift(obs, jnp.full(n, 4), jnp.full(n, 4), pad=4)

    unshifted = atari100k.make_atari100k(config, NUM_ACTIONS, augment=zero_shift)
    params, target = _params(drq, batch)
    key = jax.random.PRNGKey(7)
    with_aug = _loss(drq, params, target, batch, key)
    without = _loss(plain, params, target, batch, key)
    assert with_aug.shape == (4,) and np.isfinite(with_aug).all()
    assert not np.allclose(with_aug, without, rtol=1e-4)
    np.testing.assert_allclose(_loss(unshifted, params, target, batch, key), without, rtol=1e-6)
    # the augmentation draws from the key: another key, another loss
    assert not np.allclose(_loss(drq, params, target, batch, jax.random.PRNGKey(8)), with_aug)


def test_drq_loss_is_double_dqn_huber_by_hand():
    config = _config("drq_eps")
    batch = _batch(1)
    agent = atari100k.make_atari100k(config, NUM_ACTIONS, variant=dataclasses.replace(
        atari100k.VARIANTS["drq_eps"], data_augmentation=False))
    params, target = _params(agent, batch, seed=1)
    q = np.asarray(agent.network.apply(params, batch.obs).q_values)
    q_next_online = np.asarray(agent.network.apply(params, batch.next_obs).q_values)
    q_next_target = np.asarray(agent.network.apply(target, batch.next_obs).q_values)
    a_star = q_next_online.argmax(1)  # double DQN: online network chooses, target evaluates
    assert (a_star != q_next_target.argmax(1)).any()  # so the two targets below differ
    y = batch.returns + batch.discounts * q_next_target[np.arange(4), a_star]
    err = np.abs(q[np.arange(4), batch.actions] - y)
    huber = np.where(err <= 1.0, 0.5 * err**2, err - 0.5)
    loss = _loss(agent, params, target, batch, jax.random.PRNGKey(0))
    np.testing.assert_allclose(loss, huber, rtol=1e-4, atol=1e-6)
    # the max-over-target (no double DQN) target differs from it
    single = atari100k.make_atari100k(config, NUM_ACTIONS, variant=dataclasses.replace(
        atari100k.VARIANTS["drq_eps"], data_augmentation=False, double_dqn=False))
    y_max = batch.returns + batch.discounts * q_next_target.max(1)
    err_max = np.abs(q[np.arange(4), batch.actions] - y_max)
    huber_max = np.where(err_max <= 1.0, 0.5 * err_max**2, err_max - 0.5)
    np.testing.assert_allclose(_loss(single, params, target, batch, jax.random.PRNGKey(0)),
                               huber_max, rtol=1e-4, atol=1e-6)
    assert not np.allclose(huber, huber_max)


def test_der_loss_is_c51_with_double_dqn_by_hand_when_noise_is_off():
    config = _config("der")
    batch = _batch(2)
    variant = dataclasses.replace(atari100k.VARIANTS["der"], noisy=False)
    agent = atari100k.make_atari100k(config, NUM_ACTIONS, variant=variant)
    params, target = _params(agent, batch, seed=2)
    out = agent.network.apply(params, batch.obs)
    a_star = np.asarray(agent.network.apply(params, batch.next_obs).q_values).argmax(1)
    next_probs = np.asarray(agent.network.apply(target, batch.next_obs).probabilities)
    p = next_probs[np.arange(4), a_star]  # (B, atoms)
    support = jnp.linspace(-10.0, 10.0, 51)
    target_dist = rainbow.project_distribution(
        batch.returns[:, None] + batch.discounts[:, None] * support[None], p, support)
    chosen = np.asarray(out.logits)[np.arange(4), batch.actions]
    expected = optax.softmax_cross_entropy(chosen, target_dist)
    np.testing.assert_allclose(_loss(agent, params, target, batch, jax.random.PRNGKey(0)),
                               expected, rtol=1e-4, atol=1e-6)


def test_noisy_dense_noise_comes_from_the_key_and_is_off_without_one():
    layer = networks.NoisyDense(3)
    x = jnp.ones((2, 5))
    params = layer.init(jax.random.PRNGKey(0), x, None)["params"]
    assert params["kernel_sigma"].shape == (5, 3)
    np.testing.assert_allclose(params["kernel_sigma"], 0.1 / np.sqrt(5), rtol=1e-6)
    assert np.abs(params["kernel_mu"]).max() <= 1 / np.sqrt(5)
    mean = layer.apply({"params": params}, x, None)
    expected = np.asarray(x) @ np.asarray(params["kernel_mu"]) + np.asarray(params["bias_mu"])
    np.testing.assert_allclose(mean, expected, rtol=1e-6)
    a = layer.apply({"params": params}, x, jax.random.PRNGKey(1))
    b = layer.apply({"params": params}, x, jax.random.PRNGKey(1))
    c = layer.apply({"params": params}, x, jax.random.PRNGKey(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, mean) and not np.allclose(a, c)
    np.testing.assert_allclose(a[0], a[1], rtol=1e-6)  # one noise draw for the whole batch


def test_impala_x3_heads_have_the_dopamine_parts():
    obs = jnp.zeros((1, 84, 84, 4), jnp.uint8)
    for agent, names in [("der", {"NoisyDense_0", "NoisyDense_1", "NoisyDense_2"}),
                         ("drq_eps", {"Dense_0", "Dense_1", "Dense_2"})]:
        net = atari100k.make_atari100k(paper_config(agent, width=3), 18).network
        shapes = jax.eval_shape(net.init, jax.random.PRNGKey(0), obs)["params"]
        head = shapes["QHead_0"]
        assert set(head) == names  # hidden 512, dueling advantage and value heads
        atoms = 51 if agent == "der" else 1
        adv, val = sorted(head)[1:]
        out_key = "kernel_mu" if agent == "der" else "kernel"
        assert head[adv][out_key].shape == (512, 18 * atoms)
        assert head[val][out_key].shape == (512, atoms)
        first = head[sorted(head)[0]][out_key]
        assert first.shape == (11 * 11 * 32 * 3, 512)  # Impala x3 flatten -> dense 512


@pytest.mark.parametrize("agent", ["der", "drq_eps"])
def test_one_jitted_update_runs_and_is_deterministic(agent):
    # The Atari loop's jitted update (agents.common.make_update + key handling), compiled for
    # the same configuration as the tiny run below, so both tests share one compilation.
    config = _config(agent, target_update_period=10)
    compiled = atari_loop._compiled_for(config, NUM_ACTIONS)
    built = compiled.agent
    assert (built.act is not built.act_eval) == (agent == "der")  # DER acts on noise
    assert built.prioritized == (agent == "der")
    batch = _batch(3)
    params, target = _params(built, batch)
    opt_state = built.optimizer.init(params)
    key = jax.random.PRNGKey(5)
    p1, _, loss1, per_sample1, key1 = compiled.update(params, target, opt_state, batch, key)
    p2, _, loss2, _, key2 = compiled.update(params, target, opt_state, batch, key)
    _, _, loss3, _, _ = compiled.update(params, target, opt_state, batch, jax.random.PRNGKey(6))
    assert np.isfinite(float(loss1)) and per_sample1.shape == (4,)
    assert float(loss1) == float(loss2)
    np.testing.assert_array_equal(np.asarray(key1), np.asarray(key2))
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(loss3) != float(loss1)  # augmentation (DrQ) or noise (DER) comes from the key
    changed = [not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(params), jax.tree.leaves(p1), strict=True)]
    assert any(changed)


def test_atari_only_agents_are_refused_for_minatar_with_the_allowed_values(capsys):
    for make in (ci_config, cpu_config):
        with pytest.raises(ConfigError, match=r"only on Atari.*\['dqn', 'rainbow', 'iqn'\]"):
            make("der")
    with pytest.raises(ConfigError, match="minatar"):
        preset_config("ci", "drq_eps")
    assert cli_main(["status", "--preset", "cpu", "--agents", "drq_eps"]) == 2
    assert "only on Atari" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="Atari setting"):
        ci_config("dqn", terminal_on_life_loss=True)


def test_noisy_agents_act_with_epsilon_zero():
    config = _config("der")
    assert atari_loop.epsilon_at(config, 0) == 1.0  # warm-up epsilon
    agent = atari100k.make_atari100k(config, NUM_ACTIONS)
    obs = jnp.zeros((84, 84, 4), jnp.uint8)
    params = agent.init(jax.random.PRNGKey(0), obs)
    for i in range(8):  # DER ignores epsilon: greedy on a noise draw, never a random action
        key = jax.random.PRNGKey(i)
        greedy = jnp.argmax(agent.network.apply(params, obs[None], jax.random.split(key)[1])
                            .q_values[0])
        assert int(agent.act(params, obs, key, 1.0)) == int(greedy)


@pytest.mark.parametrize("agent", ["der", "drq_eps"])
def test_tiny_atari_run_through_the_runner(agent, tmp_path):
    """200 agent steps, updates from step 151 (one per step: 50), Atari-100k environment."""
    config = _config(agent, target_update_period=10)
    trainer = atari_loop.make_atari_trainer(config)
    state = trainer.init(0)
    assert state.env.sticky_actions is False and state.env.terminal_on_life_loss is True
    out = runner.run_one(config, "atari100k", tmp_path / "r", tmp_path / "c", trainer=trainer)
    record = store.read_run(out)
    its = record["iterations"]
    assert record["config"]["agent"] == agent and record["config"]["sticky_actions"] is False
    assert [it["gradient_updates"] for it in its] == [0, 50]
    assert np.isfinite(its[1]["loss"]) and its[1]["loss"] > 0
    assert its[1]["sparsity"] == pytest.approx(0.95, abs=0.01)
    hidden = set(its[1]["measures"]["dormant_tau0"]) - {"overall"}
    dense = "QHead_0/NoisyDense_0" if agent == "der" else "QHead_0/Dense_0"
    assert hidden == {"Conv_0", "Conv_1", "Conv_2", dense}  # both dueling outputs left out
    if agent == "der":  # resume after iteration 1 == uninterrupted (noise keys are state)
        assert len(stop_after(1, config, "atari100k", tmp_path / "r2", tmp_path / "c2")) == 1
        resumed = json.loads(runner.run_one(config, "atari100k", tmp_path / "r2",
                                            tmp_path / "c2").read_text())
        strip = lambda r: [{k: v for k, v in it.items() if k not in TIMING_KEYS}  # noqa: E731
                           for it in r["iterations"]]
        assert strip(resumed) == strip(record)
