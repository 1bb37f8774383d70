"""What one unit of progress (an agent step; an update offline) costs on a CPU model: measured
on a sweep's finished runs (`rates_of`, per (agent, width); `game_rates_here`, per game), or
from the single-worker benchmark (`benchmark_rates`) at a sweep's measured efficiency
(`benchmarked_rate`). The queue's estimates and the cost tables price runs with these."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prunebook.config import config_from_dict
from prunebook.sweeps import store
from prunebook.sweeps.grid import run_units


@dataclasses.dataclass(frozen=True)
class Rate:
    """Seconds per progress unit of one (agent, width), and where the number comes from."""

    seconds_per_unit: float
    source: str  # e.g. "online_std on this CPU", "online_cpu (prior)", "x5 scaled to x10"
    cpu: str = ""  # asked for one CPU model: "this CPU" or "another CPU", where it was measured


def measured_rates(sweep: str, results_root: Path | str, cpu: str | None = None
                   ) -> dict[tuple[str, int], Rate]:
    """`rates_of` the finished runs of `sweep` (the queue's estimates read this)."""
    return rates_of(store.scan(results_root, sweep)[0].values(), sweep, cpu)


def pace_totals(records: Iterable[dict], key: Callable[[Any, dict], tuple | None]
                ) -> dict[tuple, tuple[float, float, int]]:
    """Per `key(config, record)` (None: leave the record out): the finished runs' total
    `wall_clock_s`, total progress units and run count. The one place a rate is measured:
    every table of seconds per unit (`rates_of`, the planner's per-game rates) divides these."""
    totals: dict[tuple, list] = {}
    for record in records:
        if not record.get("wall_clock_s"):
            continue  # made before runs timed their iterations
        config = config_from_dict(record["config"])
        group = key(config, record)
        if group is None:
            continue
        total = totals.setdefault(group, [0.0, 0.0, 0])
        total[0] += float(record["wall_clock_s"])
        total[1] += run_units(config)
        total[2] += 1
    return {group: tuple(total) for group, total in totals.items()}


def rates_of(records: Iterable[dict], sweep: str, cpu: str | None = None
             ) -> dict[tuple[str, int], Rate]:
    """Per (agent, width): seconds per progress unit of `sweep`'s finished runs' `records`;
    with `cpu`, from the runs made on that CPU model (a record's `device`) where there are
    any. The queue's estimates and the cost tables use it."""
    totals = pace_totals(records, lambda config, record: (
        config.agent, config.width, cpu is None or record.get("device") == cpu))
    rates = {}
    for (agent, width, here), (seconds, units, _) in sorted(totals.items(),
                                                            key=lambda kv: kv[0][2]):
        # sorted so that this CPU's numbers (here=True) overwrite other machines'
        where = "" if cpu is None else "this CPU" if here else "another CPU"
        rates[(agent, width)] = Rate(seconds / units, f"{sweep} on {where}" if where else sweep,
                                     where)
    return rates


def game_rates_here(records: Iterable[dict], sweep: str, cpu: str
                    ) -> dict[tuple[str, int, str], Rate]:
    """Per (agent, width, game): seconds per progress unit of `sweep`'s finished runs'
    `records` made on `cpu`, the most specific measure the queue has (`rates_of` is the
    same per (agent, width)). A game's pace here can differ from its benchmark's by more
    than the sweep's mean efficiency says (Seaquest x5 trained 1-6% faster than its benchmark
    while the sweep as a whole ran at 94%)."""
    totals = pace_totals(records, lambda config, record: (
        (config.agent, config.width, config.game) if record.get("device") == cpu else None))
    return {key: Rate(seconds / units, f"{key[2]}'s {runs} finished run{'s' * (runs > 1)} "
                      f"of {sweep} on this CPU", "this CPU")
            for key, (seconds, units, runs) in totals.items()}


def benchmarked_rate(config, benchmarks: dict[str, float], sweep_efficiency: float | None,
                     sweep: str) -> Rate | None:
    """Seconds per agent step of `config` from its own game's benchmark on this CPU
    (`benchmarks`), at the share of it the sweep's workers measured here; None without either.
    A group's measured rate averages whichever games finished: one agent step costs about 2x
    more in Seaquest than in Breakout, which put a Seaquest x1 run at half its real time."""
    steps_per_s = benchmark_rate(benchmarks, config)
    if not steps_per_s or not sweep_efficiency:
        return None
    return Rate(1.0 / (steps_per_s * sweep_efficiency),
                f"{config.game}'s benchmark at {sweep}'s {100 * sweep_efficiency:.0f}% on this CPU",
                "this CPU")


BENCHMARKS_FILE = "throughput.json"
"""Single-worker agent steps/s per CPU model (`benchmarks/minatar_throughput.py --record`),
in the results root: what a worker's measured speed is compared with."""


def benchmark_rates(results_root: Path | str, cpu: str) -> dict[str, float]:
    """{benchmark key: agent steps/s} measured on `cpu` by one pinned, single-threaded worker;
    {} when this CPU was never measured."""
    path = Path(results_root) / BENCHMARKS_FILE
    if not path.exists():
        return {}
    try:
        table = json.loads(path.read_text())
    except ValueError as error:
        raise store.ResultsFileError(path, f"not valid JSON ({error})") from error
    return dict(table.get("cpus", {}).get(cpu, {}).get("agent_steps_per_s", {}))


def benchmark_key(preset: str, agent: str, width: int, game: str, sparsity: float = 0.0) -> str:
    """"<preset>/<agent>/x<width>/<game>", plus "/s<sparsity>" for a pruned benchmark. Per
    game: one agent step costs up to about 2x more in some games than in others."""
    key = f"{preset}/{agent}/x{width}/{game}"
    return f"{key}/s{sparsity:g}" if sparsity else key


def benchmark_rate(rates: dict[str, float], config) -> float | None:
    """The benchmark for `config`'s (preset, agent, width, game): at its final sparsity where
    that was measured, else dense (the same `gmp` code runs both); None if neither was."""
    args = (config.preset, config.agent, config.width, config.game)
    sparsity = getattr(config, "final_sparsity", 0.0)
    return rates.get(benchmark_key(*args, sparsity)) or rates.get(benchmark_key(*args))
