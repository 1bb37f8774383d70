"""Every chapter's runs, loaded one way: :func:`load` names an experiment ("online", "offline",
"controls", "baselines", "vmax") and a preset, finds its sweep in `sweeps.registry`, gets a
results root from `source.results_for` (the committed folder, or at preset "ci" runs trained
now) and reads the runs the chapter needs, with the runs its sweep borrows or is compared with,
into one :class:`ChapterData`. Loading never computes statistics; it counts what is there.
Whether a comparison is complete is `prunebook.analysis.claims`' call, never this module's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from prunebook.analysis import normalization
from prunebook.book.chapters import records as rec
from prunebook.book.chapters.selections import CONFIG_COLUMNS, Selection
from prunebook.book.chapters.source import LIVE_PRESET, display_path, results_for
from prunebook.book.params import ParameterError
from prunebook.config import ConfigError
from prunebook.spec import REFERENCE_CONFIG
from prunebook.sweeps import registry, store
from prunebook.sweeps.store import RUN_COLUMNS


@dataclasses.dataclass
class ChapterData:
    """The finished runs a chapter needs, the runs its sweep borrows, and how many there are."""

    sweep: str  # the sweep the chapter reads (`registry.find(experiment, preset)`)
    preset: str
    results_root: Path  # holds `<sweep>/*.json` (at "ci", a temporary folder)
    expected: tuple  # configs of the runs the chapter needs
    records: tuple[dict, ...]  # their finished records (and their `records.companions`)
    runs: pd.DataFrame  # `store.runs_frame` rows (per run and iteration) of records and lent
    measures: pd.DataFrame  # `records.measure_rows` of `records`
    lent: tuple[dict, ...] = ()  # the lender's records the sweep borrows (`registry`)
    lender: str | None = None
    selection: Selection | None = None  # chapters 1-3 and 5: which configurations and seeds
    sweep_done: int | None = None  # finished runs of the whole sweep (None at "ci")
    sweep_total: int | None = None
    cache: dict = dataclasses.field(default_factory=dict, init=False, repr=False,
                                    compare=False)

    # ---- what was read
    @property
    def folder(self) -> str:
        return display_path(self.results_root / self.sweep)

    @property
    def configs(self) -> dict[str, dict]:
        """run_id -> the config stored in its results file (the sweep's own runs)."""
        return {r["run_id"]: r["config"] for r in self.records}

    @property
    def final_sparsity(self) -> dict[str, float | None]:
        """run_id -> measured sparsity in its last iteration."""
        return {r["run_id"]: (r["iterations"][-1] if r["iterations"] else {}).get("sparsity")
                for r in self.records}

    @property
    def code_versions(self) -> set[str]:
        return {rec.short_version(r) for r in self.records}

    @property
    def present(self) -> set[str]:
        return set(self.configs) & {c.run_id for c in self.expected}

    # ---- coverage
    @property
    def cells(self) -> list[tuple[str, int, float]]:
        """(agent, width, sparsity) of every configuration: the selection's order, or sorted."""
        if self.selection is not None:
            return self.selection.cells
        return sorted({(c.agent, c.width, float(c.final_sparsity)) for c in self.expected})

    @property
    def seeds(self) -> tuple[int, ...]:
        if self.selection is not None:
            return self.selection.seeds
        return tuple(sorted({c.seed for c in self.expected}))

    def cell_runs(self, cell) -> list:
        agent, width, sparsity = cell
        return [c for c in self.expected if (c.agent, c.width) == (agent, width)
                and np.isclose(c.final_sparsity, sparsity)]

    def runs_finished(self, cell) -> tuple[int, int]:
        """(finished, needed) runs of one configuration: games x seeds. A count, not a gate:
        whether a comparison can be judged is `analysis.claims`' call."""
        need = self.cell_runs(cell)
        return sum(c.run_id in self.present for c in need), len(need)

    def coverage(self) -> pd.DataFrame:
        """One row per configuration: runs finished of runs needed (games x seeds)."""
        rows = []
        for cell in self.cells:
            agent, width, sparsity = cell
            rows.append({"agent": agent, "width": width,
                         "sparsity": "dense" if sparsity == 0 else f"{sparsity:.0%}",
                         "runs finished": "{} of {}".format(*self.runs_finished(cell))})
        return pd.DataFrame(rows, columns=[*CONFIG_COLUMNS, "runs finished"]
                            ).set_index(CONFIG_COLUMNS)

    @property
    def balanced_seeds(self) -> list[int]:
        """Seeds finished for every configuration and game of the chapter."""
        return [s for s in self.seeds
                if all(c.run_id in self.present for c in self.expected if c.seed == s)]

    # ---- frames
    def final(self, run_ids=None, last_iterations: int = 1) -> pd.DataFrame:
        """Per-run final scores (last iteration, as the paper; more for the robustness check)
        plus each run's `env_steps`, of the sweep's own runs."""
        runs = self.runs[self.runs["sweep"] == self.sweep]
        runs = runs if run_ids is None else runs[runs["run_id"].isin(run_ids)]
        if not len(runs):
            return pd.DataFrame(columns=[*RUN_COLUMNS, "score", "env_steps"])
        final = store.final_scores(runs, last_iterations=last_iterations)
        return final.join(runs.groupby("run_id")["env_steps"].max(), on="run_id")

    def balanced_ids(self) -> list[str]:
        seeds = set(self.balanced_seeds)
        return [c.run_id for c in self.expected if c.seed in seeds]

    def balanced_final(self) -> pd.DataFrame:
        """Normalised final scores of the balanced runs (empty frame if none)."""
        final = self.final(self.balanced_ids())
        return normalization.normalize_frame(final) if len(final) else final

    def balanced_curves(self) -> pd.DataFrame:
        """Per-iteration rows of the balanced runs with a `normalized` training return."""
        ids = self.balanced_ids()
        runs = self.runs[(self.runs["sweep"] == self.sweep) & self.runs["run_id"].isin(ids)]
        if not len(runs):
            return runs
        return normalization.normalize_frame(runs.assign(score=runs["train_return"]),
                                             reference_df=self.final(ids))


def once(data: ChapterData, compute: Callable, *args):
    """`compute(data, *args)`, computed once per container: the frames several cells of a
    chapter share (a new container, `dataclasses.replace` included, starts empty)."""
    key = (compute.__module__, compute.__qualname__, args)
    if key not in data.cache:
        data.cache[key] = compute(data, *args)
    return data.cache[key]


def coverage_summary(data: ChapterData) -> pd.DataFrame:
    """How many runs are there, in numbers: the chapter's runs, its sweep's (when the chapter
    reads part of it), its configurations with every run finished and its balanced seeds
    (chapters with a selection), the runs it borrows."""
    rows = [("runs this chapter needs", len(data.present), len(data.expected), data.folder)]
    if data.sweep_total not in (None, len(data.expected)):  # the chapter reads part of it
        rows.append((f"runs of the sweep {data.sweep}", data.sweep_done, data.sweep_total,
                     data.folder))
    if data.selection is not None:
        counts = [data.runs_finished(cell) for cell in data.cells]
        rows.append(("configurations with every run finished",
                     sum(done == need for done, need in counts), len(counts), ""))
        rows.append(("seeds finished for every configuration and game",
                     len(data.balanced_seeds), len(data.seeds), ""))
    if data.lender is not None:
        lent = {r["run_id"] for r in data.lent} - set(data.configs)
        rows.append((f"comparator runs lent by {data.lender}", len(lent), "—",
                     display_path(data.results_root / data.lender)))
    return pd.DataFrame(rows, columns=["runs", "finished", "of", "folder"]).set_index("runs")


def sweep_of(experiment: str, preset: str) -> str:
    """The sweep an experiment reads at a preset; a bad preset is a `ParameterError`."""
    try:
        return registry.find(experiment, preset)
    except ConfigError as error:
        raise ParameterError(f"parameter {error}") from error


def _progress(sweep: str, preset: str, folder: Path) -> tuple[int | None, int | None]:
    if preset == LIVE_PRESET:
        return None, None
    planned = {c.run_id for c in registry.get_sweep(sweep).configs()}
    done = sum(p.stem in planned for p in folder.glob("*.json")) if folder.is_dir() else 0
    return done, len(planned)


def load(experiment: str, preset: str, runs: Selection | Sequence | None = None,
         results_root: str | Path = "results", executor=None) -> ChapterData:
    """The one loader of every chapter: the runs of `experiment` at `preset` that the chapter
    needs (`runs`: a :class:`Selection`, configs, or None for the whole sweep), read from
    `<results_root>/<sweep>/`, or at preset "ci" trained now (`source.results_for`), and the
    runs of the sweep's lender (`registry.describe(sweep).lender`: its comparators, or the
    sweep it is compared with) of the same agents at its lent sparsities, with the lender's
    reference runs when they normalise this sweep. A bad preset fails before any compute."""
    sweep = sweep_of(experiment, preset)
    selection = runs if isinstance(runs, Selection) else None
    if selection is not None and selection.sweep_name != sweep:
        raise ParameterError(f"the selection is of sweep {selection.sweep_name}, not {sweep}")
    expected = tuple(selection.configs() if selection is not None else
                     registry.get_sweep(sweep).configs() if runs is None else runs)
    root = results_for(preset, expected, sweep, results_root, executor)
    wanted = {c.run_id for c in expected} | rec.companions(expected)
    own = rec.read_folder(root / sweep, lambda r: r["run_id"] in wanted)
    about = registry.describe(sweep)
    lender, lent = about.lender, []
    if lender is not None:
        agents, levels = {c.agent for c in expected}, about.lent_sparsities
        reference = lender == about.reference_sweep

        def lends(config: dict) -> bool:
            sparsity = float(config["final_sparsity"])
            return (config["agent"] in agents and (levels is None or sparsity in levels)) or (
                reference and (config["agent"], config["width"], sparsity) == REFERENCE_CONFIG)

        lent = rec.read_folder(root / lender, lambda r: lends(r["config"]))
    done, total = _progress(sweep, preset, root / sweep)
    return ChapterData(sweep, preset, root, expected, tuple(own), store.runs_frame(own + lent),
                       rec.measure_rows(own), tuple(lent), lender, selection, done, total)
