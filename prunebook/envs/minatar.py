"""MinAtar (Young & Tian 2019) through gymnax: jittable 10x10 Atari-like games.

Wrapped behind the small interface the Atari environment also implements: `num_actions`,
`observation_shape`, `reset(key)` and `step(key, state, action)`, here pure and jittable so the
whole training loop can live inside `lax.scan`. Observations are {0, 1} planes stored as uint8.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from prunebook.config import MINATAR_GAMES


class Step(NamedTuple):
    obs: jax.Array  # observation to act on next (the reset observation after an episode end)
    state: Any
    reward: jax.Array
    terminated: jax.Array  # the episode ended by the game's rules (no bootstrapping)
    truncated: jax.Array  # the episode was cut by the time limit (bootstrap from final_obs)
    final_obs: jax.Array  # the true next observation of this transition


class MinAtarEnv:
    """A gymnax MinAtar game with auto-reset; all methods are pure and jittable."""

    def __init__(self, game: str):
        if game not in MINATAR_GAMES:
            raise ValueError(f"game={game!r} is not a MinAtar game; choose one of "
                             f"{list(MINATAR_GAMES)}")
        import gymnax  # imported lazily: gymnax pulls in a lot at import time

        self.game = game
        self._env, self._params = gymnax.make(f"{game}-MinAtar")
        self.num_actions = int(self._env.num_actions)
        obs, _ = self._env.reset(jax.random.key(0), self._params)
        self.observation_shape = tuple(obs.shape)
        self.max_episode_steps = int(self._params.max_steps_in_episode)

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        obs, state = self._env.reset(key, self._params)
        return obs.astype(jnp.uint8), state

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, self._params)
        return Step(obs.astype(jnp.uint8), state, reward.astype(jnp.float32),
                    jnp.asarray(terminated, bool), jnp.asarray(truncated, bool) & ~terminated,
                    info["final_observation"].astype(jnp.uint8))


@functools.cache
def observation_shape(game: str) -> tuple[int, ...]:
    """Observation shape without building or compiling anything (cheap, cached)."""
    import gymnax

    env, params = gymnax.make(f"{game}-MinAtar")
    return tuple(env.observation_space(params).shape)


def make_env(suite: str, game: str, seed: int = 0, **options):
    """One entry point for both suites (Atari is host-side and seeded at construction)."""
    if suite == "minatar":
        return MinAtarEnv(game)
    if suite == "atari":
        from prunebook.envs.atari import make_atari

        return make_atari(game, seed, **options)
    raise ValueError(f"suite={suite!r} is not allowed; choose one of ['minatar', 'atari']")
