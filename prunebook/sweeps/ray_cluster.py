"""Run a sweep on a Ray cluster: one Ray task per run, retried from its last checkpoint.

`RayExecutor` has the local executors' interface (`.run(configs, sweep, results_root,
checkpoint_root, on_event)`), so `runner.run_sweep(sweep, ..., executor=RayExecutor(...))` and
`prunebook run --executor ray --address auto` work unchanged. Ray is an optional extra:
`pip install -e .[cluster]` (ray==2.60.0).

* **One task per run**, with `num_cpus_per_run` / `num_gpus_per_run` as its resource request
  (Ray sets `CUDA_VISIBLE_DEVICES` for GPU tasks). A CPU-only task with one CPU runs XLA
  single-threaded, as the local workers do.
* **Retries.** A task whose worker dies (pre-emption, OOM kill, node loss, SIGKILL) is re-run by
  Ray up to `max_retries` times; the new attempt calls `runner.run_one`, which resumes from the
  run's last checkpoint. Exceptions raised by our code are not retried (they are bugs or a
  non-finite loss, which would fail again) and are reported as `failed: ...`.
* **Claims.** Ray runs each task at most once at a time, so tasks take no lock files (a lock
  held by a dead worker on another node could never be taken over). The driver skips runs whose
  lock is held by a live local `prunebook run`, reporting them as `busy`.
* **Where files go.** Tasks write results and checkpoints at `worker_results_root` /
  `worker_checkpoint_root` (default: the driver's paths, made absolute, i.e. a shared
  filesystem). Each task also returns its results record and the driver writes it under
  `results_root` if it is not there yet, so results reach the driver without a shared
  filesystem too (the built-in collect step). Checkpoints must be on storage every node sees
  for a retry on another node to resume; on node-local storage a retry elsewhere restarts
  that run from scratch (still correct, just slower).
* **Progress** events travel through a `ray.util.queue.Queue` and reach `on_event` like the
  local executors' events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prunebook.config import config_from_dict
from prunebook.loops.compilation_cache import use_compilation_cache
from prunebook.sweeps import checkpoints, runner, store
from prunebook.sweeps.local import SINGLE_THREAD_XLA
from prunebook.sweeps.runner import NonFiniteLossError


def _xla_environment(num_cpus: float, num_gpus: float) -> dict[str, str]:
    """XLA settings for a task: one CPU -> single-threaded XLA (as the local workers); a GPU
    share < 1 -> a matching memory fraction instead of JAX's default 75% preallocation."""
    env = {}
    if num_gpus == 0 and num_cpus <= 1:
        env["XLA_FLAGS"] = SINGLE_THREAD_XLA
    if 0 < num_gpus < 1:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{0.9 * num_gpus:.2f}"
    return env


