"""Conservative Q-learning (Kumar et al. 2020) for discrete actions, as the paper ran it offline.

Both agents add the CQL(H) regulariser to their TD loss (Dopamine's `OfflineJaxRainbowAgent`,
whose `bc_coefficient = 0.1` is this weight alpha):

    L = L_TD + alpha * mean_i [ logsumexp_a Q(s_i, a) - Q(s_i, a_i) ]

It pushes down the Q-values of actions the data does not take and up those it does.

* CQL: the DQN head, Huber TD loss on y = R^(n) + gamma^n (1 - done) max_a' Qbar(s', a').
* CQL+C51: Dopamine's full-Rainbow head without noise (dueling, double DQN, 51 atoms on
  [-v_max, v_max], n = 3): C51 cross-entropy to the projected target distribution of the
  next action chosen by the online network; the regulariser acts on the expected Q-values.

The optimizer is `gmp(adam)` over the offline run's gradient updates (`agents.common`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from prunebook import networks
from prunebook.agents.common import Agent, make_agent, make_optimizer
from prunebook.agents.rainbow import project_distribution
from prunebook.replay.jittable import Batch


def cql_regularizer(q_values: jax.Array, actions: jax.Array) -> jax.Array:
    """Per-sample logsumexp_a Q(s, a) - Q(s, a_data); q_values (B, A), actions (B,) -> (B,)."""
    chosen = jnp.take_along_axis(q_values, actions[:, None], axis=1)[:, 0]
    return jax.scipy.special.logsumexp(q_values, axis=1) - chosen


def _network(config, num_actions: int, num_atoms: int):
    return networks.make_network(
        config.network, num_actions, width=config.width, scale_dense=config.scale_dense,
        num_atoms=num_atoms, v_max=config.v_max, dueling=config.dueling)


def _next_action(network, params, target_out, next_obs, double_dqn: bool) -> jax.Array:
    """argmax_a' of the online network (double DQN) or of the target network."""
    if double_dqn:
        online_q = jax.lax.stop_gradient(network.apply(params, next_obs).q_values)
        return jnp.argmax(online_q, axis=1)
    return jnp.argmax(target_out.q_values, axis=1)  # (B,)


def make_cql(config, num_actions: int) -> Agent:
    """CQL with a DQN head (Table 3: n = 1, no dueling, no double DQN)."""
    network = _network(config, num_actions, num_atoms=0)

    def per_sample_loss(params, target_params, batch: Batch, key) -> jax.Array:
        del key  # deterministic given the batch
        q_values = network.apply(params, batch.obs).q_values  # (B, actions)
        target_out = network.apply(target_params, batch.next_obs)
        next_action = _next_action(network, params, target_out, batch.next_obs, config.double_dqn)
        next_q = jnp.take_along_axis(target_out.q_values, next_action[:, None], axis=1)[:, 0]
        # y = R^(n) + gamma^n * (1 - done) * Qbar(s', a*)
        target = jax.lax.stop_gradient(batch.returns + batch.discounts * next_q)
        chosen = jnp.take_along_axis(q_values, batch.actions[:, None], axis=1)[:, 0]  # (B,)
        if config.loss == "huber":
            td = optax.huber_loss(chosen, target, delta=1.0)
        else:
            td = 0.5 * (chosen - target) ** 2
        return td + config.cql_alpha * cql_regularizer(q_values, batch.actions)

    return make_agent(config, network, make_optimizer(config), per_sample_loss, num_actions)


def make_cql_c51(config, num_actions: int) -> Agent:
    """CQL+C51: Dopamine's offline Rainbow (C51 + n-step + dueling + double DQN) + CQL."""
    network = _network(config, num_actions, num_atoms=config.num_atoms)
    support = jnp.linspace(-config.v_max, config.v_max, config.num_atoms)

    def per_sample_loss(params, target_params, batch: Batch, key) -> jax.Array:
        del key  # deterministic given the batch
        out = network.apply(params, batch.obs)
        chosen_logits = jnp.take_along_axis(
            out.logits, batch.actions[:, None, None], axis=1)[:, 0]  # (B, atoms)
        target_out = network.apply(target_params, batch.next_obs)
        next_action = _next_action(network, params, target_out, batch.next_obs, config.double_dqn)
        next_probs = jnp.take_along_axis(
            target_out.probabilities, next_action[:, None, None], axis=1)[:, 0]  # (B, atoms)
        target_support = batch.returns[:, None] + batch.discounts[:, None] * support[None]
        target = jax.lax.stop_gradient(project_distribution(target_support, next_probs, support))
        cross_entropy = optax.softmax_cross_entropy(chosen_logits, target)  # (B,)
        return cross_entropy + config.cql_alpha * cql_regularizer(out.q_values, batch.actions)

    return make_agent(config, network, make_optimizer(config), per_sample_loss, num_actions,
                      dueling=config.dueling)
