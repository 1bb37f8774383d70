"""What every value-based agent shares: the agent record, its optimizer, the update step.

An agent is a network, an optimizer (always `gmp(adam)`, dense = sparsity 0) and a
per-sample loss; `make_update` turns those into one pure gradient step that also applies the
pruning masks, so DQN and Rainbow differ only in their loss. DER and DrQ(eps)
(`prunebook.agents.atari100k`) are the same record with a loss that takes a PRNG key (image
augmentation, noisy layers) and, for DER, a noisy network that acts from a key too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from prunebook import networks, pruning
from prunebook.config import RunConfig
from prunebook.replay.jittable import Batch


class Agent(NamedTuple):
    network: nn.Module
    optimizer: optax.GradientTransformation
    # (params, target_params, batch) -> per-sample loss (B,); keyed: (..., batch, key)
    per_sample_loss: Callable[..., jax.Array]
    prioritized: bool
    keyed: bool = False  # the loss takes a PRNG key (augmentation, noisy layers)
    noisy: bool = False  # the network has noisy layers: acting in training draws noise


def make_network(config: RunConfig, num_actions: int, distributional: bool,
                 dueling: bool = False, noisy: bool = False) -> nn.Module:
    return networks.make_network(
        config.network, num_actions, width=config.width, scale_dense=config.scale_dense,
        num_atoms=config.num_atoms if distributional else 0, v_max=config.v_max,
        dueling=dueling, noisy=noisy)


STATIC_MASK_TAG = 0x57A7  # folds static random masks' key out of the seed, apart from training


def static_mask_key(seed: int) -> jax.Array:
    """The key a static-random run draws its masks with (a function of the seed alone)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), STATIC_MASK_TAG)


def make_optimizer(config: RunConfig, donor_masks=None) -> optax.GradientTransformation:
    """Adam (AdamW with `weight_decay`) wrapped in the run's masks: GMP with the paper's
    schedule (20%->80% of the run's gradient updates; dense = sparsity 0), or masks fixed from
    step 0 (`static_random`; `lottery` with its donor's final masks, `donor_masks`: the
    `pruning.flat_masks` of the donor's last state)."""
    online = isinstance(config, RunConfig)  # offline (CQL) runs have neither setting
    weight_decay = config.weight_decay if online else 0.0
    mask_method = config.mask_method if online else "gmp"
    if weight_decay:  # decoupled: theta -= lr * (adam step + wd * theta)
        adam = optax.adamw(config.learning_rate, eps=config.adam_eps, weight_decay=weight_decay)
    else:
        adam = optax.adam(config.learning_rate, eps=config.adam_eps)
    if (donor_masks is not None) != (mask_method == "lottery"):
        raise ValueError("donor_masks are given exactly for mask_method='lottery' (the final "
                         "masks of its donor run, prunebook.sweeps.lottery)")
    if mask_method == "static_random":
        key = static_mask_key(config.seed)
        return pruning.fixed_masks(
            adam, lambda p: pruning.random_masks(p, config.final_sparsity, config.allocation,
                                                 key),
            config.final_sparsity, config.allocation)
    if mask_method == "lottery":
        return pruning.fixed_masks(adam, lambda p: pruning.masks_from_flat(p, donor_masks),
                                   config.final_sparsity, config.allocation)
    schedule = pruning.GMPSchedule.from_run_length(
        config.final_sparsity, config.total_updates, config.prune_start_frac,
        config.prune_end_frac, config.mask_update_every)
    return pruning.gmp(adam, schedule, config.allocation)


def linearly_decaying_epsilon(decay_period: int, step, warmup_steps: int, epsilon: float):
    """Dopamine's schedule: 1 during warm-up, then linear to `epsilon` over `decay_period`."""
    steps_left = decay_period + warmup_steps - step
    bonus = (1.0 - epsilon) * steps_left / decay_period
    return epsilon + jnp.clip(bonus, 0.0, 1.0 - epsilon)


def make_act(network: nn.Module, num_actions: int, noisy: bool = False):
    """Epsilon-greedy acting; `noisy=True` also draws the noisy layers' noise from the key
    (training), `noisy=False` on a noisy network acts on the mean weights (evaluation)."""

    def act(params, obs, key, epsilon):
        """Epsilon-greedy action for one observation."""
        if noisy:
            key, noise_key = jax.random.split(key)
            q_values = network.apply(params, obs[None], noise_key).q_values[0]  # (actions,)
        else:
            q_values = network.apply(params, obs[None]).q_values[0]  # (actions,)
        explore_key, action_key = jax.random.split(key)
        random_action = jax.random.randint(action_key, (), 0, num_actions)
        explore = jax.random.uniform(explore_key) < epsilon
        return jnp.where(explore, random_action, jnp.argmax(q_values)).astype(jnp.int32)

    return act


def l2_term(params, l2_penalty: float) -> jax.Array:
    """(lambda / 2) ||theta||^2 over every parameter (the L2 baseline's loss term)."""
    return 0.5 * l2_penalty * sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(params))


def make_update(agent: Agent, priority_beta: float, l2_penalty: float = 0.0):
    """One gradient step: loss, Adam (+ mask schedule), then zero the pruned weights.

    `key` (a PRNG key) is passed on to the loss of keyed agents and must be left out otherwise.
    `l2_penalty` > 0 adds `l2_term` to the objective; the returned loss is the TD loss alone,
    so logged losses stay comparable across methods.
    """

    def update(params, target_params, opt_state, batch: Batch, key=None):
        if agent.keyed != (key is not None):
            raise TypeError("pass a PRNG key to the update exactly when the agent is keyed")
        loss_args = (key,) if agent.keyed else ()

        def loss_fn(p):
            per_sample = agent.per_sample_loss(p, target_params, batch, *loss_args)  # (B,)
            if agent.prioritized:
                # Importance weights (1/p)^beta normalised by their max (compact Rainbow, beta 0.5).
                weights = (batch.probabilities + 1e-10) ** -priority_beta
                weights = weights / weights.max()
                td = (weights * per_sample).mean()
            else:
                td = per_sample.mean()
            if l2_penalty:
                return td + l2_term(p, l2_penalty), (td, per_sample)
            return td, (td, per_sample)

        (_, (loss, per_sample)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = agent.optimizer.update(grads, opt_state, params)
        params = pruning.apply_masks(optax.apply_updates(params, updates), opt_state)
        return params, opt_state, loss, per_sample

    return update
