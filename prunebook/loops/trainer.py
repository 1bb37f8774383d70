"""What every training loop (MinAtar, Atari, offline) hands the runner: the `Trainer` protocol,
its per-iteration `IterationStats`, the §5 measures for any agent, and the one builder of an
iteration's results entry (used by the local, vmap and Ray executors and the dataset logger)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from prunebook import measures
from prunebook.agents import iqn
from prunebook.agents.common import Agent
from prunebook.config import RunConfig

TIMING_KEYS = ("wall_s", "measures_s")  # an iteration's entries that vary from run to run


def iteration_record(trainer, state, index: int, stats, eval_return: float | None,
                     elapsed_s: float) -> dict[str, Any]:
    """One iteration's entry of a results record (the local, vmap and Ray executors share it).

    `measures` (the §5 measures, :mod:`prunebook.measures`) is timed apart from `wall_s`, so a
    run's training cost stays comparable with records made before measures were logged.
    """
    entry = {
        "iteration": index, "env_steps": int(state.agent_steps),
        "gradient_updates": int(state.updates), "train_return": stats.train_return,
        "num_episodes": stats.num_episodes, "eval_return": eval_return, "loss": stats.loss,
        "sparsity": trainer.sparsity(state), "wall_s": round(elapsed_s, 3)}
    if trainer.measures is not None:
        start = time.perf_counter()
        entry["measures"] = measures.to_record(
            trainer.measures(state, measures.measures_key(trainer.config.seed)))
        entry["measures_s"] = round(time.perf_counter() - start, 3)
    return entry


class IterationStats(NamedTuple):
    train_return: float  # mean return of training episodes finished in the iteration (NaN: none)
    num_episodes: int
    loss: float
    nonfinite_loss: bool


class Trainer(NamedTuple):
    """What the runner needs from a training loop (the Atari loop implements the same)."""

    config: RunConfig
    agent: Agent
    env: Any
    init: Any  # (seed: int) -> state
    run_iteration: Any  # state -> state, one logged iteration
    evaluate: Any  # (params, key) -> mean return over config.eval_episodes (epsilon_eval)
    stats: Any  # state -> IterationStats of the iteration just run
    sparsity: Any  # state -> measured fraction of zero kernel weights
    to_arrays: Any  # state -> list[np.ndarray] (checkpoint payload)
    from_arrays: Any  # (template state, list[np.ndarray]) -> state
    # states stacked on a leading axis -> same; one program for many seeds/sparsities (GPUs)
    run_iteration_batched: Any = None
    # (state, key) -> the §5 measures (prunebook.measures) on a replay batch drawn with `key`
    measures: Any = None


def make_measure_for(agent):
    """The §5 measures (`prunebook.measures.make_measure`) for any agent's network: IQN's Q is
    the mean over its K sampled quantile fractions; a dueling head has two output layers."""
    if isinstance(agent, iqn.IQNAgent):
        def apply(params, obs, key, **kwargs):
            return agent.network.apply(params, obs, key, agent.hparams.num_quantile_samples,
                                       **kwargs)
    else:
        def apply(params, obs, key, **kwargs):
            del key  # deterministic networks (DER's noisy layers: noise off, their means)
            return agent.network.apply(params, obs, **kwargs)
    dueling = getattr(agent.network, "dueling", False)  # IQN's network has no dueling head
    return measures.make_measure(apply, num_output_layers=2 if dueling else 1)
