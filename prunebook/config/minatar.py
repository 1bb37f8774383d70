"""The MinAtar presets: `ci` (seconds, tests), `cpu` (the book's sweeps), `std` (MinAtar's
standard protocol, chapter 5)."""

from __future__ import annotations

from typing import Any

from prunebook.config.run import RunConfig
from prunebook.spec import DOPAMINE_MAX_EPISODE_STEPS, FREEWAY_TIME_LIMIT


def _minatar_common(agent: str) -> dict[str, Any]:
    """MinAtar hyper-parameters, scaled from Dopamine's defaults.

    Young & Tian (2019), the MinAtar paper: replay 100k, batch 32, 5,000 warm-up steps, target
    sync every 1,000 steps, 100k steps of epsilon decay, lr 2.5e-4. Dopamine: Adam, final
    epsilon 0.01, MSE loss for DQN, update every 4 steps (the paper's replay ratio 0.25);
    compact Rainbow: n = 3, 51 atoms, v_max = 10, prioritized replay with beta 0.5.
    """
    common = dict(suite="minatar", network="minatar", replay_capacity=100_000,
                  min_replay_history=5_000, update_period=4, target_update_period=1_000,
                  batch_size=32, gamma=0.99, learning_rate=2.5e-4, adam_eps=3.125e-4,
                  epsilon_train=0.01, epsilon_decay_steps=100_000, mask_update_every=1000)
    if agent == "rainbow":
        common.update(n_step=3)
    return common


def ci_config(agent: str = "dqn", **overrides: Any) -> RunConfig:
    """Seconds per run: a few thousand steps; proves the pipeline, not the claim."""
    base = dict(agent=agent, preset="ci", num_env_steps=4_000, iteration_env_steps=1_000,
                replay_capacity=5_000, min_replay_history=500, target_update_period=200,
                epsilon_decay_steps=1_000, mask_update_every=100,
                n_step=3 if agent == "rainbow" else 1)
    base.update(overrides)
    return RunConfig(**base)


CPU_NUM_ENV_STEPS = 500_000


def cpu_config(agent: str = "dqn", **overrides: Any) -> RunConfig:
    """The book's laptop-scale setting (MinAtar).

    500k agent steps per run = 40 iterations of 12.5k steps (the paper's 40 iterations of
    250k Atari agent steps, scaled down 20x), 123,750 gradient updates, pruning from update
    25k to 99k. Why 500k: measured on this 2-core machine (one single-threaded worker per
    core), a run costs about 85 s (DQN width 1) to 625 s (Rainbow width 5) of one core, so
    the 168-run online sweep costs about 15 core-hours at 500k steps, which our sessions can
    carry in about 8 wall-clock hours; 1M steps would double that. Details and the measured
    numbers: `book/performance.md`.
    """
    base = dict(_minatar_common(agent), agent=agent, preset="cpu",
                num_env_steps=CPU_NUM_ENV_STEPS, iteration_env_steps=12_500)
    base.update(overrides)
    return RunConfig(**base)


STD_NUM_ENV_STEPS = 5_000_000


def std_config(agent: str = "dqn", **overrides: Any) -> RunConfig:
    """MinAtar's standard protocol, as close to Young & Tian (2019) as gymnax allows.

    5M agent steps (MinAtar's budget) in 50 iterations of 100k; sticky actions 0.1 (gymnax's
    StickyActionWrapper); all 6 actions in every game (MinAtar's `num_actions()`); episodes
    capped at Dopamine's 27,000 steps instead of gymnax's 1,000 (Freeway keeps its own
    2,500-step time limit, a rule of the game); difficulty ramping as gymnax's defaults (=
    MinAtar's: Asterix, Seaquest and SpaceInvaders ramp, Breakout and Freeway have none);
    Asterix spawns as original MinAtar (`asterix_spawn="minatar"`; gymnax's spawn is faulty).
    Hyper-parameters as `cpu` (Dopamine's MinAtar values); GMP from 20% to 80% of the
    1,248,750 gradient updates, masks every 1,000 updates. Deviations: chapter 5's table.
    """
    game = overrides.get("game", RunConfig.game)
    cap = FREEWAY_TIME_LIMIT if game == "Freeway" else DOPAMINE_MAX_EPISODE_STEPS
    base = dict(_minatar_common(agent), agent=agent, preset="std",
                num_env_steps=STD_NUM_ENV_STEPS, iteration_env_steps=100_000,
                sticky_actions=True, full_action_set=True, max_episode_steps=cap,
                asterix_spawn="minatar")
    base.update(overrides)
    return RunConfig(**base)
