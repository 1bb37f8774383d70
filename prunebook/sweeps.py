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

from prunebook import runner
from prunebook.config import ConfigError
from prunebook.runner import Grid, Sweep

BOOK_GAMES = ("Asterix", "Breakout", "Freeway", "SpaceInvaders")
BOOK_SEEDS = (0, 1, 2)
STD_GAMES = ("Asterix", "Breakout", "Seaquest", "SpaceInvaders")
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


SWEEPS = {
    "online_cpu": lambda: online_sweep("cpu"),
    "online_std": lambda: standard_budget_sweep("std"),
    "rainbow_vmax100": lambda: vmax_sweep("cpu"),
    "online_ci": lambda: online_sweep("ci", games=("Breakout",), seeds=(0,), widths=(1, 2, 3)),
    "online_paper": lambda: online_sweep("paper", games=_paper_games(), seeds=(0, 1, 2, 3, 4)),
}


BOOK_SWEEPS = ("online_cpu", "offline_cpu", "online_std", "rainbow_vmax100")
"""The sweeps the book shows (each has a cost table on the Performance page)."""


COST_PRIORS = {"online_std": "online_cpu", "rainbow_vmax100": "online_cpu"}
"""Whose measured rate (seconds per agent step) estimates a sweep's groups before its own
first run of that group finishes."""


def cost_rows(name: str, results_root="results") -> list:
    """`runner.cost_estimate` of a named sweep, with its cost prior (what `prunebook status`
    prints and `make claims` writes to the Performance page)."""
    prior = COST_PRIORS.get(name)
    return runner.cost_estimate(get_sweep(name), results_root,
                                prior=get_sweep(prior) if prior else None)


def _offline(preset, **kwargs):
    from prunebook.offline import offline_sweep

    return offline_sweep(preset, **kwargs)


SWEEPS["offline_cpu"] = lambda: _offline("cpu")
SWEEPS["offline_ci"] = lambda: _offline("ci", games=("Breakout",), seeds=(0,))


def _paper_games():
    from prunebook.envs.atari import PAPER_15_GAMES

    return PAPER_15_GAMES


def get_sweep(name: str) -> Sweep:
    if name not in SWEEPS:
        raise ConfigError(f"sweep={name!r} is not defined; choose one of {sorted(SWEEPS)}")
    return SWEEPS[name]()
