"""Resumable sweeps: a grid of runs executed as a work queue over single-threaded workers.

* A run checkpoints its whole `TrainState` (params, optimizer and mask state, replay buffer,
  environment state, PRNG key, counters) plus its iteration log after every iteration,
  atomically, under `checkpoint_root` (default `~/.cache/prunebook/checkpoints`, outside the
  work tree so `git clean` or a fresh checkout loses nothing).
* A finished run writes one results file and drops its checkpoint; rerunning the sweep skips
  finished runs and resumes unfinished ones from their last checkpoint.
* Claim files (`<run_id>.lock` holding the owner's pid) stop two runners on the same sweep
  from training the same run; a lock whose process is gone is taken over.
* A NaN/inf loss stops that run with `NonFiniteLossError`; its last good checkpoint is kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import socket
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prunebook import measures, results
from prunebook.config import ConfigError, RunConfig, config_from_dict, preset_config

DEFAULT_CHECKPOINT_ROOT = Path(os.environ.get(
    "PRUNEBOOK_CHECKPOINTS", Path.home() / ".cache" / "prunebook" / "checkpoints"))
TIMING_KEYS = ("wall_s", "measures_s")  # an iteration's entries that vary from run to run
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class NonFiniteLossError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class Grid:
    """agents x games x widths x sparsities x seeds at one preset (one block of a sweep)."""

    agents: Sequence[str]
    games: Sequence[str]
    widths: Sequence[int]
    sparsities: Sequence[float]
    seeds: Sequence[int]
    preset: str = "cpu"
    overrides: tuple[tuple[str, Any], ...] = ()
    # (preset, agent, **fields) -> config; offline grids pass their own preset function
    make_config: Callable[..., Any] = preset_config

    def configs(self) -> list[RunConfig]:
        return [self.make_config(self.preset, agent, game=game, width=width,
                                 final_sparsity=sparsity, seed=seed, **dict(self.overrides))
                for seed, agent, game, width, sparsity in itertools.product(
                    self.seeds, self.agents, self.games, self.widths, self.sparsities)]


SWEEP_ORDERS = ("longest_first", "grid")


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A named set of grids. `order` is the queue within each seed: "longest_first" (fewest
    idle workers at the end) or "grid" (the grids' own order: seed, agent, game, width,
    sparsity, so the runs one comparison needs finish together)."""

    name: str
    grids: Sequence[Grid]
    order: str = "longest_first"

    def __post_init__(self):
        if self.order not in SWEEP_ORDERS:
            raise ConfigError(f"order={self.order!r} is not allowed; choose one of "
                              f"{list(SWEEP_ORDERS)}")

    def configs(self) -> list[RunConfig]:
        """All runs, deduplicated (grids may overlap), seed-major so early seeds finish first."""
        seen: dict[str, RunConfig] = {}
        for config in (c for grid in self.grids for c in grid.configs()):
            seen.setdefault(config.run_id, config)
        runs = list(seen.values())
        if self.order == "grid":
            return sorted(runs, key=lambda c: c.seed)  # stable: grid order within a seed
        return sorted(runs, key=lambda c: (c.seed, -_cost_weight(c)))


def _cost_weight(config: RunConfig) -> float:
    """Rough relative cost (measured: update time grows ~ width^1.3) for longest-first order."""
    factor = {"rainbow": 1.3, "cql_c51": 1.5}.get(config.agent, 1.0)
    return _run_steps(config) * config.width ** 1.3 * factor


def _run_steps(config) -> int:
    """Progress units of a run: agent steps online, gradient updates offline."""
    return config.num_iterations * config.iteration_env_steps


# --- checkpoints -----------------------------------------------------------------------------

def checkpoint_path(checkpoint_root: Path, sweep: str, run_id: str) -> Path:
    return Path(checkpoint_root) / sweep / f"{run_id}.ckpt.npz"


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


