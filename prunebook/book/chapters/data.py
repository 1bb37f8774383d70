"""A chapter's finished runs, read from `results/<sweep>/` (presets "cpu", "std", "paper") or
trained live in a temporary folder (preset "ci"), both through `source.results_for`, and held
in a :class:`ChapterData` that knows which of the runs the selection needs are present: the
coverage text, the balanced seeds the figures use and the runs the claims engine checks a
comparison against. Loading never computes.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from prunebook.analysis import normalization
from prunebook.book.chapters.selections import CONFIG_COLUMNS, Selection, preset_sweep
from prunebook.book.chapters.source import display_path, resolve_results_root, results_for
from prunebook.config import RunConfig
from prunebook.config.base import variant_of
from prunebook.sweeps import store
from prunebook.sweeps.store import RUN_COLUMNS


@dataclasses.dataclass
class ChapterData:
    """The finished runs a chapter needs, and how complete they are."""

    selection: Selection
    source: str  # where the runs came from, in words
    runs: pd.DataFrame  # `results.load_runs` rows (per run and iteration) of the selection
    configs: dict[str, dict]  # run_id -> config dict stored in its results file
    final_sparsity: dict[str, float]  # run_id -> measured sparsity in its last iteration
    code_versions: set[str] = dataclasses.field(default_factory=set)
    sweep_done: int | None = None  # finished runs of the preset's whole sweep
    sweep_total: int | None = None
    # one row per (run, iteration, measure) of the runs that logged the §5 measures
    measures: pd.DataFrame = dataclasses.field(default_factory=lambda: measure_rows([]))

    # ---- coverage
    @property
    def expected(self) -> list[RunConfig]:
        return self.selection.configs()

    @property
    def present(self) -> set[str]:
        return set(self.configs)

    def cell_runs(self, cell) -> list[RunConfig]:
        agent, width, sparsity = cell
        return [c for c in self.expected if (c.agent, c.width) == (agent, width)
                and np.isclose(c.final_sparsity, sparsity)]

    def is_complete(self, cell) -> bool:
        return all(c.run_id in self.present for c in self.cell_runs(cell))

    def coverage(self) -> pd.DataFrame:
        """One row per configuration: runs finished / runs needed (games x seeds)."""
        rows = []
        for cell in self.selection.cells:
            need = self.cell_runs(cell)
            done = sum(c.run_id in self.present for c in need)
            agent, width, sparsity = cell
            rows.append({"agent": agent, "width": width,
                         "sparsity": "dense" if sparsity == 0 else f"{sparsity:.0%}",
                         "runs finished": f"{done} of {len(need)}",
                         "complete": done == len(need)})
        return pd.DataFrame(rows).set_index(CONFIG_COLUMNS)

    @property
    def balanced_seeds(self) -> list[int]:
        """Seeds finished for every configuration and game of the chapter."""
        return [s for s in self.selection.seeds
                if all(c.run_id in self.present for c in self.expected if c.seed == s)]

    def coverage_text(self) -> str:
        sel = self.selection
        n_done, n_need = len(self.present), len(self.expected)
        cells = self.coverage()
        lines = [f"{n_done} of {n_need} runs this chapter needs are finished ({self.source})."]
        if self.sweep_total is not None:
            lines.append(f"Sweep {sel.sweep_name}: {self.sweep_done} of {self.sweep_total} runs "
                         "finished.")
        games, seeds = len(sel.games), len(sel.seeds)
        lines.append(f"Complete configurations (all {games} game{'s' * (games > 1)} x {seeds} "
                     f"seed{'s' * (seeds > 1)}): {int(cells['complete'].sum())} of {len(cells)}.")
        seeds = self.balanced_seeds
        if n_done == 0:
            lines.append("Nothing to show yet: figures and verdicts wait for finished runs.")
        elif len(seeds) == len(sel.seeds):
            lines.append("Every run is there: figures and verdicts use all of them.")
        elif seeds:
            lines.append(f"Figures and IQM tables (preliminary) use seed(s) "
                         f"{', '.join(map(str, seeds))} ({len(seeds)} of {len(sel.seeds)}), "
                         "finished for every configuration and game; a verdict needs both of "
                         "its configurations and the reference complete.")
        else:
            lines.append("No seed has finished for every configuration and game yet, so there "
                         "are no figures or IQM tables; a verdict needs both of its "
                         "configurations and the reference complete.")
        # wrapped: a notebook's text output scrolls sideways instead of wrapping
        return "\n".join(textwrap.fill(line, 88, subsequent_indent="  ", break_long_words=False,
                                             break_on_hyphens=False) for line in lines)

    # ---- frames
    def final(self, run_ids=None, last_iterations: int = 1) -> pd.DataFrame:
        """Per-run final scores (last iteration, as the paper; more for the robustness check)
        plus each run's `env_steps`."""
        runs = self.runs if run_ids is None else self.runs[self.runs["run_id"].isin(run_ids)]
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
        runs = self.runs[self.runs["run_id"].isin(ids)]
        if not len(runs):
            return runs
        return normalization.normalize_frame(runs.assign(score=runs["train_return"]),
                                             reference_df=self.final(ids))


