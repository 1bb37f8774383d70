"""Logging the offline agents' datasets: one online DQN run per game, written in the DQN Replay
Dataset's layout (`prunebook.datasets`), and the fixed replay an offline run trains on.

`log_dqn_dataset` runs the DQN (`prunebook.loops.minatar`, consuming `loops.trainer.train`)
and, after every iteration, writes that iteration's transitions as one checkpoint. Like
Dopamine's 2019 `DQNAgent.end_episode`, which logged that dataset, every episode end is stored
with terminal=True, a time-limit cut included. `ensure_dataset` logs a dataset once (a claim
file keeps two processes from logging the same one); `fixed_replay_for` samples a config's 5% of
it (`prunebook.replay.fixed`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prunebook.config import OfflineConfig, RunConfig, logging_config
from prunebook.datasets import (
    STORE_DTYPES,
    STORE_NAMES,
    dataset_dir,
    load_dqn_replay,
    write_replay_checkpoint,
)
from prunebook.loops import minatar as minatar_loop
from prunebook.loops.trainer import train
from prunebook.replay.fixed import build_fixed_replay, sample_fraction, sample_seed
from prunebook.sweeps import store
from prunebook.sweeps.checkpoints import release, try_claim


def prepare_sweep(sweep, results_root: Path | str = "results",
                  dataset_root: Path | str | None = None) -> list[Path]:
    """Log every dataset the sweep's runs need and record the logging runs in its results."""
    needed = sorted({(c.game, c.dataset, c.dataset_seed) for c in sweep.configs()})
    folders = []
    for game, recipe, seed in needed:
        folders += ensure_datasets([game], recipe, [seed], dataset_root, results_root, sweep.name)
    return folders


def iteration_transitions(buffer, num: int) -> dict[str, np.ndarray]:
    """The newest `num` transitions of a `prunebook.replay.jittable.ReplayState`, oldest first,
    in the dataset's layout; checks that each non-terminal transition's next observation is the next
    row (so the layout without a next-observation array loses nothing)."""
    buffer = _host(buffer)
    capacity = buffer["actions"].shape[0]
    if num > int(buffer["size"]):
        raise ValueError(f"the buffer holds {int(buffer['size'])} transitions, asked for {num}")
    idx = (int(buffer["cursor"]) - num + np.arange(num)) % capacity
    terminal = buffer["episode_end"][idx]
    follows = ~terminal[:-1]
    if not np.array_equal(buffer["next_obs"][idx[:-1]][follows], buffer["obs"][idx[1:]][follows]):
        raise AssertionError("a non-terminal transition's next observation is not the next row")
    return {"observation": buffer["obs"][idx], "action": buffer["actions"][idx],
            "reward": buffer["rewards"][idx], "terminal": terminal}


def _host(buffer) -> dict[str, np.ndarray]:
    import dataclasses

    import jax

    fields = {f.name: getattr(buffer, f.name) for f in dataclasses.fields(buffer)}
    return {k: np.asarray(v) for k, v in jax.device_get(fields).items()}


def log_dqn_dataset(config: RunConfig, out_dir: Path | str,
                    progress: Callable[[int, int], None] | None = None,
                    trainer=None) -> dict[str, Any]:
    """Run the online DQN `config` and write iteration i's transitions as checkpoint i.

    After an iteration the newest `iteration_env_steps` transitions of the replay buffer are
    exactly that iteration's experience (all of it, warm-up included, as the DQN Replay Dataset
    keeps everything), provided `iteration_env_steps <= replay_capacity` (checked). Returns the
    metadata also written to `dataset.json`: the config, per-iteration training returns (the
    behaviour policy's learning curve) and a SHA-256 of the arrays.
    """
    if config.agent != "dqn":
        raise ValueError(f"the DQN Replay Dataset is logged by DQN, got agent={config.agent!r}")
    if config.iteration_env_steps > config.replay_capacity:
        raise ValueError(f"iteration_env_steps={config.iteration_env_steps} exceeds "
                         f"replay_capacity={config.replay_capacity}: an iteration would overwrite "
                         "its own transitions before they are logged")
    out_dir = Path(out_dir)
    trainer = trainer or minatar_loop.make_trainer(config)
    digest = hashlib.sha256()
    iterations = []
    start = time.perf_counter()
    for i, (state, entry) in enumerate(train(trainer, trainer.init(config.seed))):
        steps = int(state.agent_steps)
        if steps != (i + 1) * config.iteration_env_steps:
            raise AssertionError(f"iteration {i} ended at agent step {steps}")
        arrays = iteration_transitions(state.replay, config.iteration_env_steps)
        write_replay_checkpoint(out_dir, i, arrays)
        for name in STORE_NAMES:
            digest.update(np.ascontiguousarray(arrays[name].astype(STORE_DTYPES[name])).data)
        iterations.append(entry)
        if progress:
            progress(i + 1, config.num_iterations)
    meta = {"schema": 1, "layout": "DQN Replay Dataset ($store$_<name>_ckpt.<i>.gz)",
            "config": config.to_dict(), "num_checkpoints": config.num_iterations,
            "transitions": config.num_env_steps, "sha256": digest.hexdigest(),
            "iterations": iterations, "wall_clock_s": round(time.perf_counter() - start, 2),
            "code_version": store.code_version(), "device": store.device_description()}
    store.atomic_write_bytes(out_dir / "dataset.json",
                             json.dumps(store.json_safe(meta), indent=1).encode())
    return meta