# --- claims (locks) ----------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def try_claim(lock: Path) -> bool:
    """Atomically create `lock`; take it over if its owner process is dead (same host)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    owner = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            with os.fdopen(fd, "w") as f:
                f.write(owner)
            return True
        except FileExistsError:
            try:
                host, pid = lock.read_text().split()
            except (OSError, ValueError):
                return False
            if host == socket.gethostname() and not _pid_alive(int(pid)):
                lock.unlink(missing_ok=True)
                continue
            return False
    return False


def release(lock: Path) -> None:
    try:
        if lock.read_text().split()[1] == str(os.getpid()):
            lock.unlink()
    except (OSError, IndexError):
        pass


def finished_copy_path(checkpoint_root: Path, sweep: str, run_id: str) -> Path:
    """Where a finished run's results record is also kept, outside the work tree: a run that
    finishes after the last commit of `results/` is not lost with the checkout."""
    return Path(checkpoint_root) / sweep / f"{run_id}.result.json"


IDENTITY_FIELDS = ("agent", "suite", "game", "width", "final_sparsity", "seed", "preset")


def finished_state(config: RunConfig, sweep: str, results_root: Path | str,
                   checkpoint_root: Path | str) -> tuple[str, str]:
    """Is `config`'s run finished? ("finished" | "restored" | "train", why).

    A results file counts only if it is valid (:func:`prunebook.results.read_run`) and is this
    run of this sweep (same identity fields; other fields may have drifted since, see
    `prunebook.chapters.config_drift`). Otherwise the cached copy is restored if it is valid and
    made with this very config, or the run is trained again; `why` names the bad file's problem.
    """
    out = results.run_path(Path(results_root), sweep, config.run_id)
    problem = ""
    if out.exists():
        state = _file_state(out, config, sweep)
        if state == "finished":
            return "finished", ""
        problem = f"{out}: {state}"
    copy = finished_copy_path(Path(checkpoint_root), sweep, config.run_id)
    try:
        record = results.read_run(copy)
        same = config_from_dict(record["config"]) == config
    except (ValueError, KeyError, TypeError):  # absent, corrupt, another schema or config
        same = False
    if same:
        results.write_run(out, record)
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
    results.write_run(finished_copy_path(Path(checkpoint_root), sweep, run_id), record)
    out = results.run_path(Path(results_root), sweep, run_id)
    results.write_run(out, record)
    checkpoint_path(Path(checkpoint_root), sweep, run_id).unlink(missing_ok=True)
    return out


# --- one run -----------------------------------------------------------------------------------

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


def run_one(config: RunConfig, sweep: str, results_root: Path | str = "results",
            checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT,
            progress: Callable[[dict[str, Any]], None] | None = None,
            trainer=None, max_iterations: int | None = None,
            checkpoint_interval_s: float = 30.0) -> Path | None:
    """Train (or resume) one run to completion and write its results file.

    Returns the results path, or None when `max_iterations` stopped it early (tests use that
    to simulate an interruption). Skips runs whose results file already exists. The state is
    checkpointed after an iteration once `checkpoint_interval_s` have passed since the last
    save (0: after every iteration).
    """
    from prunebook import train

    out = results.run_path(Path(results_root), sweep, config.run_id)
    if restore_finished(config, sweep, results_root, checkpoint_root):
        return out
    ckpt = checkpoint_path(Path(checkpoint_root), sweep, config.run_id)
    trainer = trainer or train.make_trainer_for(config)
    state = trainer.init(config.seed)
    iterations: list[dict[str, Any]] = []
    wall = 0.0
    loaded = load_checkpoint(ckpt)
    if loaded is not None:
        arrays, meta = loaded
        if config_from_dict(meta["config"]) != config:  # tolerant of fields added later
            raise RuntimeError(f"checkpoint {ckpt} was made with another config; delete it")
        state = trainer.from_arrays(state, arrays)
        iterations, wall = meta["iterations"], meta["wall_s"]
    done_here = 0
    last_save = time.perf_counter()
    while len(iterations) < config.num_iterations:
        if max_iterations is not None and done_here >= max_iterations:
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
            import jax

            eval_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), len(iterations))
            eval_return = float(trainer.evaluate(state.params, eval_key))
        elapsed = time.perf_counter() - start
        wall += elapsed
        iterations.append(iteration_record(trainer, state, len(iterations), stats,
                                           eval_return, elapsed))
        done_here += 1
        due = time.perf_counter() - last_save >= checkpoint_interval_s
        stopping = max_iterations is not None and done_here >= max_iterations
        if len(iterations) < config.num_iterations and (due or stopping):
            last_save = time.perf_counter()
            save_checkpoint(ckpt, trainer.to_arrays(state),
                            {"config": config.to_dict(), "iterations": iterations, "wall_s": wall})
        if progress:
            progress({"run_id": config.run_id, "iteration": len(iterations),
                      "env_steps": config.iteration_env_steps, "seconds": elapsed})
    record = {
        "run_id": config.run_id, "sweep": sweep, "config": config.to_dict(),
        "iterations": iterations, "wall_clock_s": round(wall, 2),
        "code_version": results.code_version(), "device": results.device_description(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return write_finished(record, results_root, checkpoint_root)


# --- executors ----------------------------------------------------------------------------------

def _claimed_run(config, sweep, results_root, checkpoint_root, progress):
    lock = checkpoint_path(Path(checkpoint_root), sweep, config.run_id).with_suffix(".lock")
    if not try_claim(lock):
        return "busy"
    try:
        run_one(config, sweep, results_root, checkpoint_root, progress)
        return "done"
    except NonFiniteLossError as error:
        return f"failed: {error}"
    finally:
        release(lock)


def _worker_main(core, tasks, events, sweep, results_root, checkpoint_root):
    """Worker process: one single-threaded XLA instance pinned to one core."""
    os.environ["XLA_FLAGS"] = SINGLE_THREAD_XLA
    if sweep.startswith("offline"):  # offline runs of one shape share compiled code
        from prunebook.offline_train import use_compilation_cache

        use_compilation_cache()
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    progress = parent_watching_progress(os.getppid(), events)
    while True:
        config_dict = tasks.get()
        if config_dict is None:
            return
        config = config_from_dict(config_dict)
        status = _claimed_run(config, sweep, results_root, checkpoint_root, progress)
        events.put(("finished", {"run_id": config.run_id, "status": status}))


def parent_watching_progress(parent_pid: int, events):
    """A worker's progress callback (called after every iteration) that also stops the worker
    once the sweep's main process is gone: a killed sweep must not leave workers training
    (and holding their runs' locks) unseen. The run resumes from its last checkpoint."""

    def progress(event):
        if os.getppid() != parent_pid:
            raise SystemExit(f"{event['run_id']}: the sweep's main process {parent_pid} is "
                             "gone; stopping (rerun the sweep to resume from the checkpoint)")
        events.put(("progress", event))

    return progress


class LocalExecutor:
    """N worker processes, one per core (measured 1.44x one two-core process, notes §4c)."""

    def __init__(self, num_workers: int | None = None, pin: bool = True):
        self.num_workers = num_workers or max(1, len(os.sched_getaffinity(0))
                                              if hasattr(os, "sched_getaffinity")
                                              else os.cpu_count() or 1)
        self.pin = pin

    def run(self, configs, sweep, results_root, checkpoint_root, on_event):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        tasks, events = ctx.Queue(), ctx.Queue()
        for config in configs:
            tasks.put(config.to_dict())
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        workers = []
        for i in range(self.num_workers):
            tasks.put(None)
            core = cores[i % len(cores)] if (self.pin and cores) else None
            p = ctx.Process(target=_worker_main, daemon=True,
                            args=(core, tasks, events, sweep, str(results_root),
                                  str(checkpoint_root)))
            p.start()
            workers.append(p)
        remaining = len(configs)
        try:
            while remaining:
                try:
                    kind, event = events.get(timeout=5)
                except Exception as empty:  # queue.Empty
                    if not any(p.is_alive() for p in workers):
                        raise RuntimeError("all workers died; rerun to resume from "
                                           "checkpoints") from empty
                    continue
                on_event(kind, event)
                if kind == "finished":
                    remaining -= 1
        finally:
            for p in workers:
                p.join(timeout=1)
                if p.is_alive():
                    p.terminate()


class SerialExecutor:
    """In-process execution (tests, notebooks' ci sweeps, debugging)."""

    def run(self, configs, sweep, results_root, checkpoint_root, on_event):
        for config in configs:
            status = _claimed_run(config, sweep, results_root, checkpoint_root,
                                  lambda event: on_event("progress", event))
            on_event("finished", {"run_id": config.run_id, "status": status})


def checkpoint_bytes_estimate(config: RunConfig) -> int:
    """Upper bound on one run's checkpoint: the replay buffer's observations dominate."""
    if config.suite == "atari":  # frames stored once (prunebook.image_replay)
        return config.replay_capacity * (84 * 84 + 16) + 500_000_000
    from prunebook.envs.minatar import observation_shape

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


def sweep_status(sweep: Sweep, results_root: Path | str = "results",
                 checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT) -> dict[str, list[str]]:
    """Run ids per state: done (a valid results file of this run), running, partial, left;
    and "bad": "file: problem" for every results file of the sweep's folder that cannot be
    used (its run, if planned, is counted as running, partial or left)."""
    status: dict[str, list[str]] = {"done": [], "running": [], "partial": [], "left": [],
                                    "bad": []}
    _, bad = results.scan(Path(results_root), sweep.name)
    for config in sweep.configs():
        ckpt = checkpoint_path(Path(checkpoint_root), sweep.name, config.run_id)
        lock = ckpt.with_suffix(".lock")
        path = results.run_path(Path(results_root), sweep.name, config.run_id)
        state = "missing" if not path.exists() else _file_state(path, config, sweep.name)
        if state == "finished":
            status["done"].append(config.run_id)
            continue
        if state != "missing" and path not in bad:
            bad[path] = state
        if lock.exists() and _lock_alive(lock):
            status["running"].append(config.run_id)
        elif ckpt.exists():
            status["partial"].append(config.run_id)
        else:
            status["left"].append(config.run_id)
    status["bad"] = [f"{path}: {problem}" for path, problem in sorted(bad.items())]
    return status


def _file_state(path: Path, config: RunConfig, sweep: str) -> str:
    """"finished" when `path` is a valid record of `config`'s run, else the problem."""
    try:
        stored = results.read_run(path)["config"]
    except results.ResultsFileError as error:
        return error.problem
    wrong = [k for k in IDENTITY_FIELDS if stored.get(k) != getattr(config, k)]
    return "finished" if not wrong else (f"stored config differs from sweep {sweep}'s run in "
                                         f"{', '.join(f'{k}={stored.get(k)!r}' for k in wrong)}")


def measured_seconds(sweep: Sweep, results_root: Path | str = "results") -> float:
    """Seconds the sweep's finished runs spent in training iterations (each results file's
    `wall_clock_s`; compilation and start-up excluded). With single-threaded workers this is
    close to their CPU time: the cost to quote for a sweep."""
    return sum(group.done_seconds for group in cost_estimate(sweep, results_root))


@dataclasses.dataclass(frozen=True)
class GroupCost:
    """Measured cost of one (agent, width) group of a sweep and what its unfinished runs should
    cost at the same rate. Sparsity is not a key: the masked network runs dense kernels."""

    agent: str
    width: int
    done: int
    done_seconds: float
    left: int
    left_seconds: float | None  # None: no finished run of this group to measure a rate on
    fastest_s: float | None = None  # the quickest and slowest finished run
    slowest_s: float | None = None
    rate_from: str = ""  # "": this sweep's own runs; else the sweep whose rate was borrowed
    done_units: int = 0  # progress units (agent steps, or updates offline) of the finished runs


def cost_estimate(sweep: Sweep, results_root: Path | str = "results",
                  prior: Sweep | None = None) -> list[GroupCost]:
    """Per (agent, width): seconds per progress unit measured on finished runs (their
    `wall_clock_s`), applied to the units of the runs not finished yet. Runs already partway are
    counted whole, so the estimate is an upper bound for them. A bad results file (see
    :func:`sweep_status`) counts as not finished. A group with no finished run yet borrows the
    rate of the same (agent, width) in `prior` (e.g. `online_std` from `online_cpu`: seconds per
    agent step), marked in `rate_from`, until its own first run finishes."""
    borrowed = ({(r.agent, r.width): r for r in cost_estimate(prior, results_root)}
                if prior is not None else {})
    groups: dict[tuple[str, int], dict[str, float]] = {}
    for config in sweep.configs():
        g = groups.setdefault((config.agent, config.width),
                              dict(done=0, done_s=0.0, done_units=0, left=0, left_units=0,
                                   each=[]))
        path = results.run_path(Path(results_root), sweep.name, config.run_id)
        if path.exists() and _file_state(path, config, sweep.name) == "finished":
            seconds = float(results.read_run(path).get("wall_clock_s") or 0.0)
            g["done"] += 1
            g["done_s"] += seconds
            g["each"].append(seconds)
            g["done_units"] += _run_steps(config)
        else:
            g["left"] += 1
            g["left_units"] += _run_steps(config)
    rows = []
    for (agent, width), g in groups.items():
        rate, rate_from = (g["done_s"] / g["done_units"] if g["done_units"] else None), ""
        other = borrowed.get((agent, width))
        if rate is None and other is not None and other.done:
            rate, rate_from = other.done_seconds / other.done_units, prior.name
        left_s = 0.0 if not g["left"] else (None if rate is None else rate * g["left_units"])
        rows.append(GroupCost(agent, width, int(g["done"]), g["done_s"], int(g["left"]), left_s,
                              min(g["each"], default=None), max(g["each"], default=None),
                              rate_from, int(g["done_units"])))
    return sorted(rows, key=lambda r: (r.agent, r.width))


def done_hours(rows: Sequence[GroupCost]) -> float:
    """Core-hours the finished runs spent in training iterations."""
    return sum(r.done_seconds for r in rows) / 3600


def known_left_hours(rows: Sequence[GroupCost]) -> float:
    """Core-hours the unfinished runs should take, over the groups with a measured rate."""
    return sum(r.left_seconds for r in rows if r.left_seconds is not None) / 3600


def format_cost_estimate(rows: Sequence[GroupCost], workers: int) -> str:
    """The table `prunebook status` prints, with the total left in core-hours and wall hours."""
    lines = [f"  {'agent':10s} {'width':>5s} {'done':>5s} {'s/run':>7s} {'left':>5s} "
             f"{'est. h left':>11s}"]
    for r in rows:
        per_run = f"{r.done_seconds / r.done:7.0f}" if r.done else f"{'-':>7s}"
        left_h = f"{r.left_seconds / 3600:11.2f}" if r.left_seconds is not None else f"{'?':>11s}"
        if r.rate_from:
            left_h += f"  (at {r.rate_from}'s rate per step)"
        lines.append(f"  {r.agent:10s} {r.width:5d} {r.done:5d} {per_run} {r.left:5d} {left_h}")
    known = known_left_hours(rows)
    unknown = sum(r.left for r in rows if r.left_seconds is None)
    total = (f"  runs left: about {known:.1f} core-hours of training, about "
             f"{known / max(workers, 1):.1f} h on {workers} workers")
    if unknown:
        total += f", plus {unknown} runs of groups with no finished run to measure"
    return "\n".join([*lines, total])


def cost_markdown(rows: Sequence[GroupCost], sweep_name: str) -> str:
    """The measured cost of a sweep as a markdown table, for the book's performance page (made
    from the committed results by `make claims`, so the page cannot drift from them)."""
    lines = [f"| `{sweep_name}` agent | width | runs finished | seconds per run: mean (fastest "
             "– slowest) | core-hours of training | runs left | core-hours left (estimate) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        spread = (f"{r.done_seconds / r.done:,.0f} ({r.fastest_s:,.0f} – {r.slowest_s:,.0f})"
                  if r.done else "—")
        if not r.left:
            left = "—"
        elif r.left_seconds is None:
            left = "no finished run to measure"
        else:
            left = f"≈ {r.left_seconds / 3600:.2f} h"
            if r.rate_from:
                left += f" (at `{r.rate_from}`'s rate per step)"
        lines.append(f"| {r.agent} | ×{r.width} | {r.done} | {spread} | "
                     f"{r.done_seconds / 3600:.2f} | {r.left} | {left} |")
    done = sum(r.done for r in rows)
    left = sum(r.left for r in rows)
    unmeasured = sum(r.left for r in rows if r.left_seconds is None)
    total_left = "—" if not left else f"≈ {known_left_hours(rows):.1f} h"
    if unmeasured:
        total_left += f" + {unmeasured} runs not measured yet"
    lines.append(f"| **all** | | **{done}** | | **{done_hours(rows):.2f}** | **{left}** | "
                 f"{total_left} |")
    return "\n".join(lines) + "\n"


def _lock_alive(lock: Path) -> bool:
    try:
        host, pid = lock.read_text().split()
    except (OSError, ValueError):
        return False
    return host != socket.gethostname() or _pid_alive(int(pid))


def run_sweep(sweep: Sweep, results_root: Path | str = "results",
              checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT, executor=None,
              show_progress: bool = True, only: Iterable[str] | None = None) -> dict[str, str]:
    """Run every unfinished run of `sweep`; returns {run_id: status} for the runs attempted."""
    from tqdm.auto import tqdm

    configs, restored = [], 0
    for config in sweep.configs():  # a bad results file is restored or rerun, and said so
        state, why = finished_state(config, sweep.name, results_root, checkpoint_root)
        if why:
            print(f"{sweep.name}: {why}")
        restored += state == "restored" and not why
        if state == "train":
            configs.append(config)
    if restored:
        print(f"{sweep.name}: {restored} finished runs missing from {results_root} restored "
              f"from their copies in {Path(checkpoint_root) / sweep.name}")
    if only is not None:
        wanted = set(only)
        configs = [c for c in configs if c.run_id in wanted]
    executor = executor or LocalExecutor()
    check_disk(configs, Path(checkpoint_root), getattr(executor, "num_workers", 1))
    total_steps = sum(_run_steps(c) for c in configs)
    # offline runs (no env steps of their own) progress in gradient updates
    unit = "update" if configs and all(c.num_env_steps == 0 for c in configs) else "env step"
    outcome: dict[str, str] = {}
    bar = tqdm(total=total_steps, unit=f" {unit}", unit_scale=True, disable=not show_progress,
               desc=f"{sweep.name}: 0/{len(configs)} runs")
    started = time.perf_counter()

    def on_event(kind, event):
        if kind == "progress":
            bar.update(event["env_steps"])
            rate = bar.n / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix_str(f"mean {rate:,.0f} {unit}s/s, last: {event['run_id']}")
        else:
            outcome[event["run_id"]] = event["status"]
            bar.set_description(f"{sweep.name}: {len(outcome)}/{len(configs)} runs")
            if event["status"].startswith("failed"):
                bar.write(event["status"])

    executor.run(configs, sweep.name, Path(results_root), Path(checkpoint_root), on_event)
    bar.close()
    return outcome