MEASURE_COLUMNS = ["run_id", "game", "width", "sparsity", "seed", "method", "env_steps",
                   "measure", "value"]


def _flatten(measured: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for key, value in measured.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = float(value)
    return out


def measure_rows(records) -> pd.DataFrame:
    """One row per (run, iteration, measure) of `records` that logged the §5 measures (older
    records have none and give no rows); nested measures are named `outer/inner`."""
    rows = []
    for record in records:
        config = record["config"]
        base = {"run_id": record["run_id"], "game": config["game"], "width": config["width"],
                "sparsity": float(config["final_sparsity"]), "seed": config["seed"],
                "method": variant_of(config)}
        for it in record["iterations"]:
            for name, value in _flatten(it.get("measures") or {}).items():
                rows.append({**base, "env_steps": it["env_steps"], "measure": name,
                             "value": value})
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def _read_dir(folder: Path, wanted: set[str]):
    """The wanted runs' records (and what the chapter keeps of them). Every file of the folder
    is read and validated, so a bad one stops the chapter with its name even if unwanted."""
    configs, sparsity, versions, records = {}, {}, set(), []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = store.read_run(path)
        if path.stem not in wanted:
            continue
        records.append(record)
        configs[record["run_id"]] = record["config"]
        last = record["iterations"][-1] if record["iterations"] else {}
        sparsity[record["run_id"]] = last.get("sparsity")
        version = str(record.get("code_version", "unknown"))
        versions.add(version[:7] + ("-dirty" if version.endswith("-dirty") else ""))
    return configs, sparsity, versions, records


def load(sel: Selection, results_root: str | Path = "results", source: str = "") -> ChapterData:
    """The selection's finished runs from `<results_root>/<sweep>/` (no compute); `source` says
    where they came from (default: that folder)."""
    root = resolve_results_root(results_root)
    folder = root / sel.sweep_name
    wanted = {c.run_id for c in sel.configs()}
    configs, sparsity, versions, records = _read_dir(folder, wanted)
    runs = store.runs_frame(records)  # each file read once, in `_read_dir`
    sweep = preset_sweep(sel.preset)
    done = total = None
    if sweep is not None:
        all_ids = {c.run_id for c in sweep.configs()}
        total = len(all_ids)
        done = sum(p.stem in all_ids for p in folder.glob("*.json")) if folder.is_dir() else 0
    if not source:
        where = display_path(folder)
        source = where if folder.is_dir() else f"{where} does not exist: not yet run"
    return ChapterData(sel, source, runs, configs, sparsity, versions, done, total,
                       measure_rows(records))


def load_or_run(sel: Selection, results_root: str | Path = "results", executor=None
                ) -> ChapterData:
    """The selection's runs, committed or (preset "ci") trained now: `source.results_for`."""
    root, where = results_for(sel.preset, sel.configs(), sel.sweep_name, results_root, executor)
    return load(sel, root, where)
