"""The random-policy anchor of MinAtar normalisation: a uniform-random policy's mean return.

A normalised score puts 0 at this anchor, so the anchor must be measured in the environment
the runs used. The `ci` and `cpu` presets run gymnax's defaults (each game's minimal action set,
no sticky actions, gymnax's episode cap); `std` runs MinAtar's protocol (all 6 actions, sticky
actions 0.1, Dopamine's 27,000-step cap). Each protocol has its own committed table
(:data:`RANDOM_SCORE_FILES`); every game's entry records the environment settings it was
measured under, and loading a table for a preset checks them against that preset's config,
so a table can never anchor runs of another protocol.

Measured with the training loop's own environment (:func:`prunebook.envs.minatar.from_config`):
``episodes`` environments in parallel (vmap, one jit), uniform-random actions, one episode
measured in each (:func:`random_episodes`: with sticky actions the second, so that it starts as
training's episodes do, with the last action remembered).
"""

from __future__ import annotations

import json
import zlib
from importlib.metadata import version
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from prunebook.config import preset_config
from prunebook.envs import minatar
from prunebook.spec import MINATAR_GAMES

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"
RANDOM_SCORE_FILES = {"ci": "minatar_random_scores.json", "cpu": "minatar_random_scores.json",
                      "std": "minatar_random_scores_std.json"}
"""Preset -> the committed table measured in that preset's environment."""


def _config(preset: str, game: str):
    return preset_config(preset, "dqn", game=game)


def table_path(preset: str, results_dir: str | Path = RESULTS_DIR) -> Path:
    if preset not in RANDOM_SCORE_FILES:
        raise ValueError(f"preset={preset!r} has no MinAtar random-policy table; choose one of "
                         f"{sorted(RANDOM_SCORE_FILES)}")
    return Path(results_dir) / RANDOM_SCORE_FILES[preset]


def random_scores(preset: str = "cpu", results_dir: str | Path = RESULTS_DIR) -> dict[str, dict]:
    """Per-game random-policy statistics (``mean``, ``std``, ``episodes``, ...) for runs of
    ``preset``; raises ValueError naming the file if a game was measured in other settings."""
    path = table_path(preset, results_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; create it with `python -m "
                                f"prunebook.analysis.random_policy --preset {preset}`")
    games = json.loads(path.read_text())["games"]
    for game, entry in games.items():
        measured = entry.get("settings")
        expected = minatar.env_settings(_config(preset, game))
        if measured != expected:
            raise ValueError(f"{path.name}: {game} was measured with {measured}, but runs of "
                             f"preset {preset!r} use {expected}; re-measure it")
    return games


def measure(games=MINATAR_GAMES, preset: str = "cpu", episodes: int = 1000,
            seed: int = 0) -> dict[str, dict]:
    """Mean undiscounted return of a uniform-random policy in ``preset``'s environment.

    Each game gets its own key ``fold_in(key(seed), crc32(game))``, independent of list order.
    Every episode completes (the episode cap ends it at the latest); the loop stops when the
    last one has.
    """
    out = {}
    for game in games:
        config = _config(preset, game)
        env = minatar.from_config(config)
        key = jax.random.fold_in(jax.random.key(seed), zlib.crc32(game.encode()))
        ret, length = jax.device_get(random_episodes(env, jax.random.split(key, episodes)))
        ret = np.asarray(ret, dtype=float)
        out[game] = {
            "mean": float(ret.mean()),
            "std": float(ret.std(ddof=1)) if ret.size > 1 else 0.0,
            "sem": float(ret.std(ddof=1) / np.sqrt(ret.size)) if ret.size > 1 else 0.0,
            "episodes": int(ret.size),
            "mean_episode_length": float(np.mean(length)),
            "max_steps_in_episode": env.max_episode_steps,
            "num_actions": env.num_actions,
            "settings": minatar.env_settings(config),  # 0 steps = gymnax's own cap
        }
    return out


def random_episodes(env: minatar.MinAtarEnv, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(return, length) of one uniform-random episode per key, each in its own environment.

    With sticky actions the measured episode is each environment's second: as in training and
    in original MinAtar, it starts with the previous episode's last action remembered (a fresh
    reset would remember a no-op, and 10% of first steps would be a forced no-op). Without
    them nothing carries over and the first episode is measured.
    """
    skip = 1 if env.sticky_action_probability else 0  # episodes run before the measured one

    def episode(key):
        key, reset_key = jax.random.split(key)
        _, state = env.reset(reset_key)

        def body(carry):
            state, key, ret, length, ended = carry
            key, act_key, step_key = jax.random.split(key, 3)
            action = jax.random.randint(act_key, (), 0, env.num_actions)
            step = env.step(step_key, state, action)  # resets itself after an episode end
            measured = ended == skip
            return (step.state, key, ret + jnp.where(measured, step.reward, 0.0),
                    length + measured, ended + (step.terminated | step.truncated))

        init = (state, key, jnp.float32(0.0), jnp.int32(0), jnp.int32(0))
        _, _, ret, length, _ = jax.lax.while_loop(lambda c: c[4] <= skip, body, init)
        return ret, length

    return jax.jit(jax.vmap(episode))(keys)


def write(preset: str, episodes: int = 1000, seed: int = 0,
          results_dir: str | Path = RESULTS_DIR) -> dict:
    """Measure every MinAtar game in ``preset``'s environment and write its table."""
    record = {
        "schema": 1, "episodes": episodes, "seed": seed, "gymnax_version": version("gymnax"),
        "how": ("prunebook.analysis.random_policy.measure: uniform-random actions over the "
                "run's action set in the training loop's own environment "
                "(prunebook.envs.minatar.from_config of the preset's config; `settings` per "
                "game); `episodes` parallel envs (jit+vmap), one episode measured in each "
                "(terminated or truncated at max_steps_in_episode): the first, or with sticky "
                "actions the second, which starts with the last action remembered as in "
                "training and original MinAtar; undiscounted return; std uses ddof=1."),
        "games": measure(MINATAR_GAMES, preset, episodes, seed),
    }
    path = table_path(preset, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return record


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(RANDOM_SCORE_FILES), default="cpu")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(write(args.preset, args.episodes, args.seed), indent=2))
