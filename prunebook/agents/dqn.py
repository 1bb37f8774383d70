"""DQN (Mnih et al. 2015) with Dopamine's JAX semantics: MSE (or Huber) TD loss, n-step target."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax

from prunebook.agents.common import Agent, make_agent, make_network, make_optimizer
from prunebook.config import RunConfig
from prunebook.replay.jittable import Batch


def td_loss(q_values: jax.Array, actions: jax.Array, target: jax.Array, loss: str) -> jax.Array:
    """Per-sample TD loss of Q(s, a) (B, actions) at the taken actions (B,) against `target` (B,).

    Shared by DQN and DrQ(eps) (`prunebook.agents.atari100k`).
    """
    batch = actions.shape[0]
    chex.assert_rank(q_values, 2)
    chex.assert_shape([actions, target], (batch,))
    chex.assert_shape(q_values, (batch, None))
    chosen = jnp.take_along_axis(q_values, actions[:, None], axis=1)[:, 0]  # (B,)
    if loss == "huber":
        return optax.huber_loss(chosen, target, delta=1.0)
    return 0.5 * (chosen - target) ** 2  # Dopamine's mse_loss


def make_dqn(config: RunConfig, num_actions: int, donor_masks=None) -> Agent:
    """DQN; `donor_masks` only for a lottery ticket (`make_optimizer`)."""
    network = make_network(config, num_actions, distributional=False)

    def per_sample_loss(params, target_params, batch: Batch, key) -> jax.Array:
        del key  # deterministic given the batch
        q_values = network.apply(params, batch.obs).q_values  # (B, actions)
        next_q = network.apply(target_params, batch.next_obs).q_values  # (B, actions)
        # y = R^(n) + gamma^n * (1 - done) * max_a' Qbar(s', a')
        target = jax.lax.stop_gradient(batch.returns + batch.discounts * next_q.max(axis=1))
        return td_loss(q_values, batch.actions, target, config.loss)

    return make_agent(config, network, make_optimizer(config, donor_masks), per_sample_loss,
                      num_actions)
