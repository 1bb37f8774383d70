"""DQN (Mnih et al. 2015) with Dopamine's JAX semantics: MSE (or Huber) TD loss, n-step target."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from prunebook.agents.common import Agent, make_network, make_optimizer
from prunebook.config import RunConfig
from prunebook.replay import Batch


def make_dqn(config: RunConfig, num_actions: int) -> Agent:
    network = make_network(config, num_actions, distributional=False)

    def per_sample_loss(params, target_params, batch: Batch) -> jax.Array:
        q_values = network.apply(params, batch.obs).q_values  # (B, actions)
        next_q = network.apply(target_params, batch.next_obs).q_values  # (B, actions)
        # y = R^(n) + gamma^n * (1 - done) * max_a' Qbar(s', a')
        target = jax.lax.stop_gradient(batch.returns + batch.discounts * next_q.max(axis=1))
        chosen = jnp.take_along_axis(q_values, batch.actions[:, None], axis=1)[:, 0]  # (B,)
        if config.loss == "huber":
            return optax.huber_loss(chosen, target, delta=1.0)
        return 0.5 * (chosen - target) ** 2  # Dopamine's mse_loss

    return Agent(network, make_optimizer(config), per_sample_loss, prioritized=False)