def ensure_dataset(game: str, recipe: str, seed: int = 0, root: Path | str | None = None,
                   poll_s: float = 5.0) -> Path:
    """The dataset's folder, logging it first if absent (deterministic from the seed).

    A lock file keeps two processes from logging the same dataset; a process finding it held
    by a live process waits. An interrupted logging run restarts from scratch.
    """
    folder = dataset_dir(game, recipe, seed, root)
    lock = folder.with_name(folder.name + ".lock")
    while not (folder / "dataset.json").exists():
        if not try_claim(lock):  # held by a live process: wait for its dataset
            time.sleep(poll_s)
            continue
        try:
            if not (folder / "dataset.json").exists():
                config = logging_config(game, recipe, seed)
                # minutes of silent compute otherwise: say what runs and for how long it ran
                print(f"dataset {game} ({recipe}, seed {seed}): logging a "
                      f"{config.num_env_steps:,}-step DQN run ...", file=sys.stderr, flush=True)
                start = time.perf_counter()
                log_dqn_dataset(config, folder)
                print(f"dataset {game} ({recipe}, seed {seed}): logged in "
                      f"{time.perf_counter() - start:.0f} s -> {folder}", file=sys.stderr,
                      flush=True)
        finally:
            release(lock)
    return folder


def ensure_datasets(games: Sequence[str], recipe: str = "cpu", seeds: Sequence[int] = (0,),
                    root: Path | str | None = None, results_root: Path | str | None = None,
                    sweep: str | None = None) -> list[Path]:
    """Log every (game, seed) dataset the offline runs need (run this before the sweep).

    With `results_root` and `sweep`, the logging DQN run is also written as a results file of
    that sweep (`dqn-<game>-w1-s0-seed<k>`): the MinAtar normalisation then measures offline
    scores against the behaviour policy's final training return (1.0 = as good as the DQN whose
    experience was logged), from the same sweep and preset.
    """

    folders = []
    for game in games:
        for seed in seeds:
            folder = ensure_dataset(game, recipe, seed, root)
            folders.append(folder)
            if results_root is None or sweep is None:
                continue
            meta = json.loads((folder / "dataset.json").read_text())
            config = logging_config(game, recipe, seed)
            out = store.run_path(Path(results_root), sweep, config.run_id)
            if not out.exists():
                store.write_run(out, store.run_record(
                    meta["config"], config.run_id, sweep, meta["iterations"],
                    meta["wall_clock_s"], meta["code_version"], meta["device"],
                    role="behaviour policy that logged the offline dataset"))
    return folders


def fixed_replay_for(config: OfflineConfig, root: Path | str | None = None):
    """Load (logging it if needed) the config's dataset and build its fixed replay."""
    folder = ensure_dataset(config.game, config.dataset, config.dataset_seed, root)
    data = load_dqn_replay(folder)
    rng = np.random.default_rng(sample_seed(config))
    indices = sample_fraction(data, config.dataset_fraction, rng, config.n_step)
    return build_fixed_replay(data, indices, config.n_step, config.gamma)
