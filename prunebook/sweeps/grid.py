"""Named grids of runs: `Grid` (agents x games x widths x sparsities x seeds at one preset) and
`Sweep` (a named set of grids and the order its runs are queued in)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from prunebook.config import ConfigError, RunConfig, preset_config


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


SWEEP_ORDERS = ("longest_first", "grid", "grids")


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A named set of grids. `order` is the queue: within each seed, "longest_first" (fewest
    idle workers at the end) or "grid" (the grids' own order: seed, agent, game, width,
    sparsity, so the runs one comparison needs finish together); or "grids": grid by grid,
    each over all its seeds, so that the comparisons of the first grids complete first."""

    name: str
    grids: Sequence[Grid]
    order: str = "longest_first"
    # (field, allowed values) pairs: run only these of the sweep's runs (`prunebook run
    # --sweep S --widths 1`), e.g. the short runs when a session cannot finish a long one
    only: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def __post_init__(self):
        if self.order not in SWEEP_ORDERS:
            raise ConfigError(f"order={self.order!r} is not allowed; choose one of "
                              f"{list(SWEEP_ORDERS)}")

    def configs(self) -> list[RunConfig]:
        """All runs, deduplicated (grids may overlap), seed-major so early seeds finish first."""
        seen: dict[str, RunConfig] = {}
        for config in (c for grid in self.grids for c in grid.configs()):
            if all(getattr(config, field) in allowed for field, allowed in self.only):
                seen.setdefault(config.run_id, config)
        runs = list(seen.values())
        if self.order == "grids":
            return runs
        if self.order == "grid":
            return sorted(runs, key=lambda c: c.seed)  # stable: grid order within a seed
        return sorted(runs, key=lambda c: (c.seed, -_cost_weight(c)))


def _cost_weight(config: RunConfig) -> float:
    """Rough relative cost (measured: update time grows ~ width^1.3) for longest-first order."""
    factor = {"rainbow": 1.3, "cql_c51": 1.5}.get(config.agent, 1.0)
    return run_units(config) * config.width ** 1.3 * factor


def run_units(config) -> int:
    """Progress units of a run (`config.progress_unit`: agent steps online, gradient updates
    offline)."""
    return config.num_iterations * config.iteration_units
