"""The §5 measures against hand-computed cases, and that logging them changes no result."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunebook import measures, networks
from prunebook.config import ci_config
from prunebook.loops.minatar import make_trainer
from prunebook.replay.jittable import Batch
from prunebook.sweeps import runner


def test_dormant_fractions_match_hand_computed_scores():
    # per-unit mean |activation|: [0, 0, 1, 3] -> layer mean 1 -> scores [0, 0, 1, 3]
    dead_two = jnp.array([[0.0, 0.0, 2.0, -6.0], [0.0, 0.0, 0.0, 0.0]])
    # [0.05, 1, 1, 1.95] -> scores equal the means: only the first is <= 0.1, none is 0
    one_weak = jnp.array([[0.05, 1.0, 1.0, 1.95]])
    for tau, want in ((0.0, (0.5, 0.0, 2 / 8)), (0.1, (0.5, 0.25, 3 / 8))):
        got = measures.dormant_fractions({"a": dead_two, "b": one_weak}, tau)
        assert (float(got["a"]), float(got["b"]), float(got["overall"])) == pytest.approx(want)


def test_a_conv_unit_is_a_channel_averaged_over_positions():
    act = jnp.zeros((2, 3, 3, 4)).at[:, :, :, 1].set(1.0).at[0, 0, 0, 2].set(9.0)
    scores = measures.unit_scores(act)  # means [0, 1, 0.5, 0] / 0.375
    np.testing.assert_allclose(scores, np.array([0.0, 1.0, 0.5, 0.0]) / 0.375, rtol=1e-6)
    assert float(measures.dormant_fractions({"c": act}, 0.0)["overall"]) == 0.5


def test_a_dead_layer_is_all_dormant():
    assert float(measures.dormant_fractions({"x": jnp.zeros((5, 3))}, 0.0)["x"]) == 1.0


def test_srank_of_features_with_known_singular_values():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.normal(size=(64, 8)))
    v, _ = np.linalg.qr(rng.normal(size=(8, 8)))

    def features(singular):
        s = np.zeros(8)
        s[: len(singular)] = singular
        return jnp.asarray(u @ np.diag(s) @ v.T, jnp.float32)

    assert int(measures.srank(features([3.0, 2.0, 1.0]))) == 3  # cumulative 0.5, 0.83, 1
    assert int(measures.srank(features([100.0, 0.5]))) == 1  # 100 / 100.5 > 0.99
    assert int(measures.srank(features([97.0, 2.5, 0.5]))) == 2  # cumulative 0.97, 0.995
    assert int(measures.srank(features([1.0] * 8))) == 8


def test_l2_norm_is_the_norm_of_all_leaves():
    params = {"a": jnp.array([3.0, 0.0]), "b": {"c": jnp.array([[4.0]])}}
    assert float(measures.l2_norm(params)) == pytest.approx(5.0)


def test_hidden_layers_of_the_minatar_network_exclude_the_output():
    net = networks.MinAtarCNN(num_actions=3)
    obs = jnp.asarray(np.random.default_rng(1).integers(0, 2, (4, 10, 10, 4)), jnp.uint8)
    params = net.init(jax.random.PRNGKey(0), obs)
    out, acts = measures.hidden_activations(net.apply, params, obs)
    assert list(acts) == ["Conv_0", "QHead_0/Dense_0"]
    assert acts["Conv_0"].shape == (4, 8, 8, 16) and acts["QHead_0/Dense_0"].shape == (4, 128)
    dense = params["params"]["QHead_0"]["Dense_0"]
    flat = acts["Conv_0"].reshape(4, -1)
    np.testing.assert_allclose(acts["QHead_0/Dense_0"],
                               jax.nn.relu(flat @ dense["kernel"] + dense["bias"][None]), rtol=1e-5)
    head = params["params"]["QHead_0"]["Dense_1"]
    np.testing.assert_allclose(out.q_values, acts["QHead_0/Dense_0"] @ head["kernel"]
                               + head["bias"][None], rtol=1e-5, atol=1e-6)


def test_q_and_td_target_moments_match_numpy():
    net = networks.MinAtarCNN(num_actions=3)
    rng = np.random.default_rng(2)
    obs = jnp.asarray(rng.integers(0, 2, (8, 10, 10, 4)), jnp.uint8)
    next_obs = jnp.asarray(rng.integers(0, 2, (8, 10, 10, 4)), jnp.uint8)
    params = net.init(jax.random.PRNGKey(0), obs)
    target_params = net.init(jax.random.PRNGKey(1), obs)
    batch = Batch(obs=obs, actions=jnp.zeros(8, jnp.int32), returns=jnp.arange(8.0),
                  discounts=jnp.full(8, 0.99).at[3].set(0.0), next_obs=next_obs,
                  indices=jnp.arange(8), probabilities=jnp.full(8, 1 / 8))
    measure = measures.make_measure(lambda p, o, k, **kw: net.apply(p, o, **kw))
    got = measures.to_record(measure(params, target_params, batch, jax.random.PRNGKey(0)))
    q = np.asarray(net.apply(params, obs).q_values)
    next_q = np.asarray(net.apply(target_params, next_obs).q_values)
    targets = np.arange(8.0) + np.asarray(batch.discounts) * next_q.max(axis=1)
    assert got["q_mean"] == pytest.approx(q.mean(), rel=1e-5)
    assert got["q_var"] == pytest.approx(q.var(), rel=1e-4)
    assert got["td_target_var"] == pytest.approx(targets.var(), rel=1e-4)
    assert isinstance(got["srank"], int) and 1 <= got["srank"] <= 8
    assert set(got["dormant_tau0"]) == {"Conv_0", "QHead_0/Dense_0", "overall"}


@pytest.mark.parametrize("agent", ["dqn", "rainbow", "iqn"])
def test_every_online_record_logs_the_measures_without_changing_training(tmp_path, agent):
    config = ci_config(agent, game="Breakout", final_sparsity=0.9, num_env_steps=2_000)
    trainer = make_trainer(config)
    logged = runner.run_one(config, "m", tmp_path / "a", tmp_path / "ca", trainer=trainer)
    silent = runner.run_one(config, "m", tmp_path / "b", tmp_path / "cb",
                            trainer=dataclasses.replace(trainer, measures=None))
    with_measures = json.loads(logged.read_text())["iterations"]
    without = json.loads(silent.read_text())["iterations"]
    for a, b in zip(with_measures, without, strict=True):
        assert "measures" in a and "measures" not in b
        assert a["train_return"] == b["train_return"] and a["loss"] == b["loss"]
    last = with_measures[-1]["measures"]
    assert 0.0 <= last["dormant_tau0"]["overall"] <= last["dormant_tau0.1"]["overall"] <= 1.0
    assert last["param_norm"] > 0 and last["srank"] >= 1


def test_the_measurement_batch_is_fixed_by_the_seed():
    config = ci_config("dqn", game="Breakout", num_env_steps=2_000)
    trainer = make_trainer(config)
    state = trainer.run_iteration(trainer.init(0))
    first = measures.to_record(trainer.measures(state, measures.measures_key(0)))
    again = measures.to_record(trainer.measures(state, measures.measures_key(0)))
    other = measures.to_record(trainer.measures(state, measures.measures_key(1)))
    assert first == again and first != other
