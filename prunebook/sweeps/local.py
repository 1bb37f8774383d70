"""Executing a sweep on this machine: one single-threaded XLA worker process per core
(`LocalExecutor`) or in-process (`SerialExecutor`); `run_sweep`, the work queue with its
progress bar; and `run_queue`, several sweeps in one queue with a deadline (a session's
workers). Every executor runs `prunebook.sweeps.runner.run_one` per run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from prunebook.config import config_from_dict
from prunebook.loops.compilation_cache import use_compilation_cache
from prunebook.sweeps import cost, planner
from prunebook.sweeps.checkpoints import (
    DEFAULT_CHECKPOINT_ROOT,
    check_disk,
    claim_path,
    finished_state,
    release,
    try_claim,
)
from prunebook.sweeps.grid import Sweep, run_units
from prunebook.sweeps.lottery import DonorNotReadyError
from prunebook.sweeps.runner import NonFiniteLossError, run_one
from prunebook.sweeps.store import device_description

SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _claimed_run(config, sweep, results_root, checkpoint_root, progress, deadline=None,
                 clock=time.time):
    lock = claim_path(Path(checkpoint_root), sweep, config.run_id)
    if not try_claim(lock):
        return "busy"
    try:
        out = run_one(config, sweep, results_root, checkpoint_root, progress, deadline=deadline,
                      clock=clock)
        return "done" if out is not None else STOPPED
    except (NonFiniteLossError, DonorNotReadyError) as error:
        return f"failed: {error}"
    finally:
        release(lock)


STOPPED = "stopped at the deadline (checkpointed)"


def _worker_main(worker, core, tasks, events, results_root, checkpoint_root):
    """Worker process: one single-threaded XLA instance pinned to one core. A task is
    (sweep name, config dict, deadline in epoch seconds or None); None ends the worker."""
    os.environ["XLA_FLAGS"] = SINGLE_THREAD_XLA
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    use_compilation_cache()  # a sweep's runs of one shape, whatever their seed or sparsity
    progress = parent_watching_progress(os.getppid(), events)
    while True:
        task = tasks.get()
        if task is None:
            return
        sweep, config_dict, deadline = task
        config = config_from_dict(config_dict)
        status = _claimed_run(config, sweep, results_root, checkpoint_root, progress, deadline)
        events.put(("finished", {"run_id": config.run_id, "sweep": sweep, "status": status,
                                 "worker": worker}))


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
            tasks.put((sweep, config.to_dict(), None))
        for _ in range(self.num_workers):
            tasks.put(None)  # after the tasks: each worker's end
        workers = self.start_workers(ctx, [tasks] * self.num_workers, events, results_root,
                                     checkpoint_root)
        remaining = len(configs)
        try:
            while remaining:
                kind, event = next_event(events, workers)
                if kind is None:
                    continue
                on_event(kind, event)
                if kind == "finished":
                    remaining -= 1
        finally:
            stop_workers(workers)

    def start_workers(self, ctx, task_queues, events, results_root, checkpoint_root):
        """One process per task queue, pinned round-robin to this process's cores; a worker
        ends at the first None in its queue."""
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        workers = []
        for i, tasks in enumerate(task_queues):
            core = cores[i % len(cores)] if (self.pin and cores) else None
            p = ctx.Process(target=_worker_main, daemon=True,
                            args=(i, core, tasks, events, str(results_root),
                                  str(checkpoint_root)))
            p.start()
            workers.append(p)
        return workers


def next_event(events, workers, timeout: float = 5.0):
    """The next (kind, event) from the workers, or (None, None) after `timeout` seconds; raises
    when every worker has died (a killed run resumes from its checkpoint when rerun)."""
    try:
        return events.get(timeout=timeout)
    except Exception as empty:  # queue.Empty
        if not any(p.is_alive() for p in workers):
            raise RuntimeError("all workers died; rerun to resume from checkpoints") from empty
        return None, None


def stop_workers(workers) -> None:
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
    total_steps = sum(run_units(c) for c in configs)
    # offline runs (no env steps of their own) progress in gradient updates
    units = {c.progress_unit for c in configs}
    unit = units.pop() if len(units) == 1 else "unit"
    outcome: dict[str, str] = {}
    bar = tqdm(total=total_steps, unit=f" {unit}", unit_scale=True, disable=not show_progress,
               desc=f"{sweep.name}: 0/{len(configs)} runs")
    started = time.perf_counter()

    def on_event(kind, event):
        if kind == "progress":
            bar.update(event["units"])
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


def run_queue(sweeps: Sequence[Sweep], until: float, results_root: Path | str = "results",
              checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT, workers: int | None = None,
              clock: Callable[[], float] = time.time, log: Callable[[str], None] = print
              ) -> dict[str, str]:
    """Train the runs of several sweeps, in their order, until `until` (a `clock()` time):
    each free worker takes `planner.choose`'s pick (a partial run first, else the next run that
    fits the time left or is longer than the whole session), and every run stops at the
    deadline with its state checkpointed. `workers=0` runs in this process (tests, with a fake
    `clock`). Returns {sweep/run_id: status} for the runs given out."""
    cpu = device_description()
    outcome: dict[str, str] = {}
    busy: dict[int, str] = {}  # worker -> the run it trains
    given: list[planner.QueuedRun] = []  # each with the iteration it started from
    window = until - clock()  # a run longer than this could never finish in one session

    def next_task():
        left = until - clock()
        if left <= 0:
            return None
        plan = planner.pending(sweeps, results_root, checkpoint_root, cpu)
        run = planner.choose(plan, left, taken=[*busy.values(), *outcome], window=window)
        if run is not None:
            given.append(run)
            estimate = ("?" if run.seconds_left is None
                        else f"{run.seconds_left / 3600:.2f} h ({run.rate_source})")
            resumed = f", resumed at iteration {run.iterations_done}" if run.partial else ""
            spans = ("; longer than this session, it goes on from its checkpoint next session"
                     if not run.partial and planner.spans_sessions(run, window) else "")
            log(f"{planner.key(run)}: starting{resumed}; estimated {estimate}, "
                f"{left / 3600:.2f} h to the deadline{spans}")
        return run

    def finished(name: str, status: str):
        outcome[name] = status
        log(f"{name}: {status}")

    def summary() -> None:
        """What the session's workers did: the iterations trained here, against the
        single-worker benchmark (the efficiency a session's note reports)."""
        trained = [(run.config, *cost.trained_since(run.config, run.sweep, run.iterations_done,
                                                    results_root, checkpoint_root))
                   for run in given]
        trained = [row for row in trained if row[1]]
        log(cost.tally("this queue", trained, results_root, cpu).describe() if trained
            else "this queue: no iteration trained")

    if workers == 0:
        while (run := next_task()) is not None:
            finished(planner.key(run), _claimed_run(run.config, run.sweep, results_root,
                                                    checkpoint_root, None, until, clock))
        summary()
        return outcome

    import multiprocessing as mp

    executor = LocalExecutor(workers)
    ctx = mp.get_context("spawn")
    queues, events = [ctx.Queue() for _ in range(executor.num_workers)], ctx.Queue()
    processes = executor.start_workers(ctx, queues, events, results_root, checkpoint_root)

    def give(worker: int):  # the worker's next run, or its end
        run = next_task()
        if run is None:
            queues[worker].put(None)
        else:
            busy[worker] = planner.key(run)
            queues[worker].put((run.sweep, run.config.to_dict(), until))

    try:
        for worker in range(len(queues)):
            give(worker)
        while busy:
            kind, event = next_event(events, processes)
            for worker in [w for w in busy if not processes[w].is_alive()]:
                finished(busy.pop(worker), f"failed: worker {worker} died (rerun to resume)")
            if kind != "finished":
                continue
            worker = event["worker"]
            busy.pop(worker, None)
            finished(f"{event['sweep']}/{event['run_id']}", event["status"])
            give(worker)
    finally:
        stop_workers(processes)
    summary()
    return outcome
