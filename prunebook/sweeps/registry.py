"""The book's named sweeps: what each chapter's figures are computed from.

`online_cpu` is the Fig 1 analogue (DQN and compact Rainbow x widths {1, 3, 5} x {dense,
95% GMP}) plus the Fig 3 analogue (DQN at width 3 x sparsity {0, 0.9, 0.95, 0.99}; its dense
and 95% runs are shared with Fig 1), on four MinAtar games x 3 seeds at the `cpu` preset.

`online_std` (chapter 5) is the core comparison at MinAtar's standard budget (`std` preset:
5M agent steps, sticky actions, 27,000-step episode cap): DQN x widths {1, 5} x {dense, 95%}
on Asterix, Breakout, Seaquest and SpaceInvaders x 3 seeds, queued so that both widths of a
game finish together. `rainbow_vmax100` (chapter 2's sensitivity check) reruns compact
Rainbow x {1, 5} x {dense, 95%} on Breakout and SpaceInvaders with a C51 support of
[-100, 100] instead of [-10, 10]; it borrows `online_cpu`'s dense x1 DQN runs as its
normalisation reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prunebook.config import ConfigError, offline_preset_config
from prunebook.spec import (
    BOOK_GAMES,
    BOOK_SEEDS,
    OFFLINE_AGENTS,
    PAPER_15_GAMES,
    PAPER_SEEDS,
    STD_GAMES,
)
from prunebook.sweeps import cost
from prunebook.sweeps.grid import Grid, Sweep

VMAX_CHECK_GAMES = ("Breakout", "SpaceInvaders")
VMAX_CHECK_V_MAX = 100.0


def online_sweep(preset: str = "cpu", games=BOOK_GAMES, seeds=BOOK_SEEDS, widths=(1, 3, 5),
                 name: str | None = None, **overrides) -> Sweep:
    extra = tuple(sorted(overrides.items()))
    fig1 = Grid(("dqn", "rainbow"), games, widths, (0.0, 0.95), seeds, preset, extra)
    middle = widths[len(widths) // 2]
    fig3 = Grid(("dqn",), games, (middle,), (0.0, 0.9, 0.95, 0.99), seeds, preset, extra)
    return Sweep(name or f"online_{preset}", (fig1, fig3))


def standard_budget_sweep(preset: str = "std", games=STD_GAMES, seeds=BOOK_SEEDS,
                          widths=(1, 5), name: str | None = None) -> Sweep:
    grid = Grid(("dqn",), games, widths, (0.0, 0.95), seeds, preset)
    return Sweep(name or f"online_{preset}", (grid,), order="grid")


def vmax_sweep(preset: str = "cpu", games=VMAX_CHECK_GAMES, seeds=BOOK_SEEDS,
               widths=(1, 5), name: str = "rainbow_vmax100") -> Sweep:
    grid = Grid(("rainbow",), games, widths, (0.0, 0.95), seeds, preset,
                (("v_max", VMAX_CHECK_V_MAX),))
    return Sweep(name, (grid,), order="grid")


def offline_sweep(preset: str = "cpu", games: Sequence[str] = BOOK_GAMES,
                  seeds: Sequence[int] = BOOK_SEEDS, widths: Sequence[int] = (1, 3),
                  sparsities: Sequence[float] = (0.0, 0.95, 0.99),
                  agents: Sequence[str] = OFFLINE_AGENTS, name: str | None = None,
                  **overrides: Any):
    """Fig 8 analogue: CQL and CQL+C51 x widths {1, 3} x {dense, 95%, 99%} x 4 MinAtar games
    x 3 seeds (144 runs at `cpu`), named `offline_<preset>`.

    Cost at `cpu`, measured as process CPU time (single-threaded XLA, as the runner's workers)
    on this project's 2-core machine while another sweep kept both cores busy: per gradient
    update (batch 32) CQL w1 0.72 ms, w3 1.62 ms; CQL+C51 w1 1.03 ms, w3 2.42 ms; 10 evaluation
    episodes 0.07-0.17 s; dataset load + compile ~10 s per run; the logging DQN ~5.7 s per 25k
    agent steps. Sweep: 36 runs per (agent, width) x 62,500 updates x (0.72 + 1.62 + 1.03 +
    2.42) ms = 3.6 h; evaluation 144 x 25 x 0.12 s = 0.1 h; load + compile 144 x 10 s = 0.4 h
    (less with `loops.offline.use_compilation_cache`: runs differing only in sparsity or seed
    share compiled code); four 500k-step logging runs 4 x 115 s = 0.13 h. Total about 4.2 CPU
    core-hours (2.1 h on 2 workers). Measured on the whole sweep (2026-11-25, other work sharing
    the cores): 3.25 h in training iterations + 0.07 h logging, 1 h 36 min on 2 workers.
    Run `prepare_sweep` first (`prunebook run` does).
    """
    extra = tuple(sorted(overrides.items()))
    grid = Grid(tuple(agents), tuple(games), tuple(widths), tuple(sparsities), tuple(seeds),
                preset, extra, make_config=offline_preset_config)
    return Sweep(name or f"offline_{preset}", (grid,))


SWEEPS = {
    "online_cpu": lambda: online_sweep("cpu"),
    "online_std": lambda: standard_budget_sweep("std"),
    "rainbow_vmax100": lambda: vmax_sweep("cpu"),
    "online_ci": lambda: online_sweep("ci", games=("Breakout",), seeds=(0,), widths=(1, 2, 3)),
    "online_paper": lambda: online_sweep("paper", games=PAPER_15_GAMES, seeds=PAPER_SEEDS),
    "offline_cpu": lambda: offline_sweep("cpu"),
    "offline_ci": lambda: offline_sweep("ci", games=("Breakout",), seeds=(0,)),
}


BOOK_SWEEPS = ("online_cpu", "offline_cpu", "online_std", "rainbow_vmax100")
"""The sweeps the book shows (each has a cost table on the Performance page)."""


COST_PRIORS = {"online_std": "online_cpu", "rainbow_vmax100": "online_cpu"}
"""Whose measured rate (seconds per agent step) estimates a sweep's groups before its own
first run of that group finishes."""


def cost_rows(name: str, results_root="results") -> list:
    """`cost.cost_estimate` of a named sweep, with its cost prior (what `prunebook status`
    prints and `make claims` writes to the Performance page)."""
    prior = COST_PRIORS.get(name)
    return cost.cost_estimate(get_sweep(name), results_root,
                              prior=get_sweep(prior) if prior else None)


def get_sweep(name: str) -> Sweep:
    if name not in SWEEPS:
        raise ConfigError(f"sweep={name!r} is not defined; choose one of {sorted(SWEEPS)}")
    return SWEEPS[name]()
