"""The book's named sweeps: what each chapter's figures are computed from.

`online_cpu` is the Fig 1 analogue (DQN and compact Rainbow x widths {1, 3, 5} x {dense,
95% GMP}) plus the Fig 3 analogue (DQN at width 3 x sparsity {0, 0.9, 0.95, 0.99}; its dense
and 95% runs are shared with Fig 1), on four MinAtar games x 3 seeds at the `cpu` preset.
"""

from __future__ import annotations

from prunebook.config import ConfigError
from prunebook.runner import Grid, Sweep

BOOK_GAMES = ("Asterix", "Breakout", "Freeway", "SpaceInvaders")
BOOK_SEEDS = (0, 1, 2)


def online_sweep(preset: str = "cpu", games=BOOK_GAMES, seeds=BOOK_SEEDS, widths=(1, 3, 5),
                 name: str | None = None, **overrides) -> Sweep:
    extra = tuple(sorted(overrides.items()))
    fig1 = Grid(("dqn", "rainbow"), games, widths, (0.0, 0.95), seeds, preset, extra)
    middle = widths[len(widths) // 2]
    fig3 = Grid(("dqn",), games, (middle,), (0.0, 0.9, 0.95, 0.99), seeds, preset, extra)
    return Sweep(name or f"online_{preset}", (fig1, fig3))


SWEEPS = {
    "online_cpu": lambda: online_sweep("cpu"),
    "online_ci": lambda: online_sweep("ci", games=("Breakout",), seeds=(0,), widths=(1, 2, 3)),
    "online_paper": lambda: online_sweep("paper", games=_paper_games(), seeds=(0, 1, 2, 3, 4)),
}


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
