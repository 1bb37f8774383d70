"""The chapters' helpers: which runs a chapter needs, loading them (or training a tiny version
live at preset "ci"), and the numbers, tables and figures the notebooks show. The notebooks
choose parameters, call these functions and say in Markdown what the numbers mean: nothing
here writes a chapter's prose.

Every chapter gets its runs from one loader, :func:`load` (`data`): an experiment ("online",
"offline", "controls", "baselines", "vmax"), a preset and, optionally, which of the sweep's runs (a
:class:`Selection` for chapters 1-3 and 5, configs for chapter 4). It finds the sweep in
`prunebook.sweeps.registry`, reads `<results_root>/<sweep>/` (presets "cpu", "std", "paper") or
trains the runs now in a temporary folder (preset "ci", `source.run_live`), adds the runs the
sweep borrows from its lender, and returns one :class:`ChapterData`.

**Partial results.** A run's results file appears only when the run has finished, and a sweep
takes many hours, so a chapter may see part of it. Then :func:`coverage_summary` and
:meth:`ChapterData.coverage` count what is there; figures use the *balanced* part (the seeds
finished for every configuration and game, titled "preliminary" while seeds are missing); a
verdict is computed only from a complete comparison, which `prunebook.analysis.claims` alone
judges, against the runs the chapter selected (otherwise "not yet run", naming what is missing).

The package is split by what a notebook cell asks for; every public name is re-exported here:

* `selections`: presets, :class:`Selection` and :func:`selection` (which runs; checked early);
* `source`: where any chapter's runs come from: :func:`results_for` (the committed folder, or
  at preset "ci" :func:`run_live`, the one live trainer of every chapter);
* `records`: reading results files, and the frames read off records (measures, reruns);
* `data`: :class:`ChapterData`, :func:`load`, :func:`coverage_summary`;
* `describe`: the setup table, the one-line scale of a figure, and config drift;
* `summary`: :func:`result_box`, the answer a chapter opens with;
* `verdicts`: claims resolved for the chapter, their verdicts and tables, and
  :func:`sweep_results`, the front page's verdicts on a loaded sweep (chapters 4 and 5);
* `tables`: IQM, gain and measured-sparsity tables, and :func:`readable`;
* `figures`: the figures and the pruning window they shade;
* `commands`: the shell commands that make the runs, and the paper-scale commands;
* `vmax`: chapter 2's check of Rainbow's verdicts at `v_max=100` (sweep `rainbow_vmax100`,
  loaded with the sweep it is compared with);
* `offline`: chapter 4 (offline CQL): its runs (:func:`offline_runs`), :func:`offline_analysis`
  of its `ChapterData` (None before any run finished) and one function per table and figure;
* `methods`: chapters 6 and 7 (one sweep beside its lent comparators), imported as
  `from prunebook.book.chapters import methods`;
* `standard`: chapter 5 (the standard MinAtar budget): its anchor table and the §5 measures
  (`ChapterData.measures`), imported as `from prunebook.book.chapters import standard`.
"""

from prunebook.book.chapters.commands import paper_instructions, run_commands
from prunebook.book.chapters.data import ChapterData, coverage_summary, load
from prunebook.book.chapters.describe import (
    config_drift,
    scale_description,
    setup_table,
    show_table,
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
    OfflineAnalysis,
    figure_offline_curves,
    figure_offline_iqm_vs_width,
    offline_behaviour_table,
    offline_collapse_table,
    offline_iqm_table,
    offline_sensitivity_table,
    offline_setting_table,
    offline_verdict_table,
)
from prunebook.book.chapters.offline import analyse as offline_analysis
from prunebook.book.chapters.offline import chapter_configs as offline_runs
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
from prunebook.book.chapters.source import results_for, run_live
from prunebook.book.chapters.summary import result_box
from prunebook.book.chapters.tables import gain_table, iqm_table, measured_sparsity, readable
from prunebook.book.chapters.verdicts import (
    chapter_claim,
    claim_results,
    evaluate_claim,
    robustness_table,
    sweep_results,
    unnormalisable_games,
    verdict_details,
    verdict_table,
)
from prunebook.book.chapters.vmax import vmax_check

__all__ = [
    # selections
    "CI_SEEDS", "CI_GAMES", "CI_WIDTHS",
    "CONFIG_COLUMNS", "preset_sweep", "preset_defaults", "Selection", "selection",
    # data: the one loader of every chapter
    "ChapterData", "load", "coverage_summary",
    # source: where every chapter's runs come from (committed, or trained live at "ci")
    "run_live", "results_for",
    # describe
    "scale_description", "setup_table", "config_drift", "show_table",
    # verdicts
    "sweep_results", "chapter_claim", "evaluate_claim", "claim_results", "unnormalisable_games",
    "verdict_table", "verdict_details", "robustness_table",
    # summary: the result box a chapter opens with
    "result_box",
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
    "OfflineAnalysis", "offline_runs", "offline_analysis", "offline_setting_table",
    "offline_behaviour_table",
    "figure_offline_curves", "offline_collapse_table", "offline_iqm_table",
    "figure_offline_iqm_vs_width", "offline_verdict_table", "offline_sensitivity_table",
]
