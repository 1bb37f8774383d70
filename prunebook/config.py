"""Run configuration: one frozen dataclass, validated before any compute, and its presets.

Units are in the names: `*_env_steps` / `*_agent_steps` count agent-environment interactions
(one per action; for Atari an agent step is 4 frames), `*_updates` count gradient updates.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

MINATAR_AGENTS = ("dqn", "rainbow", "iqn")  # run on both suites
ATARI_100K_AGENTS = ("der", "drq_eps")  # Atari only: the paper's Fig 7 (prunebook.agents.atari100k)
AGENTS = MINATAR_AGENTS + ATARI_100K_AGENTS
OFFLINE_AGENTS = ("cql", "cql_c51")  # configured by prunebook.offline.OfflineConfig
SUITES = ("minatar", "atari")
MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
PRESETS = ("ci", "cpu", "std", "paper")
ALLOCATIONS = ("erk", "uniform")
LOSSES = ("mse", "huber")
NETWORKS = ("minatar", "nature", "impala")
FREEWAY_TIME_LIMIT = 2_500  # MinAtar Freeway: the game ends after 2,500 frames (a rule)
DOPAMINE_MAX_EPISODE_STEPS = 27_000  # Dopamine's Runner.max_steps_per_episode


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the allowed values."""


class FrozenConfig:
    """What every run config (online `RunConfig`, offline `prunebook.offline.OfflineConfig`)
    shares: the run id the results store and checkpoints are keyed by, JSON round-trips, and
    the field checks whose messages name the field and the allowed values."""

    @property
    def run_id(self) -> str:
        return (f"{self.agent}-{self.game}-w{self.width}-s{self.final_sparsity:g}-"
                f"seed{self.seed}")

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown config fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    # --- checks for __post_init__ ------------------------------------------------------------
    def _choose(self, name: str, allowed) -> None:
        if getattr(self, name) not in allowed:
            raise ConfigError(
                f"{name}={getattr(self, name)!r} is not allowed; choose one of {list(allowed)}")

    def _check_ints(self, names, minimum: int) -> None:
        kind = "a positive" if minimum == 1 else "a non-negative"
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"{name} must be {kind} integer, got {value!r}")

    def _check_bools(self, names) -> None:
        for name in names:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _check_unit_interval(self, names) -> None:
        for name in names:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")

    def _check_pruning(self) -> None:
        if not 0.0 <= self.final_sparsity < 1.0:
            raise ConfigError(f"final_sparsity must be in [0, 1), got {self.final_sparsity!r}")
        if not 0.0 <= self.prune_start_frac < self.prune_end_frac <= 1.0:
            raise ConfigError("need 0 <= prune_start_frac < prune_end_frac <= 1, got "
                              f"{self.prune_start_frac}, {self.prune_end_frac}")


