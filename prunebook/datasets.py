"""Logged DQN datasets in the DQN Replay Dataset's file layout: writing, listing and loading.

A dataset is one checkpoint per iteration of the logging DQN run (`prunebook.sweeps.logger`):
`$store$_<name>_ckpt.<i>.gz`, a gzipped `np.save` array, for name in observation, action,
reward, terminal (Dopamine's dtypes uint8, int32, float32, uint8). `load_dqn_replay` reads such
files (ours or real ones); each checkpoint is its own segment.

Datasets are regenerated deterministically from the logging run's seed and live in
`~/.cache/prunebook/datasets/` (or `$PRUNEBOOK_DATASETS`), never in git; `dataset.json` next to
the files records the config, the behaviour policy's learning curve and a SHA-256 of the arrays.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from prunebook.config import logging_config

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




def dataset_dir(game: str, recipe: str, seed: int = 0, root: Path | str | None = None) -> Path:
    """`<root>/<game>/dqn-<recipe>-seed<k>-<hash>`: the hash of the logging run's config makes
    a preset change log a new dataset instead of silently reusing the old one."""
    digest = hashlib.sha256(logging_config(game, recipe, seed).to_json().encode()).hexdigest()
    return Path(root or DEFAULT_DATASET_ROOT) / game / f"dqn-{recipe}-seed{seed}-{digest[:8]}"




