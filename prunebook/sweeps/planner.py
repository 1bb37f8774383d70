"""One work queue over several sweeps, with a deadline: what a session's workers train next.

A free worker resumes a run whose checkpoint is on disk first (its progress would otherwise wait
for a later session), else starts the next run, in the sweeps' order, whose estimated training
time fits before the deadline (a run longer than the whole session starts in its turn and
goes on from its checkpoint next session). A partial run is estimated at its own pace. A fresh
one at the pace of the finished runs of its (sweep, agent, width, game) on this CPU model;
else at its game's single-worker benchmark on this CPU model, slowed to the sweep's measured
efficiency here, where both exist; else at the seconds per progress unit measured on finished
runs of the same (sweep, agent, width), preferring runs made on this CPU model, then the
sweep's cost prior (`registry.describe(name).cost_prior`), then the nearest measured width
scaled linearly (an extrapolation, marked as such). Nothing here trains or waits: it reads
results and checkpoints (and, like every sweep, restores a finished run's cached copy), so the
executor (`prunebook.sweeps.local.run_queue`), `prunebook status` and the tests share it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from prunebook.config import ConfigError
from prunebook.sweeps import lottery, store
from prunebook.sweeps.checkpoints import (
    claim_path,
    finished_state,
    lock_alive,
)
from prunebook.sweeps.cost import efficiency, run_progress
from prunebook.sweeps.grid import Sweep
from prunebook.sweeps.rates import (
    Rate,
    benchmark_rates,
    benchmarked_rate,
    game_rates_here,
    measured_rates,
    rates_of,
)
from prunebook.sweeps.registry import describe, get_sweep


@dataclasses.dataclass(frozen=True)
class QueuedRun:
    """A run the queue may give a worker: its sweep, config, and the training seconds it
    should still take (None: nothing to estimate from)."""

    sweep: str
    config: Any
    seconds_left: float | None
    iterations_done: int = 0  # > 0: a partial run, resumed from its checkpoint
    rate_source: str = ""

    @property
    def partial(self) -> bool:
        return self.iterations_done > 0

    @property
    def seconds_per_iteration(self) -> float | None:
        """What one more iteration should take: a run started with less time left than this
        trains nothing before the deadline, and runs one iteration past it."""
        if self.seconds_left is None:
            return None
        return self.seconds_left / max(self.config.num_iterations - self.iterations_done, 1)


def rate_for(agent: str, width: int, tables: Sequence[dict[tuple[str, int], Rate]]
             ) -> Rate | None:
    """The first table with (agent, width) measured; else the nearest measured width of the
    agent in the first table that has one, scaled by the width ratio (the conv and flatten
    work grow about linearly with width at these sizes: x10 about twice x5)."""
    for table in tables:
        if (agent, width) in table:
            return table[(agent, width)]
    for table in tables:
        widths = sorted((w for a, w in table if a == agent), key=lambda w: (abs(w - width), -w))
        if widths:
            near = table[(agent, widths[0])]
            return Rate(near.seconds_per_unit * width / widths[0],
                        f"{near.source}, x{widths[0]} scaled to x{width}", near.cpu)
    return None


def pending(sweeps: Sequence[Sweep], results_root: Path | str, checkpoint_root: Path | str,
            cpu: str) -> list[QueuedRun]:
    """The runs left in `sweeps`, in queue order (partial runs first, then each sweep's own
    order), with their estimated seconds left. Runs another live process holds, and lottery
    runs whose donor's masks are not there yet, are left out."""
    partial, fresh = [], []
    benchmarks = benchmark_rates(results_root, cpu)
    for sweep in sweeps:
        prior = describe(sweep.name).cost_prior
        speed = (efficiency(sweep, results_root, checkpoint_root, cpu).efficiency
                 if benchmarks else None)
        records = list(store.scan(results_root, sweep.name)[0].values())  # read once, for both
        games_here = game_rates_here(records, sweep.name, cpu)
        tables = [rates_of(records, sweep.name, cpu)]
        if prior:
            tables.append(measured_rates(prior, results_root, cpu))
        for config in sweep.configs():
            if finished_state(config, sweep.name, results_root, checkpoint_root)[0] != "train":
                continue
            if getattr(config, "mask_method", "") == "lottery" and not lottery.masks_path(
                    results_root, sweep.name, lottery.donor_config(config).run_id).exists():
                continue  # its donor has not finished: it would fail now
            if lock_alive(claim_path(Path(checkpoint_root), sweep.name, config.run_id)):
                continue
            progress = run_progress(config, sweep.name, checkpoint_root)
            done = progress[0].iterations_done if progress else 0
            if done and progress[0].finish_s is not None:  # the run's own pace so far
                seconds, source = progress[0].finish_s, "its checkpoint"
            else:
                rate = (games_here.get((config.agent, config.width, config.game))
                        or benchmarked_rate(config, benchmarks, speed, sweep.name)
                        or rate_for(config.agent, config.width, tables))
                left_units = (config.num_iterations - done) * config.iteration_units
                seconds = None if rate is None else rate.seconds_per_unit * left_units
                source = rate.source if rate else "no measured rate"
            run = QueuedRun(sweep.name, config, seconds, done, source)
            (partial if done else fresh).append(run)
    return partial + fresh


