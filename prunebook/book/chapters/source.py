"""Where every chapter's runs come from, one way for all of them: the committed results folder
(`results/<sweep>/`, presets "cpu", "std", "paper"), or, at preset "ci", a temporary folder in
which the chapter's few runs are trained now with the same code as `prunebook run` (the
offline ones after their datasets are logged). A chapter names its runs and its sweep; what it
gets back is a results root to read, whatever the preset.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from prunebook.book import colab
from prunebook.config import OfflineConfig
from prunebook.loops.compilation_cache import use_compilation_cache
from prunebook.sweeps import local
from prunebook.sweeps.grid import Sweep
from prunebook.sweeps.local import SerialExecutor
from prunebook.sweeps.logger import prepare_sweep

LIVE_PRESET = "ci"  # the preset whose runs a chapter trains itself


def resolve_results_root(results_root: str | Path = "results") -> Path:
    """`results_root` as a path: absolute as given; "results" is the book's results folder
    (`$PRUNEBOOK_RESULTS` or `<repo>/results`); other relative paths are relative to the repo."""
    path = Path(results_root)
    if path.is_absolute():
        return path
    if str(results_root) == "results":
        return colab.results_root()
    root = colab.repo_root()
    return (root if root is not None else Path.cwd()) / path


def display_path(path: Path) -> str:
    """`path` relative to the repository when it is inside it (what a reader sees)."""
    root = colab.repo_root()
    try:
        return str(path.relative_to(root)) if root is not None else str(path)
    except ValueError:
        return str(path)


@dataclasses.dataclass(frozen=True)
class FixedGrid:
    """A sweep grid of given configs (a chapter's live runs, whatever their parameters)."""

    runs: tuple

    def configs(self) -> list:
        return list(self.runs)


def run_live(configs: Sequence, workdir: Path | str | None = None,
             sweep_name: str = "offline_ci", executor=None) -> Path:
    """Train `configs` here and now, serially, as sweep `sweep_name`; returns the results root
    (`<workdir>/results`, `workdir` a new temporary folder by default, removed when Python
    exits). Offline runs get their logged datasets first (deterministic, in the usual cache).
    Runs of one shape share compiled code through JAX's persistent compilation cache, also
    across chapters and kernels."""
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="prunebook-ci-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    workdir = Path(workdir)
    # in the order given (a sweep's own queue: a lottery ticket after its donor)
    sweep = Sweep(sweep_name, (FixedGrid(tuple(configs)),), order="grids")
    use_compilation_cache()
    if any(isinstance(c, OfflineConfig) for c in configs):
        prepare_sweep(sweep, workdir / "results")
    with warnings.catch_warnings():  # tqdm.auto without ipywidgets; no bar is shown anyway
        warnings.filterwarnings("ignore", message="IProgress not found")
        local.run_sweep(sweep, workdir / "results", workdir / "checkpoints",
                        executor or SerialExecutor(), show_progress=False)
    return workdir / "results"


def results_for(preset: str, configs: Sequence, sweep_name: str,
                results_root: str | Path = "results", executor=None) -> Path:
    """The results root holding `<sweep_name>/` for a chapter's `configs`: at preset "ci"
    trained just now (:func:`run_live`), else the committed folder (nothing is computed)."""
    if preset == LIVE_PRESET:
        return run_live(configs, sweep_name=sweep_name, executor=executor)
    return resolve_results_root(results_root)
