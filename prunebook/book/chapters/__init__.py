"""The chapters' helpers: which runs a chapter needs, loading them (or training a tiny version
live at preset "ci"), how much of the sweep has finished, and the tables and figures the
notebooks show. The notebooks only choose parameters and call these functions.

Chapters 1-3 read one sweep: `online_cpu` (`prunebook.sweeps.registry`) at preset "cpu",
`online_paper` at preset "paper" (the same grid on the paper's Atari setting, run on GPUs with
the commands of :func:`run_commands`); at preset "ci" a chapter trains the few runs it needs
(one game, one seed, 4,000 agent steps each) in a temporary folder, with the same code.

**Partial results.** A run's results file appears only when the run has finished, and the sweep
takes many hours, so a chapter may see part of it. It then

* says how many of the runs it needs are present (:meth:`ChapterData.coverage_text`);
* draws figures from the *balanced* part: the seeds that have finished for every configuration
  and game of the chapter, so every point of a figure aggregates the same games and seeds
  (labelled "preliminary" while seeds are missing);
* computes a verdict only from a *complete* comparison: both configurations and the
  normalisation reference (dense width-1 DQN, see `prunebook.analysis.normalization`)
  finished for every game and seed. Otherwise the verdict is "not yet run" and says which
  runs are missing.
  `prunebook.analysis.claims.evaluate` on its own would use whatever is there (the widest
  width present, the seeds present); the book's verdicts wait for the whole comparison.

The package is split by what a notebook cell asks for; every public name is re-exported here,
so notebooks call `chapters.selection(...)`, `chapters.load_or_run(...)`, and so on:

* `selections`: presets, :class:`Selection` and :func:`selection` (which runs; checked early);
* `source`: where any chapter's runs come from: :func:`results_for` (the committed folder, or
  at preset "ci" :func:`run_live`, the one live trainer of every chapter);
* `data`: :class:`ChapterData`, :func:`load`, :func:`load_or_run`;
* `describe`: what the runs are, in words and in the setup table, and config drift;
* `summary`: :func:`result_box`, the answer a chapter opens with;
* `verdicts`: claims resolved for the chapter, their verdicts and tables;
* `tables`: IQM, gain and measured-sparsity tables;
* `figures`: the figures and the pruning window they shade;
* `commands`: the shell commands that make the runs, and the paper-scale instructions;
* `vmax`: chapter 2's check of Rainbow's verdicts at `v_max=100` (sweep `rainbow_vmax100`);
* `offline`: chapter 4 (offline CQL, sweep `offline_cpu`), the same shape: `offline_load_or_run`
  returns data that is never None, and each table or figure says itself when runs are missing;
* `standard`: chapter 5 (the standard MinAtar budget): its protocol table and the §5 measures
  (`ChapterData.measures`), imported as `from prunebook.book.chapters import standard`.
"""

from prunebook.analysis.claims_table import sweep_results
from prunebook.book.chapters.commands import paper_instructions, run_commands
from prunebook.book.chapters.data import ChapterData, load, load_or_run
from prunebook.book.chapters.describe import (
    config_drift,
    scale_description,
    setup_table,
    show_table,
    what_we_ran,
)
from prunebook.book.chapters.figures import (
    FIGURE_REPS,
    figure_iqm_vs_width,
    figure_learning_curves,
    figure_per_game,
    figure_robustness,
    pruning_window,
)
from prunebook.book.chapters.offline import (
    OfflineData,
    figure_offline_curves,
    figure_offline_iqm_vs_width,
    offline_behaviour_table,
    offline_collapse_table,
    offline_iqm_table,
    offline_load_or_run,
    offline_sensitivity_table,
    offline_setting_table,
    offline_verdict_table,
)
from prunebook.book.chapters.selections import (
    CI_GAMES,
    CI_SEEDS,
    CI_WIDTHS,
    CONFIG_COLUMNS,
    Selection,
    preset_defaults,
    preset_sweep,
    selection,
)
from prunebook.book.chapters.source import resolve_results_root, results_for, run_live
from prunebook.book.chapters.summary import methods_known, result_box
from prunebook.book.chapters.tables import gain_table, iqm_table, measured_sparsity, readable
from prunebook.book.chapters.verdicts import (
    chapter_claim,
    claim_results,
    evaluate_claim,
    normalisation_warnings,
    robustness_table,
    verdict_details,
    verdict_table,
)
from prunebook.book.chapters.vmax import vmax_check

__all__ = [
    # selections
    "CI_SEEDS", "CI_GAMES", "CI_WIDTHS",
    "CONFIG_COLUMNS", "preset_sweep", "preset_defaults", "Selection", "selection",
    # data
    "ChapterData", "load", "load_or_run",
    # source: where every chapter's runs come from (committed, or trained live at "ci")
    "resolve_results_root", "run_live", "results_for",
    # describe
    "scale_description", "what_we_ran", "setup_table", "config_drift", "show_table",
    # verdicts
    "sweep_results", "chapter_claim", "evaluate_claim", "claim_results", "normalisation_warnings",
    "verdict_table", "verdict_details", "robustness_table",
    # summary: the result box a chapter opens with
    "result_box", "methods_known",
    # tables
    "iqm_table", "gain_table", "measured_sparsity", "readable",
    # figures
    "FIGURE_REPS", "figure_iqm_vs_width", "figure_per_game", "figure_learning_curves",
    "figure_robustness", "pruning_window",
    # commands
    "run_commands", "paper_instructions",
    # vmax: chapter 2's Rainbow value-range check
    "vmax_check",
    # offline: chapter 4 (CQL, CQL+C51)
    "OfflineData", "offline_load_or_run", "offline_setting_table", "offline_behaviour_table",
    "figure_offline_curves", "offline_collapse_table", "offline_iqm_table",
    "figure_offline_iqm_vs_width", "offline_verdict_table", "offline_sensitivity_table",
]
