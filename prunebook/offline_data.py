"""Logged DQN datasets in the DQN Replay Dataset's layout, and the fixed 5% replay built from them.

1. `log_dqn_dataset` runs one online DQN run (`prunebook.train`) and, after every iteration,
   writes that iteration's transitions as one checkpoint in the DQN Replay Dataset's layout
   (`$store$_<name>_ckpt.<i>.gz`, a gzipped `np.save` array, for name in observation, action,
   reward, terminal; Dopamine's dtypes uint8, int32, float32, uint8). Like Dopamine's 2019
   `DQNAgent.end_episode`, which logged that dataset, every episode end is stored with
   terminal=True, a time-limit cut included.
2. `load_dqn_replay` reads such files (ours or real ones); each checkpoint is its own segment.
3. `sample_fraction` draws a uniform sample without replacement, fixed by a seed, of the
   transitions that have a usable n-step window (`valid_starts`).
4. `build_fixed_replay` stores each sampled transition with its n-step target precomputed from
   its true successors in the full log, in a full `prunebook.replay.ReplayState`.

Why precompute: the paper's sample is uniform over transitions, so a sampled transition's
successors are usually not in the sample, and n-step returns (CQL+C51 uses n = 3) could not be
formed from the sample alone. Dopamine sidesteps this by keeping a contiguous 50k block of every
1M-transition checkpoint (`JaxFixedReplayBuffer`, replay_capacity 50000); we keep the paper's
uniform sample and make the n-step window (s_t, a_t, r_t..r_{t+n-1}, s_{t+n}) the unit that is
sampled. Windows never cross a checkpoint boundary (in Dopamine each checkpoint is its own
buffer), so the last transitions of a checkpoint without an episode end inside their window
are not in the population (at most n per checkpoint).

Datasets are regenerated deterministically from the logging run's seed and live in
`~/.cache/prunebook/datasets/` (or `$PRUNEBOOK_DATASETS`), never in git; `dataset.json` next to
the files records the config, the behaviour policy's learning curve and a SHA-256 of the arrays.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from prunebook import runner
from prunebook.config import RunConfig
from prunebook.offline import OfflineConfig, logging_config

STORE_NAMES = ("observation", "action", "reward", "terminal")
STORE_DTYPES = {"observation": np.uint8, "action": np.int32, "reward": np.float32,
                "terminal": np.uint8}  # Dopamine's OutOfGraphReplayBuffer storage dtypes
DEFAULT_DATASET_ROOT = Path(os.environ.get(
    "PRUNEBOOK_DATASETS", Path.home() / ".cache" / "prunebook" / "datasets"))


class LoggedData(NamedTuple):
    """Transitions of one or more checkpoints, in logging order. Transition i is
    (observation[i], action[i], reward[i]); its next observation is observation[i + 1] unless
    terminal[i] or i is the last transition of its checkpoint (`segment` changes)."""

    observation: np.ndarray  # (N, *obs_shape) uint8
    action: np.ndarray  # (N,) int32
    reward: np.ndarray  # (N,) float32
    terminal: np.ndarray  # (N,) bool: an episode ended after this transition
    segment: np.ndarray  # (N,) int32: the checkpoint each transition came from


def store_path(directory: Path | str, name: str, checkpoint: int) -> Path:
    """Dopamine's file name: `$store$_<name>_ckpt.<i>.gz`."""
    return Path(directory) / f"$store$_{name}_ckpt.{checkpoint}.gz"


def _save_gz(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                               compresslevel=6) as f:
        np.save(f, array, allow_pickle=False)
    os.replace(tmp, path)