@dataclasses.dataclass(frozen=True)
class RunConfig(FrozenConfig):
    """Everything that defines one training run (a results file stores all of it)."""

    # "dqn", "rainbow" (Dopamine's compact Rainbow: C51 + n-step + PER), "iqn"; Atari only:
    # "der" (Data-Efficient Rainbow) and "drq_eps" (DrQ(eps)), Dopamine's Atari-100k agents
    agent: str = "dqn"
    suite: str = "minatar"  # "minatar" (jitted, laptop scale) or "atari" (the paper's setting)
    game: str = "Breakout"
    network: str = "minatar"  # "minatar" | "nature" | "impala"
    width: int = 1  # multiplies conv channels (the paper's width scale)
    scale_dense: bool = False  # also multiply the hidden dense layer
    final_sparsity: float = 0.0  # 0 = dense baseline through the same gmp code path
    allocation: str = "erk"  # per-layer sparsity allocation
    prune_start_frac: float = 0.2  # of gradient updates (paper: 20%)
    prune_end_frac: float = 0.8  # of gradient updates (paper: 80%)
    mask_update_every: int = 1000  # gradient updates between mask recomputations
    seed: int = 0
    preset: str = "ci"

    num_env_steps: int = 4_000  # agent steps in the whole run
    iteration_env_steps: int = 1_000  # one logged iteration (Dopamine: 250k agent steps)
    replay_capacity: int = 5_000
    min_replay_history: int = 500  # agent steps of pure exploration before updates start
    update_period: int = 4  # agent steps per gradient update (replay ratio 0.25)
    target_update_period: int = 200  # agent steps between target-network syncs
    batch_size: int = 32
    gamma: float = 0.99
    n_step: int = 1  # update horizon
    learning_rate: float = 2.5e-4
    adam_eps: float = 3.125e-4
    loss: str = "mse"  # TD loss of DQN (Dopamine's JAX DQN: MSE) and DrQ(eps) (Huber)
    epsilon_train: float = 0.01
    epsilon_eval: float = 0.001
    epsilon_decay_steps: int = 1_000  # agent steps of linear decay after warm-up
    num_atoms: int = 51  # Rainbow only
    v_max: float = 10.0  # Rainbow only
    priority_beta: float = 0.5  # Rainbow only; fixed, as compact Rainbow
    # IQN only (Dopamine implicit_quantile.gin; paper Table 2)
    kappa: float = 1.0  # quantile Huber threshold
    num_tau_samples: int = 64  # N: online quantile fractions per state in the loss
    num_tau_prime_samples: int = 64  # N': target quantile fractions
    num_quantile_samples: int = 32  # K: fractions averaged into Q for acting
    quantile_embedding_dim: int = 64  # cosine features per fraction
    eval_episodes: int = 0  # >0: separate greedy (epsilon_eval) evaluation after each iteration
    # Sticky actions: the environment repeats the previous action with the suite's standard
    # probability (Atari: 0.25, Dopamine / Machado et al. 2018; MinAtar: 0.1, Young & Tian
    # 2019, through gymnax's StickyActionWrapper). False: the chosen action always runs.
    sticky_actions: bool = False
    # Atari only: the learner sees a terminal on every lost life (DER, DrQ(eps))
    terminal_on_life_loss: bool = False
    # MinAtar only: episode cap in agent steps; 0 = gymnax's default (1,000; Freeway's 2,500 is
    # the game's own time limit and cannot be changed). The `std` preset uses Dopamine's 27,000.
    max_episode_steps: int = 0
    # MinAtar only: all 6 actions in every game (original MinAtar) instead of gymnax's default
    # minimal set per game (Breakout 3, Freeway 3, Asterix 5, SpaceInvaders 4, Seaquest 6)
    full_action_set: bool = False

    def __post_init__(self):
        choose = self._choose
        choose("agent", AGENTS)
        choose("suite", SUITES)
        if self.suite == "minatar" and self.agent not in MINATAR_AGENTS:
            raise ConfigError(
                f"agent={self.agent!r} runs only on Atari (suite='atari', e.g. preset 'paper'); "
                f"for suite='minatar' choose one of {list(MINATAR_AGENTS)}")
        choose("preset", PRESETS)
        choose("allocation", ALLOCATIONS)
        choose("loss", LOSSES)
        choose("network", NETWORKS)
        if self.suite == "atari":
            from prunebook.paper import ATARI_60_GAMES  # lazy: paper imports this module

            choose("game", ATARI_60_GAMES)
            if self.network not in ("nature", "impala"):
                raise ConfigError(f"network={self.network!r}: Atari uses 'nature' or 'impala'")
        if self.suite == "minatar":
            choose("game", MINATAR_GAMES)
            if self.network != "minatar":
                raise ConfigError(f"network={self.network!r}: the minatar suite uses 'minatar'")
            if self.terminal_on_life_loss:
                raise ConfigError("terminal_on_life_loss is an Atari setting; leave it False "
                                  "for suite='minatar' (MinAtar games have no lives)")
            if self.game == "Freeway" and self.max_episode_steps not in (0, FREEWAY_TIME_LIMIT):
                raise ConfigError(f"max_episode_steps={self.max_episode_steps}: Freeway ends "
                                  f"after {FREEWAY_TIME_LIMIT} steps by its rules; choose 0 or "
                                  f"{FREEWAY_TIME_LIMIT}")
        elif self.max_episode_steps or self.full_action_set:
            raise ConfigError("max_episode_steps and full_action_set are MinAtar settings; "
                              "Atari episodes are capped at 27,000 agent steps by the "
                              "environment and use the minimal action set (leave them 0, False)")
        self._check_ints(("width", "num_env_steps", "iteration_env_steps", "replay_capacity",
                          "update_period", "target_update_period", "batch_size", "n_step",
                          "mask_update_every", "epsilon_decay_steps", "num_atoms",
                          "num_tau_samples", "num_tau_prime_samples", "num_quantile_samples",
                          "quantile_embedding_dim"), minimum=1)
        self._check_ints(("seed", "min_replay_history", "eval_episodes", "max_episode_steps"),
                         minimum=0)
        self._check_bools(("sticky_actions", "terminal_on_life_loss", "full_action_set"))
        self._check_pruning()
        self._check_unit_interval(("gamma", "epsilon_train", "epsilon_eval", "priority_beta"))
        if self.learning_rate <= 0 or self.adam_eps <= 0 or self.v_max <= 0 or self.kappa <= 0:
            raise ConfigError("learning_rate, adam_eps, v_max and kappa must be positive")
        if self.num_env_steps % self.iteration_env_steps:
            raise ConfigError(f"num_env_steps={self.num_env_steps} must be a multiple of "
                              f"iteration_env_steps={self.iteration_env_steps}")
        if self.iteration_env_steps % self.update_period:
            raise ConfigError(f"iteration_env_steps={self.iteration_env_steps} must be a "
                              f"multiple of update_period={self.update_period}")
        if self.target_update_period % self.update_period:
            raise ConfigError(f"target_update_period={self.target_update_period} must be a "
                              f"multiple of update_period={self.update_period}")
        if self.min_replay_history >= self.num_env_steps:
            raise ConfigError(f"min_replay_history={self.min_replay_history} leaves no updates "
                              f"in num_env_steps={self.num_env_steps}")
        if self.replay_capacity < max(self.batch_size, self.n_step + 1):
            raise ConfigError(f"replay_capacity={self.replay_capacity} is too small")

    @property
    def num_iterations(self) -> int:
        return self.num_env_steps // self.iteration_env_steps

    @property
    def total_updates(self) -> int:
        """Gradient updates in the run: one per `update_period` agent steps after warm-up."""
        return max(1, (self.num_env_steps - self.min_replay_history) // self.update_period)


def config_from_dict(data: dict[str, Any]):
    """Rebuild a run's config from its dict (online RunConfig or offline OfflineConfig)."""
    if data.get("agent") in OFFLINE_AGENTS:
        from prunebook.offline import OfflineConfig

        return OfflineConfig.from_dict(data)
    return RunConfig.from_dict(data)


# --- presets ---------------------------------------------------------------------------------

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
    MinAtar's: Asterix, Seaquest and SpaceInvaders ramp, Breakout and Freeway have none).
    Hyper-parameters as `cpu` (Dopamine's MinAtar values); GMP from 20% to 80% of the
    1,248,750 gradient updates, masks every 1,000 updates. Deviations: chapter 5's table.
    """
    game = overrides.get("game", RunConfig.game)
    cap = FREEWAY_TIME_LIMIT if game == "Freeway" else DOPAMINE_MAX_EPISODE_STEPS
    base = dict(_minatar_common(agent), agent=agent, preset="std",
                num_env_steps=STD_NUM_ENV_STEPS, iteration_env_steps=100_000,
                sticky_actions=True, full_action_set=True, max_episode_steps=cap)
    base.update(overrides)
    return RunConfig(**base)


def preset_config(preset: str, agent: str = "dqn", **overrides: Any) -> RunConfig:
    if preset == "ci":
        return ci_config(agent, **overrides)
    if preset == "cpu":
        return cpu_config(agent, **overrides)
    if preset == "std":
        return std_config(agent, **overrides)
    if preset == "paper":
        from prunebook.paper import paper_config  # Atari, added by the paper-scale issue

        return paper_config(agent, **overrides)
    raise ConfigError(f"preset={preset!r} is not allowed; choose one of {list(PRESETS)}")
