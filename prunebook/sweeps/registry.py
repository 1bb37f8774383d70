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
normalisation reference, and its verdicts are set beside `online_cpu`'s Rainbow verdicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from prunebook.config import (
    ConfigError,
    baseline_settings,
    offline_preset_config,
    preset_config,
)
from prunebook.spec import (
    BASELINES,
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


CONTROL_WIDTH = 5  # the width of chapter 6's controls (the paper's widest)
CONTROL_SPARSITY = 0.95


def controls_sweep(preset: str = "cpu", games=BOOK_GAMES, seeds=BOOK_SEEDS,
                   name: str | None = None) -> Sweep:
    """Chapter 6's controls at equal size (DQN, 9 configurations per game and seed):

    GMP x5 at 50/80/90%, x10 dense and x10 at 95% (equal kept weights: x10 at 95% keeps about
    as many as x5 at 90%, x5 at 80% about as many as dense x1), static random 95% at x1 and
    x5, and the lottery ticket of 95% x5. The comparators (dense and 95% at x1 and x5) are
    borrowed from `online_cpu` (its description's `comparators`). Queued grid by grid, so that the
    pre-registered comparisons complete early: GMP 95% x5 for every seed (the lottery tickets'
    donors, which also rerun `online_cpu`'s runs with the §5 measures) and dense x5 for the
    first seed (the same check); static random x1 and x5; the lottery tickets, after their
    donors; x5 at 50/80/90%; x10 dense and at 95% last (the costliest). The order changes no
    rule.
    """
    w, s = CONTROL_WIDTH, CONTROL_SPARSITY
    grids = [Grid(("dqn",), games, (w,), (s,), seeds, preset),
             Grid(("dqn",), games, (w,), (0.0,), seeds[:1], preset),
             Grid(("dqn",), games, (1, w), (s,), seeds, preset,
                  (("mask_method", "static_random"),)),
             Grid(("dqn",), games, (w,), (s,), seeds, preset, (("mask_method", "lottery"),)),
             Grid(("dqn",), games, (w,), (0.5, 0.8, 0.9), seeds, preset),
             Grid(("dqn",), games, (2 * w,), (0.0, s), seeds, preset)]
    return Sweep(name or f"controls_{preset}", tuple(grids), order="grids")


def controls_ci_sweep(width: int = 2) -> Sweep:
    """Chapter 6's pipeline at preset `ci` in four runs (Breakout, seed 0): the reference
    (dense x1), a GMP 95% donor, its static random and lottery-ticket controls."""
    g, s = ("Breakout",), (0,)
    grids = (Grid(("dqn",), g, (width,), (CONTROL_SPARSITY,), s, "ci"),
             Grid(("dqn",), g, (1,), (0.0,), s, "ci"),
             Grid(("dqn",), g, (width,), (CONTROL_SPARSITY,), s, "ci",
                  (("mask_method", "static_random"),)),
             Grid(("dqn",), g, (width,), (CONTROL_SPARSITY,), s, "ci",
                  (("mask_method", "lottery"),)))
    return Sweep("controls_ci", grids, order="grid")


def baselines_sweep(preset: str = "cpu", games=BOOK_GAMES, seeds=BOOK_SEEDS,
                    widths=(1, 3, 5), with_comparators: bool = False,
                    name: str | None = None) -> Sweep:
    """Chapter 7 (the paper's Fig 12): dense DQN with each of weight decay, L2, Reset and ReDo
    (`config.baseline_settings`, scaled to the preset's run length) x `widths` x games x
    seeds. The comparators (dense and 95% GMP at the same widths) are `online_cpu`'s at `cpu`;
    `with_comparators` trains them too (the `ci` version). Queued width by width (every
    method at x1, then x3, then x5), so the cheapest comparisons complete first."""
    shape = preset_config(preset, "dqn")
    grids = [Grid(("dqn",), games, (width,), (0.0,), seeds, preset,
                  tuple(sorted(baseline_settings(method, shape).items())))
             for width in widths for method in BASELINES]
    if with_comparators:
        grids.insert(0, Grid(("dqn",), games, widths, (0.0, 0.95), seeds, preset))
    return Sweep(name or f"baselines_{preset}", tuple(grids), order="grids")


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
    (less with `loops.compilation_cache`: runs differing only in sparsity or seed share
    compiled code); four 500k-step logging runs 4 x 115 s = 0.13 h. Total about 4.2 CPU
    core-hours (2.1 h on 2 workers). Measured on the whole sweep (2026-11-25, other work sharing
    the cores): 3.25 h in training iterations + 0.07 h logging, 1 h 36 min on 2 workers.
    Run `prepare_sweep` first (`prunebook run` does).
    """
    extra = tuple(sorted(overrides.items()))
    grid = Grid(tuple(agents), tuple(games), tuple(widths), tuple(sparsities), tuple(seeds),
                preset, extra, make_config=offline_preset_config)
    return Sweep(name or f"offline_{preset}", (grid,))


@dataclasses.dataclass(frozen=True)
class Description:
    """Everything the book and the tools know about one named sweep, written once.

    `experiment` and `preset` name the sweep from a chapter's side (chapter 6 at preset "ci"
    reads `find("controls", "ci")`); `chapter` is the page its claims link to when that is not
    the claim's own chapter; `comparators` lends its dense and GMP runs to compare with (and
    its normalisation reference); `reference` lends only the reference; `compared_with` is
    the sweep whose verdicts this one's are set beside, each judged on its own runs (never
    pooled, unlike `comparators`); `cost_prior` is whose measured rate estimates this sweep's
    runs before its own first run of a group finishes; `in_book` sweeps have a cost table on
    the Performance page and downloadable scores.
    """

    make: Callable[[], Sweep]
    experiment: str
    preset: str
    chapter: str = ""
    comparators: str | None = None
    reference: str | None = None
    cost_prior: str | None = None
    lent_sparsities: tuple[float, ...] | None = None  # of the comparators, what its chapter shows
    compared_with: str | None = None
    in_book: bool = False

    def __post_init__(self):
        if self.comparators and self.compared_with:  # a chapter reads one other sweep
            raise ConfigError("a sweep has comparators or a sweep it is compared with, not both")

    @property
    def reference_sweep(self) -> str | None:
        """The sweep whose dense x1 DQN runs normalise this one's (None: its own)."""
        return self.reference or self.comparators

    @property
    def lender(self) -> str | None:
        """The other sweep whose runs a chapter of this one reads beside its own."""
        return self.comparators or self.compared_with


