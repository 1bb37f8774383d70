"""Where a run's state lives between iterations, and whether a run is finished.

* Checkpoints (`<run_id>.ckpt.npz` under `checkpoint_root`, default
  `~/.cache/prunebook/checkpoints`, outside the work tree so `git clean` or a fresh checkout
  loses nothing), written atomically: temp file, fsync, rename.
* Claim files (`<run_id>.ckpt.lock` holding host and pid) stop two runners on the same sweep from
  training the same run; a lock whose process is gone is taken over.
* Finished copies (`<run_id>.result.json` next to the checkpoint): a run that finishes after
  the last commit of `results/` is not lost with the checkout; `finished_state` restores it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prunebook.config import ConfigError, RunConfig, asterix_spawn_of, config_from_dict, same_run
from prunebook.envs.minatar import observation_shape
from prunebook.replay.frames import FRAME_SHAPE
from prunebook.sweeps import store
from prunebook.sweeps.store import ResultsFileError

DEFAULT_CHECKPOINT_ROOT = Path(os.environ.get(
    "PRUNEBOOK_CHECKPOINTS", Path.home() / ".cache" / "prunebook" / "checkpoints"))


def checkpoint_path(checkpoint_root: Path, sweep: str, run_id: str) -> Path:
    return Path(checkpoint_root) / sweep / f"{run_id}.ckpt.npz"


def claim_path(checkpoint_root: Path, sweep: str, run_id: str) -> Path:
    """The run's claim file (see `try_claim`), beside its checkpoint."""
    return checkpoint_path(checkpoint_root, sweep, run_id).with_suffix(".lock")


def save_checkpoint(path: Path, arrays: list[np.ndarray], meta: dict[str, Any]) -> None:
    """Stream to a temp file, fsync, rename: never a partial checkpoint, never 3x in RAM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                     **{f"a{i:04d}": a for i, a in enumerate(arrays)})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> tuple[list[np.ndarray], dict[str, Any]] | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            keys = sorted(k for k in data.files if k.startswith("a"))
            return [data[k] for k in keys], meta
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise RuntimeError(f"checkpoint {path} is unreadable ({error}); delete it to restart "
                           "that run from scratch") from error


def checkpoint_meta(path: Path) -> dict[str, Any] | None:
    """A checkpoint's metadata (config, iteration log, wall seconds) without loading its arrays
    (npz members load lazily): what the queue and `prunebook status` read of a partial run.
    None when there is no checkpoint or it cannot be read (resuming it would say why)."""
    try:
        with np.load(path) as data:
            return json.loads(bytes(data["meta"]).decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22) when `pid`
    is a process, not a thread: a thread's id opens /proc/<id> too, and a killed worker's pid
    can come back as another program's thread or process. None without /proc or for a
    thread or no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    tgid = next((line.split()[1] for line in status.splitlines() if line.startswith("Tgid:")),
                None)
    if tgid != str(pid):
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # after the command name, which may hold spaces


def _owner(pid: int) -> str:
    return f"{socket.gethostname()} {pid} {_start_time(pid) or '-'}"


def _owner_alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a lock still runs: the pid names a live process and, where
    the lock kept its start time, the same one (not a later process or thread given its id)."""
    if Path("/proc/self/stat").exists():
        now = _start_time(pid)
        return now is not None and (started in (None, "-") or now == started)
    try:  # no /proc: only whether some process has the pid
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(lock: Path) -> tuple[str, int, str | None] | None:
    """(host, pid, start time or None) of a lock file; None if unreadable. Locks written
    before start times were kept have two fields."""
    try:
        fields = lock.read_text().split()
        return fields[0], int(fields[1]), fields[2] if len(fields) > 2 else None
    except (OSError, ValueError, IndexError):
        return None


