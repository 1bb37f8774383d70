"""The online run's configuration (MinAtar and Atari): one frozen dataclass, validated before
any compute. Agents: "dqn", "rainbow" (Dopamine's compact Rainbow: C51 + n-step + PER), "iqn";
Atari only: "der" (Data-Efficient Rainbow) and "drq_eps" (DrQ(eps)), Dopamine's Atari-100k
agents. The fields shared with offline runs are in `prunebook.config.base.FrozenConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from prunebook.config.base import ConfigError, FrozenConfig
from prunebook.spec import (
    AGENTS,
    ALLOCATIONS,
    ASTERIX_SPAWNS,
    ATARI_60_GAMES,
    BASELINE_FIELDS,
    FREEWAY_TIME_LIMIT,
    LOSSES,
    MASK_METHODS,
    MINATAR_AGENTS,
    MINATAR_GAMES,
    NETWORKS,
    PRESETS,
    SUITES,
)


@dataclasses.dataclass(frozen=True)
class RunConfig(FrozenConfig):
    """Everything that defines one training run (a results file stores all of it)."""

    num_env_steps: int = 4_000  # agent steps in the whole run
    iteration_env_steps: int = 1_000  # one logged iteration (Dopamine: 250k agent steps)
    replay_capacity: int = 5_000
    min_replay_history: int = 500  # agent steps of pure exploration before updates start
    update_period: int = 4  # agent steps per gradient update (replay ratio 0.25)
    epsilon_train: float = 0.01
    epsilon_decay_steps: int = 1_000  # agent steps of linear decay after warm-up
    priority_beta: float = 0.5  # Rainbow only; fixed, as compact Rainbow
    # IQN only (Dopamine implicit_quantile.gin; paper Table 2)
    kappa: float = 1.0  # quantile Huber threshold
    num_tau_samples: int = 64  # N: online quantile fractions per state in the loss
    num_tau_prime_samples: int = 64  # N': target quantile fractions
    num_quantile_samples: int = 32  # K: fractions averaged into Q for acting
    quantile_embedding_dim: int = 64  # cosine features per fraction
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
    # MinAtar Asterix only (spec.ASTERIX_SPAWNS): "gymnax" spawns as gymnax 1.0.1 (skips a slot,
    # blanks an occupied one when none is free; `ci`, `cpu`); "minatar" as original MinAtar (a
    # uniformly chosen free slot, nothing when all are taken; `std`). A record made before this
    # field existed ran "gymnax" (`asterix_spawn_of`).
    asterix_spawn: str = "gymnax"
    # How the masks are chosen (chapter 6, spec.MASK_METHODS): "gmp" prunes gradually by
    # magnitude (the paper); "static_random" draws masks with the same ERK per-layer densities at
    # initialisation and keeps them from step 0; "lottery" keeps the final masks of the finished
    # "gmp" run with the same agent, game, width, sparsity and seed (its donor, in the same
    # sweep) from step 0, its weights rewound to the donor's initialisation.
    mask_method: str = "gmp"
    # The other fixes for wide networks (chapter 7, the paper's Fig 12), one per run; 0 = off.
    weight_decay: float = 0.0  # decoupled weight decay (AdamW: -lr * wd * theta per update)
    l2_penalty: float = 0.0  # lambda of (lambda / 2) ||theta||^2 added to the mean TD loss
    reset_every_updates: int = 0  # Reset: re-initialise the Q output layer every n updates
    redo_every_updates: int = 0  # ReDo: recycle dormant neurons every n updates
    redo_tau: float = 0.1  # ReDo's dormancy threshold (the paper's App. G.5 best)

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
        choose("asterix_spawn", ASTERIX_SPAWNS)
        if self.suite == "atari":
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
        elif self.max_episode_steps or self.full_action_set or self.asterix_spawn != "gymnax":
            raise ConfigError("max_episode_steps, full_action_set and asterix_spawn are MinAtar "
                              "settings; Atari episodes are capped at 27,000 agent steps by the "
                              "environment and use the minimal action set (leave them 0, False, "
                              "'gymnax')")
        self._check_ints(("width", "num_env_steps", "iteration_env_steps", "replay_capacity",
                          "update_period", "target_update_period", "batch_size", "n_step",
                          "mask_update_every", "epsilon_decay_steps", "num_atoms",
                          "num_tau_samples", "num_tau_prime_samples", "num_quantile_samples",
                          "quantile_embedding_dim"), minimum=1)
        self._check_ints(("seed", "min_replay_history", "eval_episodes", "max_episode_steps",
                          "reset_every_updates", "redo_every_updates"), minimum=0)
        self._check_variant()
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

    def _check_variant(self) -> None:
        """A control (mask_method) or at most one baseline, where the code supports it."""
        self._choose("mask_method", MASK_METHODS)
        on = [name for name, field in BASELINE_FIELDS.items() if getattr(self, field)]
        if self.weight_decay < 0 or self.l2_penalty < 0 or not 0.0 <= self.redo_tau < 1.0:
            raise ConfigError("weight_decay and l2_penalty must be >= 0 and redo_tau in [0, 1); "
                              f"got {self.weight_decay}, {self.l2_penalty}, {self.redo_tau}")
        if len(on) > 1:
            raise ConfigError(f"one baseline per run: {on} are all switched on; keep one of "
                              f"the fields {[BASELINE_FIELDS[n] for n in on]} and set the "
                              "others to 0")
        if self.mask_method == "gmp" and not on:
            return
        if self.suite != "minatar" or self.agent != "dqn":
            raise ConfigError(f"mask_method={self.mask_method!r} and the baselines {on} run "
                              "for DQN on MinAtar (agent='dqn', suite='minatar'), the setting "
                              "of chapters 6 and 7")
        if self.mask_method != "gmp":
            if on:
                raise ConfigError(f"mask_method={self.mask_method!r} with baseline(s) {on}: "
                                  "a control is compared with GMP alone; choose one")
            if self.final_sparsity <= 0:
                raise ConfigError(f"mask_method={self.mask_method!r} needs final_sparsity "
                                  "> 0 (a dense network has no mask)")
        if set(on) & {"reset", "redo"} and self.final_sparsity > 0:
            raise ConfigError(f"{on[0]} re-initialises weights, which would regrow pruned ones: "
                              "it runs on dense networks (final_sparsity=0)")

    progress_unit = "agent step"  # what an online run's iterations count

    @property
    def iteration_units(self) -> int:
        """Progress units (agent steps) per iteration."""
        return self.iteration_env_steps

    @property
    def num_iterations(self) -> int:
        return self.num_env_steps // self.iteration_env_steps

    @property
    def total_updates(self) -> int:
        """Gradient updates in the run: one per `update_period` agent steps after warm-up."""
        return max(1, (self.num_env_steps - self.min_replay_history) // self.update_period)


def asterix_spawn_of(config: Mapping[str, Any]) -> str | None:
    """How a stored config's run spawned Asterix entities: its `asterix_spawn`, or "gymnax" for
    a record made before the field existed (the only spawn then); None for any other game or
    suite, where the field changes nothing (so a record without it is the same run)."""
    if config.get("suite", "minatar") != "minatar" or config.get("game") != "Asterix":
        return None
    return config.get("asterix_spawn", "gymnax")


def same_run(stored: Any, config: Any) -> bool:
    """`stored` (rebuilt from a record or checkpoint) and `config` describe the same run: equal,
    except that `asterix_spawn` may differ where it changes nothing (another game than MinAtar
    Asterix), so runs recorded before the field existed still count."""
    if (isinstance(stored, RunConfig) and isinstance(config, RunConfig)
            and asterix_spawn_of(dataclasses.asdict(config)) is None):
        stored = dataclasses.replace(stored, asterix_spawn=config.asterix_spawn)
    return stored == config