DESCRIPTIONS: dict[str, Description] = {
    "online_cpu": Description(lambda: online_sweep("cpu"), "online", "cpu", in_book=True),
    "offline_cpu": Description(lambda: offline_sweep("cpu"), "offline", "cpu", in_book=True),
    "online_std": Description(lambda: standard_budget_sweep("std"), "online", "std",
                              chapter="05_standard_budget", cost_prior="online_cpu",
                              in_book=True),
    "rainbow_vmax100": Description(lambda: vmax_sweep("cpu"), "vmax", "cpu",
                                   chapter="02_pruned_scaling", reference="online_cpu",
                                   compared_with="online_cpu", cost_prior="online_cpu",
                                   in_book=True),
    "controls_cpu": Description(lambda: controls_sweep("cpu"), "controls", "cpu",
                                comparators="online_cpu", cost_prior="online_cpu",
                                in_book=True),
    "baselines_cpu": Description(lambda: baselines_sweep("cpu"), "baselines", "cpu",
                                 comparators="online_cpu", cost_prior="online_cpu",
                                 lent_sparsities=(0.0, 0.95), in_book=True),
    "online_ci": Description(lambda: online_sweep("ci", games=("Breakout",), seeds=(0,),
                                                  widths=(1, 2, 3)), "online", "ci"),
    "online_paper": Description(lambda: online_sweep("paper", games=PAPER_15_GAMES,
                                                     seeds=PAPER_SEEDS), "online", "paper"),
    "offline_ci": Description(lambda: offline_sweep("ci", games=("Breakout",), seeds=(0,)),
                              "offline", "ci"),
    "controls_ci": Description(controls_ci_sweep, "controls", "ci"),
    "baselines_ci": Description(lambda: baselines_sweep("ci", games=("Breakout",), seeds=(0,),
                                                        widths=(1,), with_comparators=True),
                                "baselines", "ci"),
}
"""One description per named sweep: the only place a sweep's name is tied to anything."""

UNDESCRIBED = Description(lambda: Sweep("", ()), "", "")
"""What an ad-hoc sweep (`prunebook run --name ...`) is: no chapter, lender or cost prior."""

BOOK_SWEEPS = tuple(name for name, d in DESCRIPTIONS.items() if d.in_book)
"""The sweeps the book shows (each has a cost table on the Performance page)."""


def describe(name: str) -> Description:
    """A named sweep's description (:data:`UNDESCRIBED` for an ad-hoc one)."""
    return DESCRIPTIONS.get(name, UNDESCRIBED)


def find(experiment: str, preset: str) -> str:
    """The name of the sweep that runs `experiment` at `preset` ("online", "cpu" ->
    "online_cpu"); a `ConfigError` naming the presets it has otherwise."""
    names = [n for n, d in DESCRIPTIONS.items() if (d.experiment, d.preset) == (experiment,
                                                                              preset)]
    if len(names) != 1:
        presets = sorted(d.preset for d in DESCRIPTIONS.values() if d.experiment == experiment)
        raise ConfigError(f"preset={preset!r}: the {experiment!r} experiment has no sweep at "
                          f"that preset; choose one of {presets}")
    return names[0]


def cost_rows(name: str, results_root="results") -> list:
    """`cost.cost_estimate` of a named sweep, with its cost prior (what `prunebook status`
    prints and `make claims` writes to the Performance page)."""
    prior = describe(name).cost_prior
    return cost.cost_estimate(get_sweep(name), results_root,
                              prior=get_sweep(prior) if prior else None)


def get_sweep(name: str) -> Sweep:
    if name not in DESCRIPTIONS:
        raise ConfigError(f"sweep={name!r} is not defined; choose one of "
                          f"{sorted(DESCRIPTIONS)}")
    return DESCRIPTIONS[name].make()
