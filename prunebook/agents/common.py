"""What every value-based agent shares: the one agent shape, its optimizer, the update step.

An agent is a network, an optimizer (always `gmp(adam)`, dense = sparsity 0) and pure
functions (init, act, update, Q-values), each taking an explicit PRNG key. `make_update` turns
a per-sample loss into one gradient step that also applies the pruning masks, so DQN and
Rainbow differ only in their loss; `make_agent` builds the rest for a deterministic network.
IQN (`prunebook.agents.iqn`: sampled quantile fractions) and DER and DrQ(eps)
(`prunebook.agents.atari100k`: augmentation, noisy layers) use the keys their factory is given;
the others ignore them there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from prunebook import networks, pruning
from prunebook.config import OfflineConfig, RunConfig
from prunebook.replay.jittable import Batch

Loss = Callable[..., jax.Array]  # (params, target_params, batch, key) -> per-sample loss (B,)


class Agent(NamedTuple):
    """Every agent has this one shape (DQN Zoo's): a network, its optimiser and pure functions,
    each taking an explicit PRNG key. An agent that needs no randomness ignores its keys inside
    its own factory; a loop never asks which agent it runs."""

    network: nn.Module
    optimizer: optax.GradientTransformation  # gmp(adam) or fixed masks: masks in its state
    init: Callable[..., Any]  # (key, obs) -> params; obs: one observation
    act: Callable[..., jax.Array]  # (params, obs, key, epsilon) -> action: training policy
    act_eval: Callable[..., jax.Array]  # the same for evaluation (noisy nets: mean weights)
    # (params, target_params, opt_state, batch, key) -> (params, opt_state, loss, per-sample)
    update: Callable[..., tuple]
    # (params, obs (B, ...), key, **flax kwargs) -> the network's output: `q_values` (B, A)
    q_values: Callable[..., Any]
    # key -> (key, update key): how a host-stepped loop draws an update's key from its key
    # stream; an agent whose update needs no randomness draws none (the stream is unchanged)
    split_key: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
    per_sample_loss: Loss
    prioritized: bool  # prioritized replay (importance weights in the update)
    num_output_layers: int = 1  # a dueling head has two (the §5 measures leave them out)


def no_draw(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`Agent.split_key` of an agent whose update ignores its key."""
    return key, key


def epsilon_greedy(q_values: jax.Array, explore_key: jax.Array, action_key: jax.Array,
                   epsilon, num_actions: int) -> jax.Array:
    """A uniformly random action with probability epsilon, else argmax Q; q_values (actions,)."""
    random_action = jax.random.randint(action_key, (), 0, num_actions)
    explore = jax.random.uniform(explore_key) < epsilon
    return jnp.where(explore, random_action, jnp.argmax(q_values)).astype(jnp.int32)


def make_agent(config, network: nn.Module, optimizer: optax.GradientTransformation,
               per_sample_loss: Loss, num_actions: int, prioritized: bool = False,
               split_key=no_draw, dueling: bool = False) -> Agent:
    """The agent of a deterministic network (DQN, Rainbow, CQL, DrQ(eps)): Q-values need no key,
    acting is epsilon-greedy; `split_key=jax.random.split` when the loss draws randomness."""

    def q_values(params, obs, key, **kwargs):
        del key  # a deterministic network
        return network.apply(params, obs, **kwargs)

    def act(params, obs, key, epsilon):
        q = network.apply(params, obs[None]).q_values[0]  # (actions,)
        explore_key, action_key = jax.random.split(key)
        return epsilon_greedy(q, explore_key, action_key, epsilon, num_actions)

    return Agent(network, optimizer, lambda key, obs: network.init(key, obs[None]), act, act,
                 make_update(config, optimizer, per_sample_loss, prioritized), q_values,
                 split_key, per_sample_loss, prioritized, 2 if dueling else 1)


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


def make_optimizer(config: RunConfig | OfflineConfig,
                   donor_masks=None) -> optax.GradientTransformation:
    """Adam (AdamW with `weight_decay`) wrapped in the run's masks: GMP with the paper's
    schedule (20%->80% of the run's gradient updates; dense = sparsity 0), or masks fixed from
    step 0 (`static_random`; `lottery` with its donor's final masks, `donor_masks`: the
    `pruning.flat_masks` of the donor's last state)."""
    weight_decay, mask_method = config.weight_decay, config.mask_method
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


def l2_term(params, l2_penalty: float) -> jax.Array:
    """(lambda / 2) ||theta||^2 over every parameter (the L2 baseline's loss term)."""
    return 0.5 * l2_penalty * sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(params))


def make_update(config, optimizer: optax.GradientTransformation, per_sample_loss: Loss,
                prioritized: bool, mask_params: bool = True):
    """One gradient step: loss, the optimiser (+ mask schedule), then zero the pruned weights.

    `mask_params=False` skips the masking, for an optimizer with no pruning state (a plain
    optax optimizer: the benchmarks' no-pruning baseline); the book's agents always mask.

    `key` goes to the loss (which may ignore it). Prioritized agents weight the loss by
    `config.priority_beta`'s importance weights; `config.l2_penalty` > 0 adds `l2_term` to the
    objective; the returned loss is the TD loss alone, so logged losses stay comparable across
    methods.
    """
    priority_beta, l2_penalty = config.priority_beta, config.l2_penalty

    def update(params, target_params, opt_state, batch: Batch, key):
        def loss_fn(p):
            per_sample = per_sample_loss(p, target_params, batch, key)  # (B,)
            if prioritized:
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
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if mask_params:
            params = pruning.apply_masks(params, opt_state)
        return params, opt_state, loss, per_sample

    return update
