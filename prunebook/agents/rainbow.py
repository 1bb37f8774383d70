"""Dopamine's compact Rainbow: C51 + n-step returns + prioritized replay (no double/dueling/noisy).

Priorities are sqrt(loss + 1e-10) and importance weights use a fixed beta = 0.5, as in
Dopamine's `rainbow_agent.py`.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax

from prunebook.agents.common import Agent, make_agent, make_network, make_optimizer
from prunebook.config import RunConfig
from prunebook.replay.jittable import Batch


def project_distribution(target_support: jax.Array, probabilities: jax.Array,
                         support: jax.Array) -> jax.Array:
    """Project a distribution on `target_support` (B, N) onto the fixed `support` (N,).

    Each target atom splits its mass between the two nearest support atoms (Bellemare et al.
    2017, Algorithm 1), written as the triangular-kernel form Dopamine uses.
    """
    v_min, v_max = support[0], support[-1]
    delta = support[1] - support[0]
    clipped = jnp.clip(target_support, v_min, v_max)  # (B, N)
    # weight[b, i, j]: share of target atom j that lands on support atom i
    weight = jnp.clip(1.0 - jnp.abs(clipped[:, None, :] - support[None, :, None]) / delta, 0, 1)
    return (weight * probabilities[:, None, :]).sum(-1)  # (B, N)


def c51_loss(logits: jax.Array, actions: jax.Array, next_probabilities: jax.Array,
             returns: jax.Array, discounts: jax.Array, support: jax.Array) -> jax.Array:
    """Per-sample C51 loss: cross-entropy of the taken action's logits (B, actions, atoms)
    against the projected target R^(n) + gamma^n (1 - done) z, z ~ next_probabilities (B, atoms).

    Shared by compact Rainbow and DER (`prunebook.agents.atari100k`).
    """
    batch, atoms = actions.shape[0], support.shape[0]
    chex.assert_shape(logits, (batch, None, atoms))
    chex.assert_shape(next_probabilities, (batch, atoms))
    chex.assert_shape([actions, returns, discounts], (batch,))
    chosen_logits = jnp.take_along_axis(logits, actions[:, None, None], axis=1)[:, 0]
    target_support = returns[:, None] + discounts[:, None] * support[None]
    target = jax.lax.stop_gradient(
        project_distribution(target_support, next_probabilities, support))
    return optax.softmax_cross_entropy(chosen_logits, target)  # (B,)


def make_rainbow(config: RunConfig, num_actions: int) -> Agent:
    network = make_network(config, num_actions, distributional=True)
    support = jnp.linspace(-config.v_max, config.v_max, config.num_atoms)

    def per_sample_loss(params, target_params, batch: Batch, key) -> jax.Array:
        del key  # deterministic given the batch
        logits = network.apply(params, batch.obs).logits  # (B, actions, atoms)
        target_out = network.apply(target_params, batch.next_obs)
        next_action = jnp.argmax(target_out.q_values, axis=1)  # (B,)
        next_probs = jnp.take_along_axis(
            target_out.probabilities, next_action[:, None, None], axis=1)[:, 0]  # (B, atoms)
        return c51_loss(logits, batch.actions, next_probs, batch.returns, batch.discounts,
                        support)

    return make_agent(config, network, make_optimizer(config), per_sample_loss, num_actions,
                      prioritized=True)


def new_priorities(per_sample_loss: jax.Array) -> jax.Array:
    return jnp.sqrt(per_sample_loss + 1e-10)
