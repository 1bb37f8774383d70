"""Offline RL (the paper's §4.4, Fig 8): the run config and its presets.

The paper trains CQL and CQL+C51 on "a random 5% sample of all the environment interactions
collected by a DQN agent" -- the DQN Replay Dataset (Agarwal et al. 2020), which cannot be
downloaded here (dossier §5.2). We regenerate its MinAtar analogue deterministically from a seed
(`prunebook.sweeps.logger`: one logged online DQN run per game, written in the DQN Replay
Dataset's file layout by `prunebook.datasets`, and a uniform 5% sample of it in a fixed replay,
`prunebook.replay.fixed`) and train on it with `prunebook.loops.offline` (gradient steps on the
fixed replay, then online evaluation).

Units: offline runs take **no environment steps to learn**. `num_env_steps` is 0 and the
results' `env_steps` column stays 0; learning curves are drawn against `gradient_updates`.
After each iteration the agent is evaluated online for `eval_episodes` episodes with
epsilon_eval, as Dopamine's `FixedReplayRunner` does; those steps are not counted (Dopamine does
not count them either) and their mean return is the run's score for that iteration.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from prunebook.config.base import ConfigError, FrozenConfig
from prunebook.config.minatar import ci_config, cpu_config
from prunebook.config.run import RunConfig
from prunebook.spec import (
    ALLOCATIONS,
    DATASET_RECIPES,
    LOSSES,
    MINATAR_GAMES,
    OFFLINE_AGENTS,
    OFFLINE_PRESETS,
)


@dataclasses.dataclass(frozen=True)
class OfflineConfig(FrozenConfig):
    """One offline run: CQL or CQL+C51 on a fixed sample of a logged DQN run (a results file
    stores all of it). The fields shared with `RunConfig` (`FrozenConfig`'s) mean the same
    thing; here `seed` also picks which 5% sample is drawn, and the GMP window (20% to 80%) is
    of this run's gradient updates (paper §4.4: the schedule rescaled)."""

    agent: str = "cql"  # "cql" (DQN head) or "cql_c51" (C51 head: Dopamine's offline Rainbow)
    dataset: str = "ci"  # logged DQN run: the online DQN config of this preset (DATASET_RECIPES)
    dataset_seed: int = 0  # seed of that logged DQN run
    dataset_fraction: float = 0.05  # the paper's "random 5% sample"
    num_iterations: int = 3  # paper: 200
    updates_per_iteration: int = 300  # gradient steps per iteration (Dopamine: 62,500)
    eval_episodes: int = 4  # online epsilon_eval episodes after each iteration (>= 1)
    target_update_period: int = 1000  # gradient updates between target syncs
    loss: str = "huber"  # TD loss of the DQN head (Dopamine's offline agents: Huber)
    cql_alpha: float = 0.1  # weight of the CQL regulariser (Dopamine's bc_coefficient)
    dueling: bool = False  # CQL+C51: True (Table 3)
    double_dqn: bool = False  # CQL+C51: True (Table 3)

    def __post_init__(self):
        choose = self._choose
        choose("agent", OFFLINE_AGENTS)
        choose("suite", ("minatar",))
        choose("network", ("minatar",))
        choose("game", MINATAR_GAMES)
        choose("preset", OFFLINE_PRESETS)
        choose("allocation", ALLOCATIONS)
        choose("loss", LOSSES)
        choose("dataset", DATASET_RECIPES)
        self._check_bools(("scale_dense", "dueling", "double_dqn"))
        self._check_ints(("width", "num_iterations", "updates_per_iteration", "eval_episodes",
                          "batch_size", "n_step", "target_update_period", "mask_update_every",
                          "num_atoms"), minimum=1)
        self._check_ints(("seed", "dataset_seed"), minimum=0)
        self._check_pruning()
        if not 0.0 < self.dataset_fraction <= 1.0:
            raise ConfigError(f"dataset_fraction must be in (0, 1], got {self.dataset_fraction!r}")
        self._check_unit_interval(("gamma", "epsilon_eval"))
        for name in ("learning_rate", "adam_eps", "v_max"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not self.cql_alpha >= 0:
            raise ConfigError(f"cql_alpha must be >= 0, got {self.cql_alpha!r}")
        if self.agent == "cql_c51" and self.num_atoms < 2:
            raise ConfigError(f"num_atoms={self.num_atoms}: the C51 head needs at least 2 atoms")

    # --- what the runner reads ------------------------------------------------------------
    progress_unit = "gradient update"  # what an offline run's iterations count

    @property
    def iteration_units(self) -> int:
        """Progress units (gradient updates) per iteration."""
        return self.updates_per_iteration

    @property
    def num_env_steps(self) -> int:
        """Environment steps used for learning: none (evaluation steps are not counted)."""
        return 0

    @property
    def total_updates(self) -> int:
        """Gradient updates in the run; the GMP schedule prunes from 20% to 80% of them."""
        return self.num_iterations * self.updates_per_iteration

    # The online-only settings an agent factory reads, at the paper's offline run (GMP with
    # Adam, uniform replay, no baseline): read-only, not fields, so records are unchanged.
    mask_method = "gmp"
    weight_decay = 0.0
    l2_penalty = 0.0
    priority_beta = 0.0

    @property
    def replay_capacity(self) -> int:
        """About how many transitions the fixed buffer holds (Table 3's "fixed replay
        capacity"); it is rebuilt from the dataset on resume, never checkpointed."""
        logged = logging_config(self.game, self.dataset, self.dataset_seed).num_env_steps
        return max(1, round(self.dataset_fraction * logged))


# --- presets ---------------------------------------------------------------------------------

def _agent_defaults(agent: str) -> dict[str, Any]:
    """Per-agent settings of the paper's Table 3 / Dopamine's offline gin files, at MinAtar scale.

    CQL: n = 1, no dueling, no double DQN, Huber TD loss; target sync every 1,000 updates
    (the paper does not give it: Dopamine's offline DQN/CQL gins use 2,000, MinAtar's DQN
    (Young & Tian 2019) 1,000 -- we take MinAtar's, UNCONFIRMED). CQL+C51 = Dopamine's
    `OfflineJaxRainbowAgent` (`jax_rainbow.gin`): n = 3, 51 atoms, v_max 10, dueling, double
    DQN, target sync every 100 updates. Both: CQL weight 0.1, batch 32, gamma 0.99.
    Learning rate: Table 3 gives 5e-5 (CQL) / 6.25e-5 (CQL+C51) for 12.5M updates; our runs are
    ~100x shorter, so both use the MinAtar rate of the online chapters and of the DQN that
    logged the data (2.5e-4, Adam eps 3.125e-4).
    """
    if agent == "cql":
        return dict(agent=agent, n_step=1, dueling=False, double_dqn=False,
                    target_update_period=1000)
    if agent == "cql_c51":
        return dict(agent=agent, n_step=3, dueling=True, double_dqn=True,
                    target_update_period=100)
    raise ConfigError(f"agent={agent!r} is not allowed; choose one of {list(OFFLINE_AGENTS)}")


def offline_ci_config(agent: str = "cql", **overrides: Any) -> OfflineConfig:
    """Seconds per run: 3 iterations x 300 updates on 5% (1,000 transitions) of the ci log."""
    base = dict(_agent_defaults(agent), preset="ci", dataset="ci", num_iterations=3,
                updates_per_iteration=300, eval_episodes=4, mask_update_every=50)
    base["target_update_period"] = min(base["target_update_period"], 100)
    base.update(overrides)
    return OfflineConfig(**base)


CPU_NUM_ITERATIONS = 25
CPU_UPDATES_PER_ITERATION = 2_500


def offline_cpu_config(agent: str = "cql", **overrides: Any) -> OfflineConfig:
    """The book's offline setting (Fig 8 analogue on MinAtar).

    Data: 5% of the full log of one `cpu`-preset online DQN run per game (the dense width-1
    DQN of chapters 1-3: 500k agent steps in 40 checkpoints, so ~25k sampled transitions) --
    the DQN Replay Dataset is 5% of a whole standard DQN run, so we log our whole standard run.
    Length: 25 iterations x 2,500 updates = 62,500 updates (the paper: 200 x 62,500 = 12.5M,
    i.e. our whole run is one of the paper's iterations), pruning from update 12k to 50k with
    masks every 1,000 updates; 10 evaluation episodes after each iteration.
    Why this length: it is the most that keeps the 144-run `offline_cpu` sweep, with its four
    logging runs, within about 5 CPU core-hours (measured cost in `offline_sweep`: ~4.2).
    """
    base = dict(_agent_defaults(agent), preset="cpu", dataset="cpu",
                num_iterations=CPU_NUM_ITERATIONS, updates_per_iteration=CPU_UPDATES_PER_ITERATION,
                eval_episodes=10, mask_update_every=1000)
    base.update(overrides)
    return OfflineConfig(**base)


def offline_preset_config(preset: str, agent: str = "cql", **overrides: Any) -> OfflineConfig:
    if preset == "ci":
        return offline_ci_config(agent, **overrides)
    if preset == "cpu":
        return offline_cpu_config(agent, **overrides)
    raise ConfigError(f"preset={preset!r} is not allowed for offline runs; choose one of "
                      f"{list(OFFLINE_PRESETS)}")


def logging_config(game: str, recipe: str, seed: int = 0) -> RunConfig:
    """The online DQN run (width 1, dense) whose transitions make the dataset.

    "cpu": the `cpu` preset's DQN run unchanged (one checkpoint per iteration: 40).
    "ci": the `ci` preset lengthened to 20k agent steps (10 checkpoints of 2k), the least at
    which DQN clearly beats the random policy on Breakout (return ~3-4 vs 0.44), so that
    scores can be normalised by the behaviour policy even in the tiny runs.
    """
    if recipe == "cpu":
        return cpu_config("dqn", game=game, seed=seed)
    if recipe == "ci":
        return ci_config("dqn", game=game, seed=seed, num_env_steps=20_000,
                         iteration_env_steps=2_000, epsilon_decay_steps=5_000)
    raise ConfigError(f"dataset={recipe!r} is not allowed; choose one of {list(DATASET_RECIPES)}")
