"""MinAtar (Young & Tian 2019) through gymnax: jittable 10x10 Atari-like games.

Wrapped behind the small interface the Atari environment also implements: `num_actions`,
`observation_shape`, `reset(key)` and `step(key, state, action)`, here pure and jittable so the
whole training loop can live inside `lax.scan`. Observations are {0, 1} planes stored as uint8.

Three settings of original MinAtar (Young & Tian 2019, `minatar.Environment`) that gymnax
leaves off by default are wired through here: sticky actions (gymnax's `StickyActionWrapper`
at MinAtar's probability 0.1; as in MinAtar, the remembered action carries over an episode
end), the full set of 6 actions (gymnax defaults to each game's minimal set; MinAtar's
`num_actions()` is 6 for every game) and a longer episode cap (gymnax stops episodes at 1,000
steps; MinAtar has none). Difficulty ramping is gymnax's default, which matches MinAtar's.
Asterix spawns as gymnax does or, with `asterix_spawn="minatar"`, as original MinAtar does
(`prunebook.envs.asterix`: gymnax's spawn skips a slot and can blank an occupied one).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from prunebook.envs.asterix import minatar_asterix
from prunebook.spec import ASTERIX_SPAWNS, MINATAR_GAMES

MINATAR_STICKY_ACTION_PROBABILITY = 0.1  # Young & Tian (2019), MinAtar's default


class Step(NamedTuple):
    obs: jax.Array  # observation to act on next (the reset observation after an episode end)
    state: Any
    reward: jax.Array
    terminated: jax.Array  # the episode ended by the game's rules (no bootstrapping)
    truncated: jax.Array  # the episode was cut by the time limit (bootstrap from final_obs)
    final_obs: jax.Array  # the true next observation of this transition


class MinAtarEnv:
    """A gymnax MinAtar game with auto-reset; all methods are pure and jittable."""

    def __init__(self, game: str, sticky_actions: bool = False, max_episode_steps: int = 0,
                 full_action_set: bool = False, asterix_spawn: str = "gymnax"):
        if game not in MINATAR_GAMES:
            raise ValueError(f"game={game!r} is not a MinAtar game; choose one of "
                             f"{list(MINATAR_GAMES)}")
        if max_episode_steps < 0:
            raise ValueError(f"max_episode_steps must be >= 0, got {max_episode_steps}")
        if asterix_spawn not in ASTERIX_SPAWNS:
            raise ValueError(f"asterix_spawn={asterix_spawn!r}; choose one of "
                             f"{list(ASTERIX_SPAWNS)}")
        import gymnax  # imported lazily: gymnax pulls in a lot at import time
        from gymnax.wrappers import StickyActionWrapper

        self.game = game
        self._env, self._params = gymnax.make(f"{game}-MinAtar",
                                              use_minimal_action_set=not full_action_set)
        self.asterix_spawn = asterix_spawn  # changes only Asterix
        if game == "Asterix" and asterix_spawn == "minatar":
            self._env = minatar_asterix(use_minimal_action_set=not full_action_set)
        self.full_action_set = full_action_set
        self.num_actions = int(self._env.num_actions)
        if max_episode_steps:
            self._params = self._params.replace(max_steps_in_episode=max_episode_steps)
        self.sticky_actions = sticky_actions
        if sticky_actions:
            self._env = StickyActionWrapper(self._env, MINATAR_STICKY_ACTION_PROBABILITY)
        obs, _ = self._env.reset(jax.random.key(0), self._params)
        self.observation_shape = tuple(obs.shape)
        self.max_episode_steps = int(self._params.max_steps_in_episode)

    @property
    def sticky_action_probability(self) -> float:
        """What the wrapped environment applies (read from the wrapper, not from a flag)."""
        return float(getattr(self._env, "_sticky_action_prob", 0.0))

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


ENV_FIELDS = ("sticky_actions", "full_action_set", "max_episode_steps", "asterix_spawn")
"""The run-config fields that change the environment (named as `MinAtarEnv`'s arguments)."""


def env_settings(config) -> dict:
    """The environment fields of a MinAtar run config (the one place they are read)."""
    return {name: getattr(config, name) for name in ENV_FIELDS}


def from_config(config) -> MinAtarEnv:
    """The environment a MinAtar run config describes."""
    return MinAtarEnv(config.game, **env_settings(config))