def _load_gz(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.load(f, allow_pickle=False)


def write_replay_checkpoint(directory: Path | str, checkpoint: int,
                            arrays: dict[str, np.ndarray]) -> list[Path]:
    """Write one checkpoint's four `$store$_*` files (Dopamine's dtypes, gzipped np.save)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sizes = {name: len(arrays[name]) for name in STORE_NAMES}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"checkpoint arrays differ in length: {sizes}")
    paths = []
    for name in STORE_NAMES:
        path = store_path(directory, name, checkpoint)
        _save_gz(path, np.asarray(arrays[name]).astype(STORE_DTYPES[name], copy=False))
        paths.append(path)
    return paths


def list_checkpoints(directory: Path | str) -> list[int]:
    pattern = re.compile(r"^\$store\$_observation_ckpt\.(\d+)\.gz$")
    found = (pattern.match(p.name) for p in Path(directory).glob("$store$_observation_ckpt.*.gz"))
    return sorted(int(m.group(1)) for m in found if m)


def load_dqn_replay(directory: Path | str, checkpoints: Sequence[int] | None = None) -> LoggedData:
    """Read DQN-Replay-Dataset files (`$store$_<name>_ckpt.<i>.gz`), checkpoints in order.

    Other files of a real dataset folder (`add_count_ckpt.*`, `invalid_range_ckpt.*`) are
    ignored. A real (Atari) dataset stores single 84x84 frames whose states are stacks of 4;
    `build_fixed_replay` assumes full MinAtar observations and does not stack frames.
    """
    directory = Path(directory)
    checkpoints = list_checkpoints(directory) if checkpoints is None else sorted(checkpoints)
    if not checkpoints:
        raise FileNotFoundError(f"no `$store$_observation_ckpt.<i>.gz` files in {directory}")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in STORE_NAMES}
    segment = []
    for i in checkpoints:
        sizes = {}
        for name in STORE_NAMES:
            path = store_path(directory, name, i)
            if not path.exists():
                raise FileNotFoundError(f"checkpoint {i} of {directory} lacks {path.name}")
            array = _load_gz(path)
            parts[name].append(array)
            sizes[name] = len(array)
        if len(set(sizes.values())) != 1:
            raise ValueError(f"checkpoint {i} of {directory}: arrays differ in length {sizes}")
        segment.append(np.full(sizes["action"], i, np.int32))
    return LoggedData(
        observation=np.concatenate(parts["observation"]).astype(np.uint8, copy=False),
        action=np.concatenate(parts["action"]).astype(np.int32, copy=False),
        reward=np.concatenate(parts["reward"]).astype(np.float32, copy=False),
        terminal=np.concatenate(parts["terminal"]).astype(bool),
        segment=np.concatenate(segment))


# --- logging a DQN run ------------------------------------------------------------------------

def iteration_transitions(buffer, num: int) -> dict[str, np.ndarray]:
    """The newest `num` transitions of a `prunebook.replay.ReplayState`, oldest first, in the
    dataset's layout; checks that each non-terminal transition's next observation is the next
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
    from prunebook import results, train

    if config.agent != "dqn":
        raise ValueError(f"the DQN Replay Dataset is logged by DQN, got agent={config.agent!r}")
    if config.iteration_env_steps > config.replay_capacity:
        raise ValueError(f"iteration_env_steps={config.iteration_env_steps} exceeds "
                         f"replay_capacity={config.replay_capacity}: an iteration would overwrite "
                         "its own transitions before they are logged")
    out_dir = Path(out_dir)
    trainer = trainer or train.make_trainer(config)
    state = trainer.init(config.seed)
    digest = hashlib.sha256()
    iterations = []
    start = time.perf_counter()
    for i in range(config.num_iterations):
        tick = time.perf_counter()
        state = trainer.run_iteration(state)
        steps = int(state.agent_steps)
        if steps != (i + 1) * config.iteration_env_steps:
            raise AssertionError(f"iteration {i} ended at agent step {steps}")
        arrays = iteration_transitions(state.replay, config.iteration_env_steps)
        write_replay_checkpoint(out_dir, i, arrays)
        for name in STORE_NAMES:
            digest.update(np.ascontiguousarray(arrays[name].astype(STORE_DTYPES[name])).data)
        stats = trainer.stats(state)
        iterations.append(runner.iteration_record(trainer, state, i, stats, None,
                                                  time.perf_counter() - tick))
        if progress:
            progress(i + 1, config.num_iterations)
    meta = {"schema": 1, "layout": "DQN Replay Dataset ($store$_<name>_ckpt.<i>.gz)",
            "config": config.to_dict(), "num_checkpoints": config.num_iterations,
            "transitions": config.num_env_steps, "sha256": digest.hexdigest(),
            "iterations": iterations, "wall_clock_s": round(time.perf_counter() - start, 2),
            "code_version": results.code_version(), "device": results.device_description()}
    results.atomic_write_bytes(out_dir / "dataset.json",
                               json.dumps(results._json_safe(meta), indent=1).encode())
    return meta


def dataset_dir(game: str, recipe: str, seed: int = 0, root: Path | str | None = None) -> Path:
    """`<root>/<game>/dqn-<recipe>-seed<k>-<hash>`: the hash of the logging run's config makes
    a preset change log a new dataset instead of silently reusing the old one."""
    digest = hashlib.sha256(logging_config(game, recipe, seed).to_json().encode()).hexdigest()
    return Path(root or DEFAULT_DATASET_ROOT) / game / f"dqn-{recipe}-seed{seed}-{digest[:8]}"


def ensure_dataset(game: str, recipe: str, seed: int = 0, root: Path | str | None = None,
                   poll_s: float = 5.0) -> Path:
    """The dataset's folder, logging it first if absent (deterministic from the seed).

    A lock file keeps two processes from logging the same dataset; a process finding it held
    by a live process waits. An interrupted logging run restarts from scratch.
    """
    folder = dataset_dir(game, recipe, seed, root)
    lock = folder.with_name(folder.name + ".lock")
    from prunebook.runner import release, try_claim  # the runner's claim files

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
    from prunebook import results

    folders = []
    for game in games:
        for seed in seeds:
            folder = ensure_dataset(game, recipe, seed, root)
            folders.append(folder)
            if results_root is None or sweep is None:
                continue
            meta = json.loads((folder / "dataset.json").read_text())
            config = logging_config(game, recipe, seed)
            out = results.run_path(Path(results_root), sweep, config.run_id)
            if not out.exists():
                results.write_run(out, {
                    "run_id": config.run_id, "sweep": sweep, "config": meta["config"],
                    "iterations": meta["iterations"], "wall_clock_s": meta["wall_clock_s"],
                    "code_version": meta["code_version"], "device": meta["device"],
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "role": "behaviour policy that logged the offline dataset"})
    return folders


# --- the 5% sample and the fixed replay --------------------------------------------------------

def valid_starts(data: LoggedData, n_step: int = 1) -> np.ndarray:
    """Transitions whose n-step window is complete inside their checkpoint: an episode ends
    within n steps, or the observation n steps later exists."""
    if np.any(np.diff(data.segment) < 0):
        raise ValueError("checkpoints must be loaded in increasing order")
    n = len(data.action)
    t = np.arange(n)
    seg_last = np.searchsorted(data.segment, data.segment, side="right") - 1  # inclusive
    ok = t + n_step <= seg_last
    for k in range(n_step):
        inside = t + k <= seg_last
        ok |= inside & data.terminal[np.minimum(t + k, n - 1)]
    return t[ok]


def sample_fraction(data: LoggedData, fraction: float, rng: np.random.Generator,
                    n_step: int = 1) -> np.ndarray:
    """A uniform sample without replacement of `round(fraction * population)` transitions
    (sorted indices), the population being `valid_starts(data, n_step)`."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    population = valid_starts(data, n_step)
    size = max(1, int(round(fraction * len(population))))
    return np.sort(rng.choice(population, size=size, replace=False))


def n_step_transitions(data: LoggedData, indices: np.ndarray, n_step: int, gamma: float):
    """Per-index n-step return, "episode ended in the window" flag and bootstrap observation.

    R = sum_{k<n} gamma^k r_{t+k}, stopping after the first terminal; s' = s_{t+n}.
    """
    n = len(data.action)
    returns = np.zeros(len(indices), np.float64)
    alive = np.ones(len(indices), bool)
    for k in range(n_step):
        idx = np.minimum(indices + k, n - 1)
        returns += np.where(alive, gamma ** k * data.reward[idx], 0.0)
        alive &= ~data.terminal[idx]
    next_obs = data.observation[np.minimum(indices + n_step, n - 1)]
    return returns.astype(np.float32), ~alive, next_obs


def build_fixed_replay(data: LoggedData, indices: np.ndarray, n_step: int, gamma: float):
    """A full `ReplayState` holding one precomputed n-step transition per sampled index.

    Sample it with `sample_fixed`: a 1-step read with discount gamma^n reproduces the n-step
    target exactly, because every stored window is either complete (bootstrap after n steps)
    or ends at a terminal (no bootstrap) -- `valid_starts` admits nothing else.
    """
    import jax.numpy as jnp

    from prunebook import replay

    returns, ended, next_obs = n_step_transitions(data, indices, n_step, gamma)
    size = len(indices)
    return replay.ReplayState(
        obs=jnp.asarray(data.observation[indices]), next_obs=jnp.asarray(next_obs),
        actions=jnp.asarray(data.action[indices], jnp.int32), rewards=jnp.asarray(returns),
        terminated=jnp.asarray(ended), episode_end=jnp.ones((size,), bool),
        priorities=jnp.zeros((size,), jnp.float32), max_priority=jnp.ones((), jnp.float32),
        cursor=jnp.zeros((), jnp.int32), size=jnp.asarray(size, jnp.int32))


def sample_fixed(buffer, key, batch_size: int, n_step: int, gamma: float):
    """A uniform minibatch of precomputed n-step transitions as a `prunebook.replay.Batch`
    (discounts = gamma^n, or 0 where the episode ended inside the window)."""
    from prunebook import replay

    return replay.sample_uniform(buffer, key, batch_size, 1, gamma ** n_step)


def sample_seed(config: OfflineConfig) -> list[int]:
    """Seed of the run's 5% sample: each seed draws its own; dense and pruned runs with the same
    seed (and agent) train on the same sample."""
    name = f"{config.game}/{config.dataset}".encode()
    return [config.seed, config.dataset_seed, zlib.crc32(name)]


def fixed_replay_for(config: OfflineConfig, root: Path | str | None = None):
    """Load (logging it if needed) the config's dataset and build its fixed replay."""
    folder = ensure_dataset(config.game, config.dataset, config.dataset_seed, root)
    data = load_dqn_replay(folder)
    rng = np.random.default_rng(sample_seed(config))
    indices = sample_fraction(data, config.dataset_fraction, rng, config.n_step)
    return build_fixed_replay(data, indices, config.n_step, config.gamma)
