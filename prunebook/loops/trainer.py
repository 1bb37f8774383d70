"""What every training loop (MinAtar, Atari, offline) hands the runner, and a run as a generator.

`Trainer` is the typed record a loop builds (in one place per loop); `train(trainer, state)`
runs its iterations, yielding `(state, iteration entry)` after each, which the runner
(`prunebook.sweeps.runner`) consumes to checkpoint, report progress and write the results.
Also here: `IterationStats`, the §5 measures for any agent, the checkpoint payload of a pytree
state, `iteration_entry`, the step after every iteration (`train`'s, and the vmap executor's for
each run of its batch), and `iteration_record`, the one builder of an iteration's results entry
(the local, vmap and Ray executors and the dataset logger)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from prunebook import measures
from prunebook.agents.common import Agent
from prunebook.config import OfflineConfig, RunConfig

TIMING_KEYS = ("wall_s", "measures_s")  # an iteration's entries that vary from run to run

State = TypeVar("State")  # a loop's training state: a pytree (MinAtar, offline) or AtariState


class IterationStats(NamedTuple):
    train_return: float  # mean return of training episodes finished in the iteration (NaN: none)
    num_episodes: int
    loss: float
    nonfinite_loss: bool


class EnvSpec(Protocol):
    """What a trainer tells of its environment (`MinAtarEnv`, or `loops.atari.AtariSpec`)."""

    @property
    def num_actions(self) -> int: ...

    @property
    def observation_shape(self) -> tuple[int, ...]: ...


@dataclasses.dataclass(frozen=True)
class Trainer(Generic[State]):
    """What the runner needs from a training loop; each loop builds its own in one place."""

    config: RunConfig | OfflineConfig
    agent: Agent
    env: EnvSpec
    init: Callable[[int], State]  # seed -> the run's first state
    run_iteration: Callable[[State], State]  # one logged iteration
    # (params, key) -> mean return over config.eval_episodes (epsilon_eval)
    evaluate: Callable[[Any, jax.Array], float]
    stats: Callable[[State], IterationStats]  # of the iteration just run
    sparsity: Callable[[State], float]  # measured fraction of zero kernel weights
    to_arrays: Callable[[State], list[np.ndarray]]  # the checkpoint payload
    from_arrays: Callable[[State, list[np.ndarray]], State]  # (template, payload) -> state
    # (state, key) -> the §5 measures (prunebook.measures) on a replay batch drawn with `key`
    measures: Callable[[State, jax.Array], dict[str, Any]] | None = None
    # states stacked on a leading axis -> same; one program for many seeds/sparsities (GPUs)
    run_iteration_batched: Callable[[State], State] | None = None


def tree_to_arrays(tree) -> list[np.ndarray]:
    """A pytree's leaves as host arrays, in tree order (the checkpoint payload of a state)."""
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def tree_from_arrays(template, arrays: list[np.ndarray]):
    """`tree_to_arrays`' inverse: `arrays` into `template`'s structure, each leaf checked
    against the template's shape and dtype (a checkpoint of another config fails here)."""
    leaves, treedef = jax.tree.flatten(template)
    if len(leaves) != len(arrays):
        raise ValueError(f"checkpoint has {len(arrays)} arrays, expected {len(leaves)}")
    for i, (a, b) in enumerate(zip(leaves, arrays, strict=True)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"checkpoint array {i}: {b.shape} {b.dtype}, expected "
                             f"{a.shape} {a.dtype}")
    return jax.tree.unflatten(treedef, [jnp.asarray(x) for x in arrays])


def iteration_record(trainer: Trainer, state, index: int, stats: IterationStats,
                     eval_return: float | None, elapsed_s: float) -> dict[str, Any]:
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


class NonFiniteLossError(RuntimeError):
    """An iteration's loss went NaN/inf: `train` stops before yielding its state."""


def eval_key(seed: int, iteration: int) -> jax.Array:
    """The key an iteration's evaluation episodes are drawn with."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), iteration)


def iteration_entry(trainer: Trainer, state, index: int, seconds: float) -> dict[str, Any]:
    """Iteration `index`'s results entry, once `run_iteration` has run it (in `seconds`) to
    `state`: the one step after every iteration, in `train` and in the vmap executor
    (`prunebook.sweeps.vmap`, whose members share one batched `run_iteration`). Raises
    `NonFiniteLossError` when the loss went NaN/inf; runs the evaluation episodes the config
    asks for; the entry's `wall_s` is `seconds` plus the time spent here."""
    config = trainer.config
    begin = time.perf_counter()
    stats = trainer.stats(state)
    if stats.nonfinite_loss:
        raise NonFiniteLossError(f"{config.run_id}: non-finite loss in iteration {index}; "
                                 "lower the learning rate or check the inputs")
    eval_return = None
    if config.eval_episodes:
        eval_return = float(trainer.evaluate(state.params, eval_key(config.seed, index)))
    elapsed = seconds + time.perf_counter() - begin
    return iteration_record(trainer, state, index, stats, eval_return, elapsed)


def train(trainer: Trainer[State], state: State,
          start: int = 0) -> Iterator[tuple[State, dict[str, Any]]]:
    """A run's iterations `start`, `start + 1`, ... from `state`: after each, yields the new
    state and the iteration's results entry (`iteration_entry`: with its evaluation return when
    the config asks for evaluation episodes). Stop consuming to stop the run. An iteration
    whose loss went NaN/inf raises `NonFiniteLossError` instead: the last state yielded is the
    last good one."""
    for index in range(start, trainer.config.num_iterations):
        begin = time.perf_counter()
        state = trainer.run_iteration(state)
        yield state, iteration_entry(trainer, state, index, time.perf_counter() - begin)


def make_measure_for(agent: Agent):
    """The §5 measures (`prunebook.measures.make_measure`) of any agent's Q-values."""
    return measures.make_measure(agent.q_values, num_output_layers=agent.num_output_layers)