def choose(queue: Sequence[QueuedRun], seconds_left: float, taken: Iterable[str] = (),
           window: float | None = None) -> QueuedRun | None:
    """The next run for a free worker: the first partial run, else the first run whose
    estimate fits in `seconds_left` (a run with no estimate never does). `window`: the whole
    session's seconds (deadline minus the queue's start); a run estimated longer than that
    can never finish within one session, so it starts in its turn and goes on from its
    checkpoint next session (deferring it would leave it unstarted forever). A partial run,
    or one that spans sessions, starts only while one of its iterations still fits; else a
    shorter run that fits may take the time.
    `taken`: run keys (`key(run)`) already given to a worker."""
    taken = set(taken)
    free = [run for run in queue if key(run) not in taken]

    def one_iteration_fits(run: QueuedRun) -> bool:
        return run.seconds_per_iteration is None or run.seconds_per_iteration <= seconds_left

    for run in free:
        if run.partial and one_iteration_fits(run):
            return run
    for run in free:
        if run.seconds_left is not None and (
                run.seconds_left <= seconds_left
                or spans_sessions(run, window) and one_iteration_fits(run)):
            return run
    return None


def spans_sessions(run: QueuedRun, window: float | None) -> bool:
    """Whether `choose` started `run` because it outlasts a whole session."""
    return (window is not None and run.seconds_left is not None
            and run.seconds_left > window)


def key(run: QueuedRun) -> str:
    return f"{run.sweep}/{run.config.run_id}"


def sweeps_named(names: Sequence[str], only: tuple = ()) -> list[Sweep]:
    """The named sweeps (validated before any compute), each restricted by `only`."""
    if not names:
        raise ConfigError("--sweeps needs at least one sweep name")
    return [dataclasses.replace(get_sweep(name), only=only) for name in names]


_RELATIVE = re.compile(r"^\+(?:(\d+)h)?(?:(\d+)m)?$")


def parse_until(text: str, now: dt.datetime) -> dt.datetime:
    """`--until`: "HH:MM" (the next such time, in `now`'s time zone), an ISO date-time, or
    "+2h30m" / "+90m" from `now`."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative and any(relative.groups()):
        hours, minutes = (int(g or 0) for g in relative.groups())
        return now + dt.timedelta(hours=hours, minutes=minutes)
    try:
        clock = dt.time.fromisoformat(text) if len(text) <= 8 else None
    except ValueError:
        clock = None
    if clock is not None:
        until = now.replace(hour=clock.hour, minute=clock.minute, second=clock.second,
                            microsecond=0)
        return until if until > now else until + dt.timedelta(days=1)
    try:
        until = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--until={text!r}: use HH:MM, an ISO date-time "
                          "(2026-12-06T09:30) or +2h30m") from None
    if until.tzinfo is None:
        until = until.replace(tzinfo=now.tzinfo)
    if until <= now:
        raise ConfigError(f"--until={text!r} is already past (now {now:%Y-%m-%d %H:%M})")
    return until