def _run_task(config_dict: dict[str, Any], sweep: str, results_root: str, checkpoint_root: str,
              progress_queue, checkpoint_interval_s: float,
              progress_hook: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """Body of one Ray task: train (or resume) one run; return its status and results record."""
    use_compilation_cache()  # runs of one shape on this node compile once
    config = config_from_dict(config_dict)

    def progress(event: dict[str, Any]) -> None:
        if progress_queue is not None:
            try:
                progress_queue.put_nowait(event)
            except Exception:  # a full or dead queue must never stop training
                pass
        if progress_hook is not None:
            progress_hook(event)

    try:
        out = runner.run_one(config, sweep, results_root, checkpoint_root, progress,
                             checkpoint_interval_s=checkpoint_interval_s)
    except NonFiniteLossError as error:
        return {"status": f"failed: {error}", "record": None}
    record = Path(out).read_text() if out is not None else None
    return {"status": "done", "record": record}


class RayExecutor:
    """Execute a sweep's runs as Ray tasks (see the module docstring).

    address: Ray cluster address (`"auto"`, `"ray://head:10001"`); None starts or joins a
    local Ray unless `ray.init` was already called. `num_gpus_per_run` may be a fraction
    (0.25: four runs share a GPU; each gets that share of GPU memory). `memory_per_run_gb`:
    host memory Ray reserves per run (a paper run's 1M-frame replay is ~7 GB, ~15 GB at
    checkpoint time). `runtime_env` is passed to `ray.init` (e.g. `{"working_dir": "."}` to
    ship the code). `checkpoint_interval_s`: seconds between checkpoints within a run.
    """

    def __init__(self, address: str | None = None, num_cpus_per_run: float = 1,
                 num_gpus_per_run: float = 0, max_retries: int = 3,
                 checkpoint_interval_s: float = 30.0, memory_per_run_gb: float | None = None,
                 runtime_env: dict | None = None,
                 worker_results_root: str | None = None,
                 worker_checkpoint_root: str | None = None,
                 progress_hook: Callable[[dict[str, Any]], None] | None = None,
                 poll_s: float = 1.0):
        if num_cpus_per_run <= 0 or num_gpus_per_run < 0 or max_retries < 0:
            raise ValueError("need num_cpus_per_run > 0, num_gpus_per_run >= 0, max_retries >= 0")
        self.address = address
        self.num_cpus_per_run = num_cpus_per_run
        self.num_gpus_per_run = num_gpus_per_run
        self.max_retries = max_retries
        self.checkpoint_interval_s = checkpoint_interval_s
        self.memory_per_run_gb = memory_per_run_gb
        self.runtime_env = runtime_env
        self.worker_results_root = worker_results_root
        self.worker_checkpoint_root = worker_checkpoint_root
        self.progress_hook = progress_hook
        self.poll_s = poll_s
        self.num_workers = 1  # runner.check_disk: checkpoints live on the workers' disks

    def init_ray(self):
        try:
            import ray
        except ImportError as error:
            raise ImportError("the Ray executor needs ray: pip install -e .[cluster] "
                              "(ray==2.60.0)") from error
        if not ray.is_initialized():
            ray.init(address=self.address, runtime_env=self.runtime_env,
                     log_to_driver=False)
        return ray

    def run(self, configs, sweep, results_root, checkpoint_root, on_event) -> None:
        ray = self.init_ray()
        from ray.util.queue import Queue

        results_root, checkpoint_root = Path(results_root), Path(checkpoint_root)
        worker_results = self.worker_results_root or str(results_root.resolve())
        worker_ckpts = self.worker_checkpoint_root or str(checkpoint_root.resolve())
        queue = Queue(actor_options={"num_cpus": 0})
        options = dict(num_cpus=self.num_cpus_per_run, num_gpus=self.num_gpus_per_run,
                       max_retries=self.max_retries, retry_exceptions=False)
        if self.memory_per_run_gb:
            options["memory"] = int(self.memory_per_run_gb * 1024**3)
        xla_env = _xla_environment(self.num_cpus_per_run, self.num_gpus_per_run)
        if xla_env:
            # set as Ray starts the worker process (merged with `ray.init`'s runtime_env):
            # XLA reads them once per process, and a worker may have run other tasks before
            options["runtime_env"] = {"env_vars": xla_env}
        task = ray.remote(_run_task).options(**options)
        pending: dict[Any, str] = {}
        for config in configs:
            lock = checkpoints.claim_path(checkpoint_root, sweep, config.run_id)
            if lock.exists() and checkpoints.lock_alive(lock):
                on_event("finished", {"run_id": config.run_id, "status": "busy"})
                continue
            ref = task.remote(config.to_dict(), sweep, worker_results, worker_ckpts, queue,
                              self.checkpoint_interval_s, self.progress_hook)
            pending[ref] = config.run_id
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                self._drain(queue, on_event)
                for ref in done:
                    run_id = pending.pop(ref)
                    on_event("finished", {"run_id": run_id,
                                          "status": self._collect(ray, ref, sweep, run_id,
                                                                  results_root)})
            self._drain(queue, on_event)
        finally:
            for ref in pending:
                ray.cancel(ref)
            queue.shutdown(force=True)

    @staticmethod
    def _drain(queue, on_event) -> None:
        try:
            events = queue.get_nowait_batch(queue.qsize())
        except Exception:  # Empty, or the queue actor is gone: progress is best effort
            return
        for event in events:
            on_event("progress", event)

    @staticmethod
    def _collect(ray, ref, sweep: str, run_id: str, results_root: Path) -> str:
        """The task's status; writes its results record locally if it is not there yet."""
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            return f"failed: {run_id}: {error}"
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.TaskCancelledError, ray.exceptions.ObjectLostError) as error:
            return (f"failed: {run_id}: worker lost after all retries ({type(error).__name__}); "
                    "rerun the sweep to resume from its checkpoint")
        if outcome["record"] is not None:
            path = store.run_path(results_root, sweep, run_id)
            if not path.exists():
                json.loads(outcome["record"])  # refuse to write a corrupt record
                store.atomic_write_bytes(path, outcome["record"].encode())
        return outcome["status"]
