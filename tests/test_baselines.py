"""Chapter 7's baselines as the update sees them: decoupled weight decay and L2 change a step as
their formulas say, Reset and ReDo act exactly on their period, and each trains in the loop."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from prunebook import pruning
from prunebook.agents import AGENT_FACTORIES
from prunebook.agents.common import l2_term, make_optimizer, make_update
from prunebook.config import baseline_settings, ci_config, cpu_config
from prunebook.loops.baselines import make_intervention
from prunebook.loops.minatar import make_trainer
from prunebook.replay.jittable import Batch

LR = 2.5e-4


def tiny_params():
    return {"dense": {"kernel": jnp.array([[0.5, -1.0], [2.0, 0.25]]),
                      "bias": jnp.array([0.1, -0.2])}}


def test_weight_decay_is_decoupled_adamw():
    params = tiny_params()
    grads = jax.tree.map(lambda p: 0.3 * jnp.ones_like(p) - p, params)
    wd = 1e-2
    plain, decayed = make_optimizer(ci_config()), make_optimizer(ci_config(weight_decay=wd))
    step, _ = plain.update(grads, plain.init(params), params)
    step_wd, _ = decayed.update(grads, decayed.init(params), params)
    # theta' = theta - lr * (adam direction + wd * theta): the decay skips Adam's scaling
    want = jax.tree.map(lambda u, p: u - LR * wd * p, step, params)
    for got, expected in zip(jax.tree.leaves(step_wd), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
    assert not np.allclose(jax.tree.leaves(step_wd)[1], jax.tree.leaves(step)[1])


def _params_and_batch(agent, key):
    obs = jax.random.bernoulli(key, 0.3, (8, 10, 10, 4)).astype(jnp.float32)
    batch = Batch(obs=obs, actions=jnp.arange(8) % 3, returns=jnp.linspace(0, 1, 8),
                  discounts=jnp.full((8,), 0.99), next_obs=obs[::-1],
                  indices=jnp.arange(8), probabilities=jnp.ones(8))
    return agent.network.init(key, obs[:1]), batch


def test_l2_adds_lambda_theta_to_the_gradient():
    config = ci_config(l2_penalty=1e-2)
    agent = AGENT_FACTORIES["dqn"](config, 3)
    key = jax.random.PRNGKey(0)
    params, batch = _params_and_batch(agent, key)
    opt_state = agent.optimizer.init(params)
    new, _, loss, _ = agent.update(params, params, opt_state, batch, key)
    td_grads = jax.grad(lambda p: agent.per_sample_loss(p, params, batch, key).mean())(params)
    grads = jax.tree.map(lambda g, p: g + config.l2_penalty * p, td_grads, params)
    updates, state = agent.optimizer.update(grads, opt_state, params)
    want = pruning.apply_masks(optax.apply_updates(params, updates), state)
    for got, expected in zip(jax.tree.leaves(new), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
    # the logged loss is the TD loss alone
    assert float(loss) == pytest.approx(float(agent.per_sample_loss(params, params, batch,
                                                                    key).mean()), rel=1e-6)
    assert float(l2_term(tiny_params(), 2.0)) == pytest.approx(0.25 + 1 + 4 + 0.0625 + 0.05)


def test_an_update_with_a_plain_optimizer_masks_unless_told_not_to():
    """`mask_params=False` (the benchmarks' no-pruning baseline) is exactly the optax step;
    left on, a plain optimizer has no masks and the update says so rather than skip them."""
    config = ci_config()
    agent = AGENT_FACTORIES["dqn"](config, 3)
    key = jax.random.PRNGKey(1)
    params, batch = _params_and_batch(agent, key)
    adam = optax.adam(config.learning_rate, eps=config.adam_eps)
    with pytest.raises(ValueError, match="pruning state"):
        make_update(config, adam, agent.per_sample_loss, False)(params, params,
                                                                 adam.init(params), batch, key)
    plain = make_update(config, adam, agent.per_sample_loss, False, mask_params=False)
    new, _, _, _ = plain(params, params, adam.init(params), batch, key)
    grads = jax.grad(lambda p: agent.per_sample_loss(p, params, batch, key).mean())(params)
    updates, _ = adam.update(grads, adam.init(params), params)
    want = optax.apply_updates(params, updates)
    for got, expected in zip(jax.tree.leaves(new), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert not np.allclose(jax.tree.leaves(new)[1], jax.tree.leaves(params)[1])


def test_baseline_settings_scale_the_papers_periods_with_the_run():
    cpu = cpu_config()
    assert baseline_settings("reset", cpu) == {"reset_every_updates": 1250}  # 1% of 500k / 4
    assert baseline_settings("redo", cpu) == {"redo_every_updates": 2500, "redo_tau": 0.1}
    assert baseline_settings("weight_decay", cpu) == {"weight_decay": 1e-5}


@pytest.mark.parametrize("field", ["reset_every_updates", "redo_every_updates"])
def test_reset_and_redo_act_exactly_on_their_period(field):
    config = ci_config(**{field: 10})
    trainer = make_trainer(config)
    state = trainer.init(0)
    network = trainer.agent.network
    obs = jax.random.bernoulli(jax.random.PRNGKey(1), 0.3, (16, 10, 10, 4)).astype(jnp.float32)

    def init_params(key, o):
        return network.init(key, o[None])

    intervene = make_intervention(config, network, init_params)
    key = jax.random.PRNGKey(7)
    # make some units dormant for ReDo: dead hidden units (negative bias, zero kernel)
    params = jax.tree.map(lambda x: x, state.params)
    hidden = params["params"]["QHead_0"]["Dense_0"]
    hidden["bias"] = hidden["bias"].at[:5].set(-10.0)
    hidden["kernel"] = hidden["kernel"].at[:, :5].set(0.0)
    off, _ = intervene(params, state.opt_state, jnp.asarray(11), obs, key)
    on, _ = intervene(params, state.opt_state, jnp.asarray(20), obs, key)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(off),
                                                    jax.tree.leaves(params), strict=True))
    fresh = init_params(key, obs[0])
    if field == "reset_every_updates":
        out = on["params"]["QHead_0"]["Dense_1"]
        assert np.array_equal(out["kernel"], fresh["params"]["QHead_0"]["Dense_1"]["kernel"])
        assert np.array_equal(on["params"]["Conv_0"]["kernel"],
                              params["params"]["Conv_0"]["kernel"])
    else:
        new_hidden = on["params"]["QHead_0"]["Dense_0"]
        assert np.array_equal(new_hidden["kernel"][:, :5],
                              fresh["params"]["QHead_0"]["Dense_0"]["kernel"][:, :5])
        assert np.all(np.asarray(new_hidden["bias"][:5]) == 0)
        assert np.all(np.asarray(on["params"]["QHead_0"]["Dense_1"]["kernel"][:5]) == 0)


@pytest.mark.parametrize("method", ["weight_decay", "l2", "reset", "redo"])
def test_each_baseline_trains_in_the_jitted_loop(method):
    config = ci_config(**baseline_settings(method, ci_config()))
    trainer = make_trainer(config)
    state = trainer.run_iteration(trainer.init(0))
    stats = trainer.stats(state)
    assert not stats.nonfinite_loss and np.isfinite(stats.loss)
    assert int(state.updates) > 0
