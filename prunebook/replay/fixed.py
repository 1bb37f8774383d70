"""The offline agents' fixed replay: a uniform sample of a logged dataset, fixed by a seed, with
each transition's n-step target precomputed from its true successors in the full log.

Why precompute: the paper's sample is uniform over transitions, so a sampled transition's
successors are usually not in the sample, and n-step returns (CQL+C51 uses n = 3) could not be
formed from the sample alone. Dopamine sidesteps this by keeping a contiguous 50k block of every
1M-transition checkpoint (`JaxFixedReplayBuffer`, replay_capacity 50000); we keep the paper's
uniform sample and make the n-step window (s_t, a_t, r_t..r_{t+n-1}, s_{t+n}) the unit that is
sampled. Windows never cross a checkpoint boundary (in Dopamine each checkpoint is its own
buffer), so the last transitions of a checkpoint without an episode end inside their window
are not in the population (at most n per checkpoint).
"""

from __future__ import annotations

import zlib

import numpy as np

from prunebook.config import OfflineConfig
from prunebook.datasets import LoggedData
from prunebook.replay import jittable
from prunebook.replay.jittable import ReplayState


def valid_starts(data: LoggedData, n_step: int = 1) -> np.ndarray:
    """Transitions whose n-step window is complete inside their checkpoint: an episode ends
    within n steps, or the observation n steps later exists."""
    if np.any(np.diff(data.segment) < 0):
        raise ValueError("checkpoints must be loaded in increasing order")
    n = len(data.action)
    t = np.arange(n)
    seg_last = np.searchsorted(data.segment, data.segment, side="right") - 1  # inclusive
    ok = t + n_step <= seg_last
    for k in range(n_step):
        inside = t + k <= seg_last
        ok |= inside & data.terminal[np.minimum(t + k, n - 1)]
    return t[ok]


def sample_fraction(data: LoggedData, fraction: float, rng: np.random.Generator,
                    n_step: int = 1) -> np.ndarray:
    """A uniform sample without replacement of `round(fraction * population)` transitions
    (sorted indices), the population being `valid_starts(data, n_step)`."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    population = valid_starts(data, n_step)
    size = max(1, int(round(fraction * len(population))))
    return np.sort(rng.choice(population, size=size, replace=False))


def n_step_transitions(data: LoggedData, indices: np.ndarray, n_step: int, gamma: float):
    """Per-index n-step return, "episode ended in the window" flag and bootstrap observation.

    R = sum_{k<n} gamma^k r_{t+k}, stopping after the first terminal; s' = s_{t+n}.
    """
    n = len(data.action)
    returns = np.zeros(len(indices), np.float64)
    alive = np.ones(len(indices), bool)
    for k in range(n_step):
        idx = np.minimum(indices + k, n - 1)
        returns += np.where(alive, gamma ** k * data.reward[idx], 0.0)
        alive &= ~data.terminal[idx]
    next_obs = data.observation[np.minimum(indices + n_step, n - 1)]
    return returns.astype(np.float32), ~alive, next_obs


def build_fixed_replay(data: LoggedData, indices: np.ndarray, n_step: int, gamma: float):
    """A full `ReplayState` holding one precomputed n-step transition per sampled index.

    Sample it with `sample_fixed`: a 1-step read with discount gamma^n reproduces the n-step
    target exactly, because every stored window is either complete (bootstrap after n steps)
    or ends at a terminal (no bootstrap) -- `valid_starts` admits nothing else.
    """
    import jax.numpy as jnp

    returns, ended, next_obs = n_step_transitions(data, indices, n_step, gamma)
    size = len(indices)
    return ReplayState(
        obs=jnp.asarray(data.observation[indices]), next_obs=jnp.asarray(next_obs),
        actions=jnp.asarray(data.action[indices], jnp.int32), rewards=jnp.asarray(returns),
        terminated=jnp.asarray(ended), episode_end=jnp.ones((size,), bool),
        priorities=jnp.zeros((size,), jnp.float32), max_priority=jnp.ones((), jnp.float32),
        cursor=jnp.zeros((), jnp.int32), size=jnp.asarray(size, jnp.int32))


def sample_fixed(buffer, key, batch_size: int, n_step: int, gamma: float):
    """A uniform minibatch of precomputed n-step transitions as a `prunebook.replay.jittable.Batch`
    (discounts = gamma^n, or 0 where the episode ended inside the window)."""

    return jittable.sample_uniform(buffer, key, batch_size, 1, gamma ** n_step)


def sample_seed(config: OfflineConfig) -> list[int]:
    """Seed of the run's 5% sample: each seed draws its own; dense and pruned runs with the same
    seed (and agent) train on the same sample."""
    name = f"{config.game}/{config.dataset}".encode()
    return [config.seed, config.dataset_seed, zlib.crc32(name)]
