"""What a sweep has done and what is left: run states (`sweep_status`) and the cost measured on
finished runs (`cost_estimate`), as `prunebook status` prints it and the Performance page shows."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from prunebook.sweeps import store
from prunebook.sweeps.checkpoints import (
    DEFAULT_CHECKPOINT_ROOT,
    checkpoint_meta,
    checkpoint_path,
    claim_path,
    file_state,
    lock_alive,
    record_state,
)
from prunebook.sweeps.grid import Sweep, run_units
from prunebook.sweeps.rates import benchmark_rate, benchmark_rates, measured_rates, rates_of


def sweep_status(sweep: Sweep, results_root: Path | str = "results",
                 checkpoint_root: Path | str = DEFAULT_CHECKPOINT_ROOT) -> dict[str, list[str]]:
    """Run ids per state: done (a valid results file of this run), running, partial, left;
    and "bad": "file: problem" for every results file of the sweep's folder that cannot be
    used (its run, if planned, is counted as running, partial or left)."""
    status: dict[str, list[str]] = {"done": [], "running": [], "partial": [], "left": [],
                                    "bad": []}
    _, bad = store.scan(Path(results_root), sweep.name)
    for config in sweep.configs():
        lock = claim_path(Path(checkpoint_root), sweep.name, config.run_id)
        path = store.run_path(Path(results_root), sweep.name, config.run_id)
        state = "missing" if not path.exists() else file_state(path, config, sweep.name)
        if state == "finished":
            status["done"].append(config.run_id)
            continue
        if state != "missing" and path not in bad:
            bad[path] = state
        if lock.exists() and lock_alive(lock):
            status["running"].append(config.run_id)
        elif checkpoint_path(Path(checkpoint_root), sweep.name, config.run_id).exists():
            status["partial"].append(config.run_id)
        else:
            status["left"].append(config.run_id)
    status["bad"] = [f"{path}: {problem}" for path, problem in sorted(bad.items())]
    return status


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
    rate_cpu: str = ""  # with a `cpu`: "this CPU" or "another CPU", where the rate was measured


def cost_estimate(sweep: Sweep, results_root: Path | str = "results",
                  prior: Sweep | None = None, cpu: str | None = None) -> list[GroupCost]:
    """Per (agent, width): seconds per progress unit measured on finished runs (their
    `wall_clock_s`), applied to the units of the runs not finished yet. Runs already partway are
    counted whole, so the estimate is an upper bound for them. A bad results file (see
    :func:`sweep_status`) counts as not finished. A group with no finished run yet borrows the
    rate of the same (agent, width) in `prior` (e.g. `online_std` from `online_cpu`: seconds per
    agent step), marked in `rate_from`, until its own first run finishes. With `cpu`, the runs
    left are costed at that CPU model's rate where it finished runs of the group (what the
    queue on this machine will take), marked in `rate_cpu`; the done columns count every run."""
    records, _ = store.scan(results_root, sweep.name)  # one read of each results file
    own = rates_of(records.values(), sweep.name, cpu)
    borrowed = measured_rates(prior.name, results_root, cpu) if prior is not None else {}
    groups: dict[tuple[str, int], dict[str, float]] = {}
    for config in sweep.configs():
        g = groups.setdefault((config.agent, config.width),
                              dict(done=0, done_s=0.0, done_units=0, left=0, left_units=0,
                                   each=[]))
        record = records.get(store.run_path(Path(results_root), sweep.name, config.run_id))
        if record is not None and record_state(record, config, sweep.name) == "finished":
            seconds = float(record.get("wall_clock_s") or 0.0)
            g["done"] += 1
            g["done_s"] += seconds
            g["each"].append(seconds)
            g["done_units"] += run_units(config)
        else:
            g["left"] += 1
            g["left_units"] += run_units(config)
    rows = []
    for (agent, width), g in groups.items():
        rate, rate_from = own.get((agent, width)), ""
        if rate is None and (agent, width) in borrowed:
            rate, rate_from = borrowed[(agent, width)], prior.name
        left_s = (0.0 if not g["left"] else
                  None if rate is None else rate.seconds_per_unit * g["left_units"])
        rows.append(GroupCost(agent, width, int(g["done"]), g["done_s"], int(g["left"]), left_s,
                              min(g["each"], default=None), max(g["each"], default=None),
                              rate_from, int(g["done_units"]), rate.cpu if rate else ""))
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
        notes = [f"at {r.rate_from}'s rate per step"] if r.rate_from else []
        notes += [f"measured on {r.rate_cpu}"] if r.rate_cpu else []
        if notes:
            left_h += f"  ({', '.join(notes)})"
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


@dataclasses.dataclass(frozen=True)
class Progress:
    """A run in progress, from its checkpoint: iterations done, its pace, its expected end."""

    run_id: str
    iterations_done: int
    num_iterations: int
    units_per_s: float | None
    finish_s: float | None  # seconds from the checkpoint's time to the run's end, at its pace

    def describe(self, saved_at: float, *, running: bool) -> str:
        """One line for `prunebook status`. A stopped run has no finish time, only the time
        it needs once a worker resumes it (its checkpoint's age says nothing of when)."""
        pace = f"{self.units_per_s:,.0f} steps/s" if self.units_per_s else "pace unknown"
        if self.finish_s is None:
            eta = ""
        elif running:
            eta = ", finishes about " + time.strftime("%H:%M",
                                                      time.localtime(saved_at + self.finish_s))
        else:
            eta = f", about {self.finish_s / 3600:.2f} h left once resumed"
        return f"{self.run_id}: iteration {self.iterations_done}/{self.num_iterations}, {pace}{eta}"


def run_progress(config, sweep: str, checkpoint_root: Path | str) -> tuple[Progress, float] | None:
    """(`Progress`, the time its finish is reckoned from) of a partial or running run: its
    checkpoint's modification time, or its worker's claim when later (a run resumed this
    session that has not saved yet; from its old checkpoint, its finish would lie in the past)."""
    ckpt = checkpoint_path(Path(checkpoint_root), sweep, config.run_id)
    meta = checkpoint_meta(ckpt)
    if meta is None:
        return None
    done = len(meta["iterations"])
    units = done * config.iteration_units
    pace = units / meta["wall_s"] if meta.get("wall_s") else None
    left = (config.num_iterations - done) * config.iteration_units
    since = ckpt.stat().st_mtime
    with contextlib.suppress(FileNotFoundError):  # no claim: nobody trains it now
        since = max(since, claim_path(Path(checkpoint_root), sweep,
                                      config.run_id).stat().st_mtime)
    return (Progress(config.run_id, done, config.num_iterations, pace,
                     left / pace if pace else None), since)


@dataclasses.dataclass(frozen=True)
class Efficiency:
    """A sweep's measured training speed on one CPU model against the single-worker benchmark
    of each run's own game and width: `efficiency` = benchmark seconds for the units trained /
    seconds the workers took, over the runs whose group has a benchmark."""

    sweep: str
    runs: int
    units: int
    seconds: float
    benchmarked_runs: int = 0  # runs whose (preset, agent, width, game) has a benchmark
    benchmarked_seconds: float = 0.0
    benchmark_seconds: float = 0.0

    @property
    def efficiency(self) -> float | None:
        return (self.benchmark_seconds / self.benchmarked_seconds
                if self.benchmarked_runs and self.benchmarked_seconds else None)

    def describe(self) -> str:
        if not self.runs:
            return f"{self.sweep}: no run trained on this CPU model yet"
        speed = f"{self.units / self.seconds:,.0f} agent steps/s per worker"
        if self.efficiency is None:
            eff = ("no single-worker benchmark for this CPU model (run benchmarks/"
                   "minatar_throughput.py --record)")
        else:
            scope = ("" if self.benchmarked_runs == self.runs
                     else f" (over the {self.benchmarked_runs} of {self.runs} runs whose game "
                          "and width have a benchmark)")
            eff = f"{100 * self.efficiency:.0f}% of the single-worker benchmark{scope}"
        return (f"{self.sweep}: {self.runs} runs on this CPU model, "
                f"{self.seconds / 3600:.2f} core-hours, {speed}, {eff}")


def tally(name: str, trained: Iterable[tuple[Any, int, float]], results_root: Path | str,
          cpu: str) -> Efficiency:
    """`Efficiency` of (config, units trained, seconds) triples made on `cpu`."""
    bench = benchmark_rates(results_root, cpu)
    runs = units = benchmarked = 0
    seconds = benchmarked_s = bench_s = 0.0
    for config, done_units, done_seconds in trained:
        runs, units, seconds = runs + 1, units + done_units, seconds + done_seconds
        rate = benchmark_rate(bench, config)
        if rate:
            benchmarked, benchmarked_s = benchmarked + 1, benchmarked_s + done_seconds
            bench_s += done_units / rate
    return Efficiency(name, runs, units, seconds, benchmarked, benchmarked_s, bench_s)


def iterations_of(config, sweep: str, results_root: Path | str,
                  checkpoint_root: Path | str) -> list[dict]:
    """A run's iteration log as far as it got: its finished record's, else its checkpoint's
    (empty when there is neither)."""
    path = store.run_path(Path(results_root), sweep, config.run_id)
    if path.exists() and file_state(path, config, sweep) == "finished":
        return store.read_run(path)["iterations"]
    meta = checkpoint_meta(checkpoint_path(Path(checkpoint_root), sweep, config.run_id))
    return meta["iterations"] if meta else []


def trained_since(config, sweep: str, from_iteration: int, results_root: Path | str,
                  checkpoint_root: Path | str) -> tuple[int, float]:
    """(units, seconds in training iterations) a run trained from iteration `from_iteration`
    on: what one session's workers did to it."""
    new = iterations_of(config, sweep, results_root, checkpoint_root)[from_iteration:]
    return len(new) * config.iteration_units, sum(float(it["wall_s"]) for it in new)


def efficiency(sweep: Sweep, results_root: Path | str, checkpoint_root: Path | str,
               cpu: str) -> Efficiency:
    """Over the sweep's finished runs made on `cpu` and its checkpointed ones (on this
    machine): units trained, seconds in training iterations, and the benchmark's seconds."""
    rows = []
    for config in sweep.configs():
        path = store.run_path(Path(results_root), sweep.name, config.run_id)
        trained = None
        if path.exists() and file_state(path, config, sweep.name) == "finished":
            record = store.read_run(path)
            if record.get("device") == cpu and record.get("wall_clock_s"):
                trained = (run_units(config), float(record["wall_clock_s"]))
        else:
            meta = checkpoint_meta(checkpoint_path(Path(checkpoint_root), sweep.name,
                                                   config.run_id))
            if meta and meta.get("wall_s"):
                trained = (len(meta["iterations"]) * config.iteration_units, meta["wall_s"])
        if trained is None:
            continue
        rows.append((config, *trained))
    return tally(sweep.name, rows, results_root, cpu)
