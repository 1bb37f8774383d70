"""One resumable run (`run_one`) and the one dispatch from a config to its training loop.

`run_one` is a short consumer: `start_run` restores a run from its checkpoint, `advance`
checkpoints the iterations `loops.trainer.train` yields and writes the results at the end;
`run_one` reports progress and stops at its deadline. Tests interrupt a run by consuming fewer
iterations of `advance`.

* A run checkpoints its whole state (params, optimizer and mask state, replay buffer,
  environment state, PRNG key, counters) plus its iteration log after an iteration, atomically
  (`prunebook.sweeps.checkpoints`).
* A finished run writes one results file (`prunebook.sweeps.store`) and drops its checkpoint;
  rerunning skips finished runs and resumes unfinished ones from their last checkpoint.
* A NaN/inf loss stops that run with `NonFiniteLossError`; its last good checkpoint is kept.
* A run resumed under another code version than the one that checkpointed it says so: its
  record's `code_versions` lists each version with the iteration it took over at
  (`UNKNOWN_VERSION` for a checkpoint made before checkpoints kept their version).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prunebook.config import OfflineConfig, RunConfig, config_from_dict, same_run
from prunebook.loops.atari import make_atari_trainer
from prunebook.loops.minatar import make_trainer
from prunebook.loops.offline import make_offline_trainer
from prunebook.loops.trainer import NonFiniteLossError, Trainer, train
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

UNKNOWN_VERSION = "unknown (a checkpoint from before checkpoints kept their code version)"


@dataclasses.dataclass(frozen=True)
class Run:
    """One run, ready to train on: its trainer, the state it continues from (its checkpoint's,
    or the first) and its iteration log so far."""

    config: RunConfig | OfflineConfig
    sweep: str
    results_root: Path
    checkpoint_root: Path
    trainer: Trainer
    state: Any
    log: tuple[dict[str, Any], ...]
    wall_s: float
    record_extra: dict[str, Any]  # more fields of the results record (a lottery's donor)
    code_versions: tuple[tuple[int, str], ...] = ()  # (first iteration, version) that trained

    @property
    def checkpoint(self) -> Path:
        return checkpoint_path(self.checkpoint_root, self.sweep, self.config.run_id)


def start_run(config: RunConfig | OfflineConfig, sweep: str, results_root: Path | str,
              checkpoint_root: Path | str, trainer: Trainer | None = None) -> Run:
    """The run where its checkpoint left off (from its first state when it has none)."""
    masks, extra = lottery.donor_of(config, sweep, results_root)
    trainer = trainer or make_trainer_for(config, donor_masks=masks)
    state, log, wall, versions = trainer.init(config.seed), (), 0.0, ()
    ckpt = checkpoint_path(Path(checkpoint_root), sweep, config.run_id)
    loaded = load_checkpoint(ckpt)
    if loaded is not None:
        arrays, meta = loaded
        if not same_run(config_from_dict(meta["config"]), config):  # fields added later too
            raise RuntimeError(f"checkpoint {ckpt} was made with another config; delete it")
        state = trainer.from_arrays(state, arrays)
        log, wall = tuple(meta["iterations"]), meta["wall_s"]
        versions = tuple((int(i), str(v)) for i, v in meta.get("code_versions", ())) or (
            ((0, UNKNOWN_VERSION),) if log else ())
    return Run(config, sweep, Path(results_root), Path(checkpoint_root), trainer, state, log,
               wall, extra, versions)


def with_version(versions: tuple[tuple[int, str], ...], start: int,
                 version: str) -> tuple[tuple[int, str], ...]:
    """`versions` with `version` training from iteration `start` on (unchanged when it is
    already the one training)."""
    if versions and versions[-1][1] == version:
        return versions
    return (*versions, (start, version))


def advance(run: Run, checkpoint_interval_s: float = 30.0) -> Iterator[tuple[Any, dict]]:
    """`loops.trainer.train` of `run`, checkpointed: yields (state, iteration entry) after
    each iteration, having saved the state with the log once `checkpoint_interval_s` have
    passed since the last save (0: every iteration). A consumer that stops early (closes the
    generator) gets unsaved iterations saved; the last iteration writes the results record
    (after the lottery's hook) and drops the checkpoint. A NaN/inf loss raises
    `NonFiniteLossError` with the last good checkpoint kept."""
    config, log, wall = run.config, list(run.log), run.wall_s
    versions = with_version(run.code_versions, len(log), store.code_version())
    extra = dict(run.record_extra)
    if len(versions) > 1:  # resumed under another version: the record says which ran what
        extra["code_versions"] = [{"from_iteration": i, "code_version": v} for i, v in versions]
    last_save = time.perf_counter()

    def save(state) -> None:
        save_checkpoint(run.checkpoint, run.trainer.to_arrays(state),
                        {"config": config.to_dict(), "iterations": log, "wall_s": wall,
                         "code_versions": [list(v) for v in versions]})

    try:
        for state, entry in train(run.trainer, run.state, start=len(log)):
            log.append(entry)
            wall += entry["wall_s"]
            unsaved = len(log) < config.num_iterations
            if not unsaved:
                lottery.after_run(config, run.sweep, run.results_root, state)
                record = store.run_record(config.to_dict(), config.run_id, run.sweep, log,
                                          wall, version=versions[-1][1], **extra)
                write_finished(record, run.results_root, run.checkpoint_root)
            elif time.perf_counter() - last_save >= checkpoint_interval_s:
                save(state)
                unsaved, last_save = False, time.perf_counter()
            try:
                yield state, entry
            except GeneratorExit:  # the consumer stops here: keep what it trained
                if unsaved:
                    save(state)
                raise
    except NonFiniteLossError as error:
        error.add_note(f"the last good checkpoint ({run.checkpoint}) is kept")
        raise


def run_one(config: RunConfig | OfflineConfig, sweep: str, results_root: Path | str = "results",
            checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT,
            progress: Callable[[dict[str, Any]], None] | None = None,
            trainer: Trainer | None = None, checkpoint_interval_s: float = 30.0,
            deadline: float | None = None,
            clock: Callable[[], float] = time.time) -> Path | None:
    """Train (or resume) one run to completion and write its results file.

    Returns the results path, or None when it stopped at `deadline` (a `clock()` time, epoch
    seconds by default) with its state checkpointed: the run stops after the last iteration
    that, at the pace of the one before, ends by then, so a session's workers save and exit in
    time to commit. Skips runs whose results file already exists.
    """
    out = store.run_path(Path(results_root), sweep, config.run_id)
    if restore_finished(config, sweep, results_root, checkpoint_root):
        return out
    run = start_run(config, sweep, results_root, checkpoint_root, trainer)
    if deadline is not None and clock() > deadline:
        return None
    with contextlib.closing(advance(run, checkpoint_interval_s)) as steps:
        for _, entry in steps:
            if progress:
                progress({"run_id": config.run_id, "iteration": entry["iteration"] + 1,
                          "units": config.iteration_units, "seconds": entry["wall_s"]})
            last = entry["iteration"] + 1 == config.num_iterations
            if deadline is not None and not last and clock() + entry["wall_s"] > deadline:
                return None  # the next iteration would end late; closing saves this one
    return out


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
