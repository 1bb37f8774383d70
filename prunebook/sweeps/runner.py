"""One resumable run (`run_one`) and the one dispatch from a config to its training loop.

* A run checkpoints its whole state (params, optimizer and mask state, replay buffer,
  environment state, PRNG key, counters) plus its iteration log after an iteration, atomically
  (`prunebook.sweeps.checkpoints`).
* A finished run writes one results file (`prunebook.sweeps.store`) and drops its checkpoint;
  rerunning skips finished runs and resumes unfinished ones from their last checkpoint.
* A NaN/inf loss stops that run with `NonFiniteLossError`; its last good checkpoint is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from prunebook import pruning
from prunebook.config import OfflineConfig, RunConfig, config_from_dict, same_run
from prunebook.loops.atari import make_atari_trainer
from prunebook.loops.minatar import make_trainer
from prunebook.loops.offline import make_offline_trainer
from prunebook.loops.trainer import Trainer, iteration_record
from prunebook.spec import OFFLINE_AGENTS
from prunebook.sweeps import lottery, store
from prunebook.sweeps.checkpoints import (
    DEFAULT_CHECKPOINT_ROOT,
    checkpoint_path,
    load_checkpoint,
    restore_finished,
    save_checkpoint,
    write_finished,
)
from prunebook.sweeps.logger import fixed_replay_for


class NonFiniteLossError(RuntimeError):
    pass


def run_one(config: RunConfig, sweep: str, results_root: Path | str = "results",
            checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT,
            progress: Callable[[dict[str, Any]], None] | None = None,
            trainer=None, max_iterations: int | None = None,
            checkpoint_interval_s: float = 30.0, deadline: float | None = None,
            clock: Callable[[], float] = time.time) -> Path | None:
    """Train (or resume) one run to completion and write its results file.

    Returns the results path, or None when it stopped early with its state checkpointed:
    after `max_iterations` iterations (tests use that to simulate an interruption), or at
    `deadline` (a `clock()` time, epoch seconds by default): the run stops after the last
    iteration that, at the pace of the one before, ends by then, so a session's workers save
    and exit in time to commit. Skips runs whose results file already exists. The state is
    checkpointed after an iteration once `checkpoint_interval_s` have passed since the last
    save (0: after every iteration).
    """

    out = store.run_path(Path(results_root), sweep, config.run_id)
    if restore_finished(config, sweep, results_root, checkpoint_root):
        return out
    ckpt = checkpoint_path(Path(checkpoint_root), sweep, config.run_id)
    masks, extra = None, {}
    if isinstance(config, RunConfig) and config.mask_method == "lottery":
        masks, donor = lottery.donor_masks(config, sweep, results_root)
        extra["mask_donor"] = donor
    trainer = trainer or make_trainer_for(config, donor_masks=masks)
    state = trainer.init(config.seed)
    iterations: list[dict[str, Any]] = []
    wall = 0.0
    loaded = load_checkpoint(ckpt)
    if loaded is not None:
        arrays, meta = loaded
        if not same_run(config_from_dict(meta["config"]), config):  # fields added later too
            raise RuntimeError(f"checkpoint {ckpt} was made with another config; delete it")
        state = trainer.from_arrays(state, arrays)
        iterations, wall = meta["iterations"], meta["wall_s"]
    done_here = 0
    last_save = time.perf_counter()
    while len(iterations) < config.num_iterations:
        if max_iterations == 0 or (deadline is not None and clock() > deadline):
            return None
        start = time.perf_counter()
        new_state = trainer.run_iteration(state)
        stats = trainer.stats(new_state)
        if stats.nonfinite_loss:
            raise NonFiniteLossError(
                f"{config.run_id}: non-finite loss in iteration {len(iterations)}; the last good "
                f"checkpoint ({ckpt}) is kept. Lower the learning rate or check the inputs.")
        state = new_state
        eval_return = None
        if config.eval_episodes:
            eval_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), len(iterations))
            eval_return = float(trainer.evaluate(state.params, eval_key))
        elapsed = time.perf_counter() - start
        wall += elapsed
        iterations.append(iteration_record(trainer, state, len(iterations), stats,
                                           eval_return, elapsed))
        done_here += 1
        due = time.perf_counter() - last_save >= checkpoint_interval_s
        unfinished = len(iterations) < config.num_iterations
        stopping = unfinished and (
            (max_iterations is not None and done_here >= max_iterations)
            or (deadline is not None and clock() + elapsed > deadline))  # next one ends late
        if unfinished and (due or stopping):
            last_save = time.perf_counter()
            save_checkpoint(ckpt, trainer.to_arrays(state),
                            {"config": config.to_dict(), "iterations": iterations, "wall_s": wall})
        if progress:
            progress({"run_id": config.run_id, "iteration": len(iterations),
                      "units": config.iteration_units, "seconds": elapsed})
        if stopping:
            return None
    if isinstance(config, RunConfig) and lottery.is_donor(config, sweep):
        final = pruning.flat_masks(jax.device_get(state.opt_state.masks))
        lottery.save_masks(lottery.masks_path(results_root, sweep, config.run_id), final)
    record = store.run_record(config.to_dict(), config.run_id, sweep, iterations, wall,
                              **extra)
    return write_finished(record, results_root, checkpoint_root)


def make_trainer_for(config: RunConfig | OfflineConfig, dataset_root=None,
                     donor_masks=None) -> Trainer:
    """The one dispatch from a config to its training loop: the jitted MinAtar loop, the
    host-stepped Atari loop, or the offline loop on the config's fixed replay (its dataset
    logged first if absent, under `dataset_root`). `donor_masks`: a lottery run's
    (`prunebook.sweeps.lottery.donor_masks`)."""
    if config.agent in OFFLINE_AGENTS:
        return make_offline_trainer(config, fixed_replay_for(config, dataset_root))
    if config.suite == "atari":
        return make_atari_trainer(config)
    return make_trainer(config, donor_masks=donor_masks)
