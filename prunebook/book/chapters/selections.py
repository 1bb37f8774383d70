"""Which runs a chapter analyses. A chapter names its agents, widths and sparsities; this
module fills in the preset's games, seeds and widths, adds the normalisation reference (dense
width-1 DQN) and checks, against the preset's sweep, that those runs exist, so that a bad
notebook parameter fails with a `ParameterError` before any compute. Everything else in
`prunebook.book.chapters` starts from the :class:`Selection` made here.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from prunebook import spec
from prunebook.book.params import ParameterError
from prunebook.config import RunConfig
from prunebook.spec import (
    ATARI_60_GAMES,
    MINATAR_GAMES,
    PAPER_15_GAMES,
    PAPER_SEEDS,
    REFERENCE_CONFIG,
)
from prunebook.sweeps import registry
from prunebook.sweeps.grid import Grid, Sweep

CI_SEEDS = (0,)
CI_GAMES = ("Breakout",)
CI_WIDTHS = (1, 2)
CONFIG_COLUMNS = ["agent", "width", "sparsity"]


def preset_sweep(preset: str) -> Sweep | None:
    """The named sweep a preset's chapters read (None at "ci": those runs are trained live)."""
    return registry.get_sweep(registry.find("online", preset)) if preset != "ci" else None


def preset_defaults(preset: str) -> dict[str, tuple]:
    """Games, seeds and widths of a preset (what `None` parameters mean)."""

    if preset == "ci":
        return {"games": CI_GAMES, "seeds": CI_SEEDS, "widths": CI_WIDTHS}
    if preset == "cpu":
        return {"games": spec.BOOK_GAMES, "seeds": spec.BOOK_SEEDS, "widths": (1, 3, 5)}
    if preset == "std":
        return {"games": spec.STD_GAMES, "seeds": spec.BOOK_SEEDS, "widths": (1, 5)}
    if preset == "paper":
        return {"games": PAPER_15_GAMES, "seeds": PAPER_SEEDS, "widths": (1, 3, 5)}
    raise ParameterError(f"parameter 'preset' = {preset!r} is not allowed; expected one of "
                         "'ci', 'cpu', 'std', 'paper'")


@dataclasses.dataclass(frozen=True)
class Selection:
    """The runs one chapter analyses: products of (agents, widths, sparsities) over its games
    and seeds at one preset, always including the normalisation reference (dense w1 DQN)."""

    preset: str
    games: tuple[str, ...]
    seeds: tuple[int, ...]
    blocks: tuple[tuple[tuple[str, ...], tuple[int, ...], tuple[float, ...]], ...]

    @property
    def sweep_name(self) -> str:
        return registry.find("online", self.preset)

    @property
    def cells(self) -> list[tuple[str, int, float]]:
        """(agent, width, sparsity) of every configuration, in block order, no duplicates."""
        out = []
        for agents, widths, sparsities in self.blocks:
            for cell in itertools.product(agents, widths, sparsities):
                if cell not in out:
                    out.append(cell)
        return out

    @property
    def agents(self) -> list[str]:
        """The chapter's agents (the first block's; the reference block only adds dqn x1)."""
        return list(self.blocks[0][0])

    @property
    def widths(self) -> list[int]:
        return sorted({w for _, w, _ in self.cells})

    def sweep(self) -> Sweep:
        grids = tuple(Grid(tuple(a), self.games, tuple(w), tuple(s), self.seeds, self.preset)
                      for a, w, s in self.blocks)
        return Sweep(self.sweep_name, grids)

    def configs(self) -> list[RunConfig]:
        return self.sweep().configs()


def selection(preset: str, agents: Sequence[str], widths: Sequence[int] | None,
              sparsities: Sequence[float], games: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None, check: bool = True) -> Selection:
    """A chapter's runs; `None` games/widths/seeds mean the preset's. Raises `ParameterError`
    naming the parameter when the preset's sweep has no such runs, before any compute."""
    defaults = preset_defaults(preset)
    games = tuple(defaults["games"] if games is None else games)
    widths = tuple(defaults["widths"] if widths is None else widths)
    seeds = tuple(defaults["seeds"] if seeds is None else seeds)
    sparsities = tuple(dict.fromkeys(float(s) for s in sparsities))
    blocks = [(tuple(agents), widths, sparsities)]
    if REFERENCE_CONFIG not in itertools.product(agents, widths, sparsities):
        blocks.append(((REFERENCE_CONFIG[0],), (REFERENCE_CONFIG[1],), (REFERENCE_CONFIG[2],)))
    sel = Selection(preset, games, seeds, tuple(blocks))
    if check:
        _check_selection(sel, widths)
    return sel


def _check_selection(sel: Selection, widths: tuple[int, ...]) -> None:
    if sel.preset == "paper":
        allowed_games = ATARI_60_GAMES
    else:
        allowed_games = MINATAR_GAMES
    sweep = preset_sweep(sel.preset)
    if sweep is not None:
        known = {c.run_id: c for c in sweep.configs()}
        allowed_games = sorted({c.game for c in known.values()})
        sweep_widths = sorted({c.width for c in known.values()})
    bad = [g for g in sel.games if g not in allowed_games]
    if bad:
        raise ParameterError(
            f"parameter 'games' = {list(sel.games)!r}: {bad} not available at preset "
            f"{sel.preset!r}; choose from {list(allowed_games)}")
    if sweep is None:
        return
    bad = [w for w in widths if w not in sweep_widths]
    if bad:
        raise ParameterError(
            f"parameter 'widths' = {list(widths)!r}: sweep {sweep.name} has no runs at width "
            f"{bad}; its widths are {sweep_widths}")
    missing = [c.run_id for c in sel.configs() if c.run_id not in known]
    if missing:
        raise ParameterError(
            f"the parameters ask for runs that sweep {sweep.name} does not contain, e.g. "
            f"{missing[0]} ({len(missing)} in all); check 'width' / 'widths' / 'sparsities'")
