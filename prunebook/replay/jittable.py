"""A jittable circular replay buffer with n-step returns and proportional prioritized sampling.

It lives inside the `lax.scan` carry of the MinAtar training loop, so adding and sampling
never leave the device. Semantics follow Dopamine's `OutOfGraphReplayBuffer`: n-step returns
stop at episode ends, transitions whose n-step window is not yet complete are never sampled,
and the prioritized variant samples proportionally to stored priorities (compact Rainbow
stores sqrt(loss) and uses beta = 0.5 importance weights; it has no alpha exponent).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class ReplayState:
    obs: jax.Array  # (capacity, *obs_shape) uint8
    next_obs: jax.Array  # (capacity, *obs_shape) uint8: the true next observation
    actions: jax.Array  # (capacity,) int32
    rewards: jax.Array  # (capacity,) float32
    terminated: jax.Array  # (capacity,) bool: no bootstrap after this transition
    episode_end: jax.Array  # (capacity,) bool: terminated or truncated, n-step windows stop
    priorities: jax.Array  # (capacity,) float32
    max_priority: jax.Array  # () float32, priority given to new transitions
    cursor: jax.Array  # () int32, next slot to write
    size: jax.Array  # () int32, number of stored transitions


class Batch(flax.struct.PyTreeNode):
    obs: jax.Array  # (B, *obs_shape)
    actions: jax.Array  # (B,)
    returns: jax.Array  # (B,) discounted n-step reward sum
    discounts: jax.Array  # (B,) gamma^k * (1 - terminated); 0 means no bootstrap
    next_obs: jax.Array  # (B, *obs_shape)
    indices: jax.Array  # (B,) slots, to update priorities
    probabilities: jax.Array  # (B,) sampling probabilities (uniform: 1 / num_valid)


def init(capacity: int, obs_shape: tuple[int, ...], obs_dtype=jnp.uint8) -> ReplayState:
    return ReplayState(
        obs=jnp.zeros((capacity, *obs_shape), obs_dtype),
        next_obs=jnp.zeros((capacity, *obs_shape), obs_dtype),
        actions=jnp.zeros((capacity,), jnp.int32),
        rewards=jnp.zeros((capacity,), jnp.float32),
        terminated=jnp.zeros((capacity,), bool),
        episode_end=jnp.zeros((capacity,), bool),
        priorities=jnp.zeros((capacity,), jnp.float32),
        max_priority=jnp.ones((), jnp.float32),
        cursor=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
    )


def add(state: ReplayState, obs, action, reward, next_obs, terminated, episode_end) -> ReplayState:
    i = state.cursor
    capacity = state.actions.shape[0]
    return state.replace(
        obs=state.obs.at[i].set(obs),
        next_obs=state.next_obs.at[i].set(next_obs),
        actions=state.actions.at[i].set(action),
        rewards=state.rewards.at[i].set(reward),
        terminated=state.terminated.at[i].set(jnp.asarray(terminated, bool)),
        episode_end=state.episode_end.at[i].set(
            jnp.asarray(episode_end, bool) | jnp.asarray(terminated, bool)),
        priorities=state.priorities.at[i].set(state.max_priority),
        cursor=(i + 1) % capacity,
        size=jnp.minimum(state.size + 1, capacity),
    )


def num_valid(state: ReplayState, n_step: int) -> jax.Array:
    """Transitions whose n-step window is fully written (the newest n-1 are not)."""
    return jnp.maximum(state.size - (n_step - 1), 0)


def _valid_mask(state: ReplayState, n_step: int) -> jax.Array:
    capacity = state.actions.shape[0]
    oldest = (state.cursor - state.size) % capacity
    age = (jnp.arange(capacity) - oldest) % capacity  # 0 = oldest stored transition
    return age < num_valid(state, n_step)


def n_step_targets(state: ReplayState, indices: jax.Array, n_step: int, gamma: float):
    """Discounted n-step returns, bootstrap discounts and next observations for `indices`."""
    capacity = state.actions.shape[0]
    window = (indices[:, None] + jnp.arange(n_step)[None, :]) % capacity  # (B, n)
    ends = state.episode_end[window]  # (B, n)
    # alive[k]: the window has not crossed an episode end before step k
    alive = jnp.cumprod(jnp.concatenate(
        [jnp.ones_like(ends[:, :1]), ~ends[:, :-1]], axis=1).astype(jnp.float32), axis=1)
    powers = gamma ** jnp.arange(n_step, dtype=jnp.float32)
    returns = (alive * powers[None, :] * state.rewards[window]).sum(1)
    length = alive.sum(1).astype(jnp.int32)  # steps used: up to the first episode end
    last = jnp.take_along_axis(window, (length - 1)[:, None], axis=1)[:, 0]
    discounts = gamma ** length.astype(jnp.float32) * (1.0 - state.terminated[last])
    return returns, discounts, state.next_obs[last]


def _gather(state: ReplayState, indices, probabilities, n_step: int, gamma: float) -> Batch:
    returns, discounts, next_obs = n_step_targets(state, indices, n_step, gamma)
    return Batch(state.obs[indices], state.actions[indices], returns, discounts, next_obs,
                 indices, probabilities)


def sample_uniform(state: ReplayState, key, batch_size: int, n_step: int, gamma: float) -> Batch:
    capacity = state.actions.shape[0]
    valid = num_valid(state, n_step)
    oldest = (state.cursor - state.size) % capacity
    offsets = jax.random.randint(key, (batch_size,), 0, jnp.maximum(valid, 1))
    indices = (oldest + offsets) % capacity
    probabilities = jnp.full((batch_size,), 1.0) / jnp.maximum(valid, 1)
    return _gather(state, indices, probabilities, n_step, gamma)


def sample_prioritized(state: ReplayState, key, batch_size: int, n_step: int,
                       gamma: float) -> Batch:
    """Stratified proportional sampling, as Dopamine's sum-tree `stratified_sample`."""
    priorities = jnp.where(_valid_mask(state, n_step), state.priorities, 0.0)
    cumulative = jnp.cumsum(priorities)
    total = cumulative[-1]
    bounds = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size
    indices = jnp.searchsorted(cumulative, bounds * total, side="right")
    indices = jnp.clip(indices, 0, priorities.shape[0] - 1).astype(jnp.int32)
    probabilities = priorities[indices] / total
    return _gather(state, indices, probabilities, n_step, gamma)


def update_priorities(state: ReplayState, indices, priorities) -> ReplayState:
    return state.replace(
        priorities=state.priorities.at[indices].set(priorities),
        max_priority=jnp.maximum(state.max_priority, priorities.max()),
    )