def try_claim(lock: Path) -> bool:
    """Atomically create `lock`; take it over if its owner process is dead (same host)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            with os.fdopen(fd, "w") as f:
                f.write(_owner(os.getpid()))
            return True
        except FileExistsError:
            owner = _read_lock(lock)
            if owner is None:
                return False
            host, pid, started = owner
            if host == socket.gethostname() and not _owner_alive(pid, started):
                lock.unlink(missing_ok=True)
                continue
            return False
    return False


def release(lock: Path) -> None:
    owner = _read_lock(lock)
    if owner is not None and owner[1] == os.getpid():
        lock.unlink(missing_ok=True)


def finished_copy_path(checkpoint_root: Path, sweep: str, run_id: str) -> Path:
    """Where a finished run's results record is also kept, outside the work tree: a run that
    finishes after the last commit of `results/` is not lost with the checkout."""
    return Path(checkpoint_root) / sweep / f"{run_id}.result.json"


IDENTITY_FIELDS = ("agent", "suite", "game", "width", "final_sparsity", "seed", "preset")


def finished_state(config: RunConfig, sweep: str, results_root: Path | str,
                   checkpoint_root: Path | str) -> tuple[str, str]:
    """Is `config`'s run finished? ("finished" | "restored" | "train", why).

    A results file counts only if it is valid (:func:`prunebook.sweeps.store.read_run`) and is this
    run of this sweep (same identity fields; other fields may have drifted since, see
    `prunebook.book.chapters.config_drift`). Otherwise the cached copy is restored if it is
    valid and made with this very config, or the run is trained again; `why` names the bad
    file's problem.
    """
    out = store.run_path(Path(results_root), sweep, config.run_id)
    problem = ""
    if out.exists():
        state = file_state(out, config, sweep)
        if state == "finished":
            return "finished", ""
        problem = f"{out}: {state}"
    copy = finished_copy_path(Path(checkpoint_root), sweep, config.run_id)
    try:
        record = store.read_run(copy)
        same = same_run(config_from_dict(record["config"]), config)
    except (ValueError, KeyError, TypeError):  # absent, corrupt, another schema or config
        same = False
    if same:
        store.write_run(out, record)
        return "restored", problem and f"{problem}; restored its cached copy {copy}"
    return "train", problem and f"{problem}; no valid cached copy ({copy}): training it again"


def restore_finished(config: RunConfig, sweep: str, results_root: Path | str,
                     checkpoint_root: Path | str) -> bool:
    """True when `config`'s run has a valid results file afterwards: already there, or its
    cached finished record restored (:func:`finished_state`)."""
    return finished_state(config, sweep, results_root, checkpoint_root)[0] != "train"


def write_finished(record: dict[str, Any], results_root: Path | str,
                   checkpoint_root: Path | str) -> Path:
    """A finished run: its record into `results_root` and, first, a copy next to its
    checkpoint, which then goes."""
    sweep, run_id = record["sweep"], record["run_id"]
    store.write_run(finished_copy_path(Path(checkpoint_root), sweep, run_id), record)
    out = store.run_path(Path(results_root), sweep, run_id)
    store.write_run(out, record)
    checkpoint_path(Path(checkpoint_root), sweep, run_id).unlink(missing_ok=True)
    return out


def checkpoint_bytes_estimate(config: RunConfig) -> int:
    """Upper bound on one run's checkpoint: the replay buffer's observations dominate."""
    if config.suite == "atari":  # frames stored once (prunebook.replay.frames)
        return config.replay_capacity * (int(np.prod(FRAME_SHAPE)) + 16) + 500_000_000
    obs = int(np.prod(observation_shape(config.game)))
    return config.replay_capacity * (2 * obs + 16) + 50_000_000


def check_disk(configs: Sequence[RunConfig], checkpoint_root: Path, workers: int) -> None:
    if not configs:
        return
    need = max(checkpoint_bytes_estimate(c) for c in configs) * 2 * workers
    root = Path(checkpoint_root)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < need:
        raise ConfigError(f"checkpoint_root={root} has {free / 1e9:.1f} GB free; this sweep "
                          f"needs about {need / 1e9:.1f} GB for {workers} concurrent runs")


def file_state(path: Path, config: RunConfig, sweep: str) -> str:
    """"finished" when `path` is a valid record of `config`'s run, else the problem."""
    try:
        record = store.read_run(path)
    except ResultsFileError as error:
        return error.problem
    return record_state(record, config, sweep)


def record_state(record: dict[str, Any], config: RunConfig, sweep: str) -> str:
    """"finished" when a valid results `record` (already read) is of `config`'s run, else how
    its config differs (`file_state` for a record in hand)."""
    stored = record["config"]
    wrong = [f"{k}={stored.get(k)!r}" for k in IDENTITY_FIELDS
             if stored.get(k) != getattr(config, k)]
    # the environment too, where it differs (a record made before `asterix_spawn` existed ran
    # gymnax's Asterix: not a run of a sweep that asks for MinAtar's; other games are the same)
    if (spawn := asterix_spawn_of(stored)) != asterix_spawn_of(config.to_dict()):
        wrong.append(f"asterix_spawn={spawn!r}")
    return "finished" if not wrong else (f"stored config differs from sweep {sweep}'s run in "
                                         f"{', '.join(wrong)}")


def lock_alive(lock: Path) -> bool:
    owner = _read_lock(lock)
    if owner is None:
        return False
    host, pid, started = owner
    return host != socket.gethostname() or _owner_alive(pid, started)
