"""Chapters 1-3: which runs a chapter needs, loading them (or training a tiny version live at
preset "ci"), how much of the sweep has finished, and the tables, figures and sentences the
notebooks show. The notebooks only choose parameters and call these functions.

All three chapters read one sweep: `online_cpu` (`prunebook.sweeps`) at preset "cpu",
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
  normalisation reference (dense width-1 DQN, see `prunebook.normalization`) finished for every
  game and seed. Otherwise the verdict is "not yet run" and says which runs are missing.
  `prunebook.claims.evaluate` on its own would use whatever is there (the widest width present,
  the seeds present); the book's verdicts wait for the whole comparison.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import tempfile
import textwrap
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from prunebook import claims, normalization, notebook, results, stats
from prunebook.claims import WIDEST, Claim, ClaimResult, Side
from prunebook.config import MINATAR_GAMES, RunConfig
from prunebook.params import ParameterError
from prunebook.runner import Grid, Sweep

REFERENCE = ("dqn", 1, 0.0)
"""(agent, width, sparsity) of the MinAtar normalisation reference: dense width-1 DQN."""

SWEEP_NAMES = {"ci": "online_ci", "cpu": "online_cpu", "paper": "online_paper"}
PAPER_SEEDS = (0, 1, 2, 3, 4)  # "each experiment was run with 5 independent seeds" [dossier §2.1]
CI_SEEDS = (0,)
CI_GAMES = ("Breakout",)
CI_WIDTHS = (1, 2)
FIGURE_REPS = 2_000
CONFIG_COLUMNS = ["agent", "width", "sparsity"]


def _paper_games() -> tuple[str, ...]:
    from prunebook.envs.atari import PAPER_15_GAMES

    return tuple(PAPER_15_GAMES)


def preset_sweep(preset: str) -> Sweep | None:
    """The named sweep a preset's chapters read (None at "ci": those runs are trained live)."""
    from prunebook import sweeps

    if preset == "cpu":
        return sweeps.get_sweep("online_cpu")
    if preset == "paper":
        return sweeps.online_sweep("paper", games=_paper_games(), seeds=PAPER_SEEDS,
                                   widths=(1, 3, 5), name=SWEEP_NAMES["paper"])
    return None


def preset_defaults(preset: str) -> dict[str, tuple]:
    """Games, seeds and widths of a preset (what `None` parameters mean)."""
    from prunebook import sweeps

    if preset == "ci":
        return {"games": CI_GAMES, "seeds": CI_SEEDS, "widths": CI_WIDTHS}
    if preset == "cpu":
        return {"games": sweeps.BOOK_GAMES, "seeds": sweeps.BOOK_SEEDS, "widths": (1, 3, 5)}
    if preset == "paper":
        return {"games": _paper_games(), "seeds": PAPER_SEEDS, "widths": (1, 3, 5)}
    raise ParameterError(f"parameter 'preset' = {preset!r} is not allowed; expected one of "
                         "'ci', 'cpu', 'paper'")


# --------------------------------------------------------------------------- what a chapter needs
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
        return SWEEP_NAMES[self.preset]

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
    if REFERENCE not in itertools.product(agents, widths, sparsities):
        blocks.append(((REFERENCE[0],), (REFERENCE[1],), (REFERENCE[2],)))
    sel = Selection(preset, games, seeds, tuple(blocks))
    if check:
        _check_selection(sel, widths)
    return sel


def _check_selection(sel: Selection, widths: tuple[int, ...]) -> None:
    if sel.preset == "paper":
        from prunebook.paper import ATARI_60_GAMES

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


# --------------------------------------------------------------------------- loading
def resolve_results_root(results_root: str | Path = "results") -> Path:
    """`results_root` as a path: absolute as given; "results" is the book's results folder
    (`$PRUNEBOOK_RESULTS` or `<repo>/results`); other relative paths are relative to the repo."""
    path = Path(results_root)
    if path.is_absolute():
        return path
    if str(results_root) == "results":
        return notebook.results_root()
    root = notebook.repo_root()
    return (root if root is not None else Path.cwd()) / path


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
        else:
            shown = (f"seed(s) {', '.join(map(str, seeds))} ({len(seeds)} of {len(sel.seeds)}),"
                     " finished for every configuration and game" if seeds else
                     "no seed has finished for every configuration and game yet, so none")
            lines.append(f"Figures and IQM tables (preliminary) use {shown}; a verdict needs "
                         "both of its configurations and the reference complete.")
        return "\n".join(lines)

    # ---- frames
    def final(self, run_ids=None) -> pd.DataFrame:
        """Per-run final scores (last iteration, as the paper) plus each run's `env_steps`."""
        runs = self.runs if run_ids is None else self.runs[self.runs["run_id"].isin(run_ids)]
        if not len(runs):
            return pd.DataFrame(columns=[*results.RUN_COLUMNS, "score", "env_steps"])
        final = results.final_scores(runs, last_iterations=1)
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


def _read_dir(folder: Path, wanted: set[str]):
    configs, sparsity, versions = {}, {}, set()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.stem not in wanted:
            continue
        record = results.read_run(path)
        configs[record["run_id"]] = record["config"]
        last = record["iterations"][-1] if record["iterations"] else {}
        sparsity[record["run_id"]] = last.get("sparsity")
        version = str(record.get("code_version", "unknown"))
        versions.add(version[:7] + ("-dirty" if version.endswith("-dirty") else ""))
    return configs, sparsity, versions


def load(sel: Selection, results_root: str | Path = "results") -> ChapterData:
    """The selection's finished runs from `<results_root>/<sweep>/` (no compute)."""
    root = resolve_results_root(results_root)
    folder = root / sel.sweep_name
    wanted = {c.run_id for c in sel.configs()}
    configs, sparsity, versions = _read_dir(folder, wanted)
    runs = results.load_runs(root, sweep=sel.sweep_name) if configs else results.load_runs(
        root / "__none__")
    runs = runs[runs["run_id"].isin(wanted)].reset_index(drop=True)
    sweep = preset_sweep(sel.preset)
    done = total = None
    if sweep is not None:
        all_ids = {c.run_id for c in sweep.configs()}
        total = len(all_ids)
        done = sum(p.stem in all_ids for p in folder.glob("*.json")) if folder.is_dir() else 0
    where = _display_path(folder)
    source = where if folder.is_dir() else f"{where} does not exist: not yet run"
    return ChapterData(sel, source, runs, configs, sparsity, versions, done, total)


def _display_path(path: Path) -> str:
    root = notebook.repo_root()
    try:
        return str(path.relative_to(root)) if root is not None else str(path)
    except ValueError:
        return str(path)


def run_live(sel: Selection, executor=None) -> ChapterData:
    """Train the selection's runs (serially, in a temporary folder) and load them."""
    from prunebook import runner

    tmp = Path(tempfile.mkdtemp(prefix="prunebook-ci-"))
    try:
        with warnings.catch_warnings():  # tqdm.auto without ipywidgets; no bar is shown anyway
            warnings.filterwarnings("ignore", message="IProgress not found")
            runner.run_sweep(sel.sweep(), tmp / "results", tmp / "checkpoints",
                             executor or runner.SerialExecutor(), show_progress=False)
        data = load(sel, tmp / "results")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data.source = (f"trained just now in a temporary folder: {len(sel.configs())} runs of "
                   f"preset {sel.preset!r}")
    data.sweep_done = data.sweep_total = None
    return data


def load_or_run(sel: Selection, results_root: str | Path = "results", executor=None
                ) -> ChapterData:
    """Preset "ci": train the selection live; "cpu"/"paper": load `results/<sweep>/`."""
    if sel.preset == "ci":
        return run_live(sel, executor)
    return load(sel, results_root)


# --------------------------------------------------------------------------- descriptions
def scale_description(final_df: pd.DataFrame) -> str:
    """One line saying what a frame of per-run results covers: suite, games, steps, seeds."""
    if not len(final_df):
        return "no runs"
    suite = ", ".join(sorted({"MinAtar" if s == "minatar" else "Atari" if s == "atari" else s
                              for s in final_df["suite"]}))
    games = sorted(final_df["game"].unique())
    per = final_df.groupby(["agent", "width", "sparsity", "game"])["seed"].nunique()
    seeds = f"{per.min()}" if per.min() == per.max() else f"{per.min()}-{per.max()}"
    parts = [f"{suite}, {len(games)} game{'s' * (len(games) > 1)} ({', '.join(games)})"]
    if "env_steps" in final_df.columns:
        steps = final_df["env_steps"].astype(float)
        lo, hi = int(steps.min()), int(steps.max())
        frames = " (x4 frames)" if set(final_df["suite"]) == {"atari"} else ""
        parts.append(f"{hi:,} agent steps{frames} per run" if lo == hi
                     else f"{lo:,}-{hi:,} agent steps per run")
    parts.append(f"{seeds} seed{'s' if per.max() > 1 else ''} per configuration and game")
    parts.append("preset " + ", ".join(sorted(final_df["preset"].unique())))
    return " · ".join(parts)


def what_we_ran(data: ChapterData) -> str:
    """A paragraph (Markdown) saying what this chapter's runs are, from the runs themselves
    (or, before any finished, from the preset that will make them)."""
    sel = data.selection
    stored = [RunConfig.from_dict(c) for c in data.configs.values()]
    config = next((c for c in stored or sel.configs() if c.agent == "dqn"),
                  (stored or sel.configs())[0])
    agents = " and ".join("DQN" if a == "dqn" else "compact Rainbow" for a in sel.agents)
    suite = "MinAtar" if config.suite == "minatar" else "Atari"
    _, chapter_widths, chapter_sparsities = sel.blocks[0]  # the rest is the reference
    widths = ", ".join(f"x{w}" for w in sorted(chapter_widths))
    levels = ", ".join("dense" if s == 0 else f"{s:.0%}" for s in sorted(chapter_sparsities))
    done = "runs" if stored else "runs (none has finished yet)"
    network = {"minatar": "MinAtar", "impala": "Impala ResNet", "nature": "Nature CNN"}.get(
        config.network, config.network)
    text = (f"This chapter's {done}: {agents} on {len(sel.games)} {suite} "
            f"game{'s' if len(sel.games) > 1 else ''} ({', '.join(sel.games)}), "
            f"{config.num_env_steps:,} agent steps per run, {len(sel.seeds)} "
            f"seed{'s' if len(sel.seeds) > 1 else ''} per configuration, widths {widths}, "
            f"sparsity {levels}, the {network} network (preset `{sel.preset}`).")
    if config.suite == "minatar":
        text += (" The paper ran 15 Atari games for 10M agent steps (40M frames) with 5 seeds "
                 "and the Impala ResNet, and normalised by human scores; MinAtar has none, so "
                 "we normalise by dense x1 DQN (1 = the original network, 0 = random play).")
    return text


def _param_count(network: str, width: int, obs_shape, num_actions: int, scale_dense=False,
                 num_atoms: int = 0) -> int:
    import jax
    import jax.numpy as jnp

    from prunebook.networks import count_params, make_network

    net = make_network(network, num_actions, width=width, scale_dense=scale_dense,
                       num_atoms=num_atoms)
    shapes = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, *obs_shape), jnp.uint8))
    return count_params(shapes)


def _schedule(config: RunConfig) -> str:
    from prunebook.pruning import GMPSchedule

    s = GMPSchedule.from_run_length(config.final_sparsity or 0.95, config.total_updates,
                                    config.prune_start_frac, config.prune_end_frac,
                                    config.mask_update_every)
    return (f"GMP from update {s.start_update:,} to {s.end_update:,} "
            f"({config.prune_start_frac:.0%}-{config.prune_end_frac:.0%} of "
            f"{config.total_updates:,}), masks every {s.update_every:,} updates, "
            f"{config.allocation.upper()} per layer")


def _training(config: RunConfig) -> str:
    frames = f" = {4 * config.num_env_steps:,} frames" if config.suite == "atari" else ""
    return (f"{config.num_env_steps:,} agent steps{frames} ({config.num_iterations} iterations "
            f"x {config.iteration_env_steps:,}); {config.total_updates:,} gradient updates, "
            f"one per {config.update_period} agent steps")


def _network(config: RunConfig, widths, game: str) -> str:
    if config.network == "minatar":
        from prunebook.envs.minatar import observation_shape

        obs = observation_shape(game)
        actions = normalization.random_scores()[game]["num_actions"]
        head = "128·w" if config.scale_dense else "128"
        text = f"MinAtar CNN: conv 3x3 with 16·w channels -> dense {head} -> Q-values"
        ref_game = game
    else:
        obs, actions, ref_game = (84, 84, 4), 18, "18 actions"
        head = "512·w" if config.scale_dense else "512"
        text = (f"{config.network.capitalize()} network"
                if config.network != "impala" else
                f"Impala ResNet: stacks of (16, 32, 32)·w channels, 2 residual blocks each "
                f"-> dense {head} -> Q-values")
    counts = ", ".join(
        f"x{w}: {_param_count(config.network, w, obs, actions, config.scale_dense) / 1e6:.2f}M"
        for w in widths)
    return f"{text}; DQN parameters ({ref_game}) {counts}"


def _agents(configs: dict[str, RunConfig]) -> str:
    out = []
    for agent in ("dqn", "rainbow"):
        if agent not in configs:
            continue
        c = configs[agent]
        name = "DQN" if agent == "dqn" else "compact Rainbow (C51, PER)"
        out.append(f"{name}: n={c.n_step}, Adam lr {c.learning_rate:g} eps {c.adam_eps:g}, "
                   f"replay {c.replay_capacity:,}, target sync every "
                   f"{c.target_update_period:,} steps")
    return "; ".join(out)


def setup_table(data: ChapterData) -> pd.DataFrame:
    """What this chapter's runs are, next to the paper's setting, computed from the configs
    stored in the results files (or, before any run finished, from the preset)."""
    from prunebook.paper import paper_config

    sel = data.selection
    stored = [RunConfig.from_dict(c) for c in data.configs.values()]
    ours = stored or sel.configs()
    by_agent = {}
    for c in [*ours, *sel.configs()]:  # agents with no finished run yet: the preset's config
        by_agent.setdefault(c.agent, c)
    mine = by_agent.get("dqn", ours[0])
    paper = {a: paper_config(a) for a in ("dqn", "rainbow") if a in sel.agents}
    paper_dqn = paper_config("dqn")
    game = sel.games[0]
    env = ("MinAtar (gymnax): 10x10 binary frames, one channel per object type"
           if mine.suite == "minatar" else "Atari 2600 (ALE), 84x84 grey frames x 4, sticky "
           "actions")
    games = f"{len(sel.games)}: {', '.join(sel.games)}"
    paper15 = _paper_games()
    rows = {
        "environment": (env, "Atari 2600 (ALE), 84x84 grey frames x 4, sticky actions"),
        "games": (games, f"15: {', '.join(paper15)}"),
        "network": (_network(mine, sel.widths, game),
                    _network(paper_dqn, sel.widths, "Breakout")),
        "training": (_training(mine), _training(paper_dqn)),
        "pruning": (_schedule(mine), _schedule(paper_dqn)),
        "agents": (_agents(by_agent), _agents(paper)),
        "seeds": (f"{len(sel.seeds)} per configuration and game", f"{len(PAPER_SEEDS)}"),
        "score": ("mean return of the training episodes in the last iteration",
                  "the same (Dopamine's training return after 40M frames)"),
        "normalisation": ("(score - random) / (dense x1 DQN - random), per game; 1 = the "
                          "original network", "human-normalised: (score - random) / "
                          "(human - random)"),
        "statistics": ("IQM over runs x games, 95% stratified-bootstrap CIs",
                       "the same (rliable)"),
    }
    if stored:
        rows["run files"] = (f"{len(stored)} finished; code version(s) "
                             f"{', '.join(sorted(data.code_versions))}", "—")
    table = pd.DataFrame(rows, index=["this chapter", "paper"]).T
    table.index.name = "setting"
    return table


def config_drift(data: ChapterData) -> list[str]:
    """Where the results files' configs differ from what the preset makes today, one line per
    field (fields a file predates count only if today's value is not the field's default)."""
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    expected = {c.run_id: c.to_dict() for c in data.expected}
    fields: dict[str, list[str]] = {}
    for run_id, stored in sorted(data.configs.items()):
        want = expected.get(run_id, {})
        for key in sorted(set(stored) | set(want)):
            mine = stored.get(key, defaults.get(key))
            if key in want and mine != want[key]:
                fields.setdefault(key, []).append(f"{run_id} (file {mine!r}, preset "
                                                  f"{want[key]!r})")
            elif key not in want:
                fields.setdefault(key, []).append(f"{run_id} (file {mine!r}, unknown today)")
    return [f"{len(runs)} results file(s) differ from today's preset in {key!r}, e.g. {runs[0]}"
            for key, runs in fields.items()]


def show_table(table: pd.DataFrame) -> None:
    """Display a DataFrame without truncating long cells (the setup table's sentences)."""
    from IPython.display import display

    with pd.option_context("display.max_colwidth", None):
        display(table)


# --------------------------------------------------------------------------- verdicts
def _labels(side: Side) -> str:
    kind = "dense" if side.sparsity == 0 else f"pruned {side.sparsity:.0%}"
    return f"{'DQN' if side.agent == 'dqn' else 'Rainbow'} {kind} x{side.width}"


def _cell(side: Side) -> tuple[str, int, float]:
    return (side.agent, int(side.width), float(side.sparsity))


def chapter_claim(claim_id: str, sel: Selection, at_width: int | None = None) -> Claim:
    """The claim with "widest" replaced by the chapter's widest width, and (`at_width`) a
    fixed-width claim such as Fig 3's width 3 moved to another width."""
    claim = claims.CLAIMS_BY_ID[claim_id]
    widest = max(sel.widths)

    def fix(side: Side) -> Side:
        if side.width == WIDEST:
            return dataclasses.replace(side, width=widest)
        if at_width is not None:
            return dataclasses.replace(side, width=at_width)
        return side

    return dataclasses.replace(claim, numerator=fix(claim.numerator),
                               denominator=fix(claim.denominator))


def evaluate_claim(data: ChapterData, claim: Claim, seed: int = 0, reps: int = 50_000
                   ) -> ClaimResult:
    """`claims.evaluate` on a complete comparison, else "not yet run" with what is missing.

    The generator is the one `claims.evaluate_all` uses for this claim id, so on a finished
    sweep the numbers equal the front page's claims table (same seed and reps).
    """
    sides = [claim.numerator, claim.denominator]
    needed = [_cell(s) for s in sides] + [REFERENCE]
    missing, outside = [], []
    for cell in dict.fromkeys(needed):
        need = data.cell_runs(cell)
        done = sum(c.run_id in data.present for c in need)
        name = _labels(Side(*cell)) + (" (reference)" if cell == REFERENCE else "")
        if not need:
            outside.append(name)
        elif done < len(need):
            missing.append(f"{name}: {done} of {len(need)} runs")
    if missing or outside:
        scale = "—" if not data.present else scale_description(data.final())
        note = ("needs configurations outside this chapter's parameters: " + ", ".join(outside)
                if outside else "waiting for " + "; ".join(missing))
        return ClaimResult(claim.id, "not yet run", None, None, claim.paper, scale, None, note)
    ids = [c.run_id for cell in needed for c in data.cell_runs(cell)]
    final = data.final(ids)
    rng = np.random.default_rng([seed, zlib.crc32(claim.id.encode())])
    result = claims.evaluate(claim, final, rng, reps=reps)
    if result.verdict == "not yet run":  # every game failed to normalise
        result = dataclasses.replace(result, note=_normalisation_note(final) or result.note)
    return result


def claim_results(data: ChapterData, claim_ids: Sequence[str], seed: int = 0,
                  reps: int = 50_000, at_width: int | None = None) -> list[ClaimResult]:
    """The chapter's verdicts, for the claims whose agents the chapter selected."""
    out = []
    for claim_id in claim_ids:
        claim = chapter_claim(claim_id, data.selection, at_width)
        if claim.numerator.agent not in {a for a, _, _ in data.selection.cells}:
            continue
        out.append(evaluate_claim(data, claim, seed, reps))
    return out


def _normalisation_note(final: pd.DataFrame) -> str:
    normed = normalization.normalize_frame(final)
    bad = normed[normed["normalized"].isna()]
    if not len(bad):
        return ""
    reasons = sorted({r.removeprefix("not normalised: ") for r in bad["normalization"]})
    return "scores cannot be normalised: " + "; ".join(reasons)


def normalisation_warnings(data: ChapterData) -> list[str]:
    """Games whose scores cannot be normalised (the reference is not above random)."""
    final = data.balanced_final()
    if not len(final):
        return []
    out = []
    refs = final[(final["agent"] == "dqn") & (final["width"] == 1) & (final["sparsity"] == 0)]
    table = normalization.random_scores()
    for game in sorted(final.loc[final["normalized"].isna(), "game"].unique()):
        ref = refs.loc[refs["game"] == game, "score"].mean()
        out.append(f"{game}: dense x1 DQN scores {ref:.2f}, not above the random policy's "
                   f"{table[game]['mean']:.2f}, so its scores cannot be normalised and it is "
                   "left out of IQMs and verdicts")
    return out


def _ratio(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"x{value:.2f}"


def _gain(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value - 1:+.0%}"


def _ci(ci) -> str:
    if ci is None or not np.isfinite(ci[0]):
        return "—"
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def verdict_table(res: Sequence[ClaimResult]) -> pd.DataFrame:
    """One row per verdict: the paper's number, our IQM ratio and gain with its 95% CI."""
    rows = []
    for r in res:
        paper_in = {True: "inside", False: "outside", None: "—"}[r.paper_in_ci]
        gain_ci = ("—" if r.ci is None or not np.isfinite(r.ci[0])
                   else f"[{r.ci[0] - 1:+.0%}, {r.ci[1] - 1:+.0%}]")
        rows.append({"claim": r.claim_id, "paper": r.paper, "IQM ratio": _ratio(r.ours),
                     "95% CI": _ci(r.ci), "gain": _gain(r.ours), "gain 95% CI": gain_ci,
                     "paper's value in our CI": paper_in,
                     "verdict": {"cannot normalise": "no verdict (cannot normalise)",
                                 "not selected": "not selected"}.get(_status(r), r.verdict)})
    return pd.DataFrame(rows).set_index("claim")


def verdict_details(res: Sequence[ClaimResult]) -> str:
    """What each verdict compared (or waits for), one line per claim."""
    lines = []
    for r in res:
        claim = claims.CLAIMS_BY_ID.get(r.claim_id)
        rule = f" Rule: {claim.rule_text()}." if claim else ""
        what = r.note if r.verdict == "not yet run" else r.scale + (f" ({r.note})" if r.note
                                                                    else "")
        lines.append(textwrap.fill(f"{r.claim_id}: {what.rstrip('.')}.{rule}", width=78,
                                   subsequent_indent="    "))
    return "\n".join(lines)


def sentence(result: ClaimResult, claim: Claim, runs_per_game: int | None = None) -> str:
    """One honest sentence for a verdict, whatever it is (Markdown)."""
    num, den = _labels(claim.numerator), _labels(claim.denominator)
    head = f"**{claim.id}** ({num} vs {den}):"
    if result.verdict == "not yet run":
        if result.note.startswith(("waiting", "needs configurations")):
            return f"{head} not yet run — {result.note.rstrip('.')}."
        return f"{head} no verdict — {result.note.rstrip('.')}."
    if result.ci is None or not np.isfinite(result.ci[0]):
        return (f"{head} the IQM ratio is undefined here ({result.note}); our data cannot "
                "decide this claim.")
    ci = _ci(result.ci)
    if claim.rule == "greater":
        side, other = "above 1", "below 1"
        expectation = f"{num} scores higher than {den}"
        opposite = f"{num} scores *lower* than {den}"
    elif claim.rule == "less":
        side, other = "below 1", "above 1"
        expectation = f"{num} scores lower than {den}"
        opposite = f"{num} scores *higher* than {den}"
    else:
        side, other = f"above {claim.margin:g}", f"below {claim.margin:g}"
        expectation = f"{num} keeps at least {claim.margin:.0%} of {den}'s IQM"
        opposite = f"{num} loses more than {1 - claim.margin:.0%} of {den}'s IQM"
    point = f"IQM ratio {_ratio(result.ours)} ({_gain(result.ours)}), 95% CI {ci}"
    if result.verdict == "reproduced":
        text = f"{point} lies {side}: our data support the paper — {expectation}."
    elif result.verdict == "contradicted":
        text = f"{point} lies {other}: our data contradict the paper — {opposite}."
    else:
        threshold = "1" if claim.rule != "non_inferior" else f"{claim.margin:g}"
        text = (f"{point} contains {threshold}: our data cannot decide whether "
                f"{expectation}.")
    if claim.paper_ratio is not None:
        where = "inside" if result.paper_in_ci else "outside"
        text += f" The paper's x{claim.paper_ratio:g} lies {where} our interval."
    if runs_per_game is not None and runs_per_game < 2:
        text += (" With one run per game the interval has no width: this is a pipeline "
                 "check, not evidence.")
    return f"{head} {text}"


def discussion(data: ChapterData, res: Sequence[ClaimResult], at_width: int | None = None
               ) -> str:
    """The verdict sentences of a chapter (Markdown, one bullet per claim)."""
    runs_per_game = len(data.selection.seeds)
    lines = [f"- {sentence(r, chapter_claim(r.claim_id, data.selection, at_width), runs_per_game)}"
             for r in res]
    if data.selection.preset == "ci":
        lines.append("- Preset `ci` trains each configuration for 4,000 agent steps on one "
                     "game with one seed, where an agent is about as good as random play (so "
                     "its scores often cannot be normalised): whatever it says above only shows "
                     "that the analysis runs.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- tables
def iqm_table(data: ChapterData, cells, seed: int = 0, reps: int = 50_000) -> pd.DataFrame:
    """IQM of normalised final scores and its 95% CI per configuration (balanced runs)."""
    final = data.balanced_final()
    rows = []
    for i, cell in enumerate(cells):
        agent, width, sparsity = cell
        row = {"agent": agent, "width": width,
               "sparsity": "dense" if sparsity == 0 else f"{sparsity:.0%}"}
        sub = final
        if len(sub):
            sub = sub[(sub["agent"] == agent) & (sub["width"] == width)
                      & np.isclose(sub["sparsity"].astype(float), sparsity)
                      & sub["normalized"].notna()]
        if not len(sub):
            rows.append(row | {"IQM": "—", "95% CI": "—", "runs per game": 0, "games": 0})
            continue
        mat = normalization.score_matrix(sub)
        rng = np.random.default_rng([seed, i])
        point, ci = stats.interval_estimates({0: mat}, "iqm", rng=rng, reps=reps)
        rows.append(row | {"IQM": f"{float(point[0]):.2f}", "95% CI": _ci(ci[0]),
                           "runs per game": mat.shape[0], "games": mat.shape[1]})
    return pd.DataFrame(rows).set_index(CONFIG_COLUMNS)


def gain_table(data: ChapterData, agents: Sequence[str], sparsities=(0.0, 0.95), seed: int = 0,
               reps: int = 50_000) -> pd.DataFrame:
    """IQM(agent, width w, sparsity s) / IQM(dense x1) - 1 for every width, complete only.

    At the widest width the ratios are the claims' own (same ids, same generators), so these
    rows repeat the verdict table's numbers."""
    widest = max(data.selection.widths)
    rows = []
    for agent in agents:
        den = Side(agent, 1, 0.0)
        for width in data.selection.widths:
            for s in sparsities:
                if width == 1 and s == 0:
                    continue
                num = Side(agent, width, s)
                if width == widest and s in (0.0, 0.95):
                    cid = f"{'1' if s == 0 else '2'}-{agent}"
                    claim = dataclasses.replace(chapter_claim(cid, data.selection), id=cid)
                else:
                    cid = f"gain-{agent}-w{width}-s{s:g}"
                    claim = Claim(cid, "", "", "", num, den, "greater")
                r = evaluate_claim(data, claim, seed, reps)
                rows.append({"agent": agent, "width": width,
                             "sparsity": "dense" if s == 0 else f"{s:.0%}",
                             "IQM ratio to dense x1": _ratio(r.ours),
                             "gain": _gain(r.ours),
                             "gain 95% CI": ("—" if r.ci is None or not np.isfinite(r.ci[0])
                                             else f"[{r.ci[0] - 1:+.0%}, {r.ci[1] - 1:+.0%}]"),
                             "status": _status(r)})
    return pd.DataFrame(rows).set_index(CONFIG_COLUMNS)


def _status(result: ClaimResult) -> str:
    if result.verdict != "not yet run":
        return "complete"
    if result.note.startswith("needs configurations"):
        return "not selected"
    return "not yet run" if result.note.startswith("waiting") else "cannot normalise"


def measured_sparsity(data: ChapterData) -> pd.DataFrame:
    """Final sparsity the runs actually reached (from their last logged iteration)."""
    rows = []
    for cell in data.selection.cells:
        vals = [data.final_sparsity.get(c.run_id) for c in data.cell_runs(cell)]
        vals = [v for v in vals if v is not None]
        agent, width, sparsity = cell
        rows.append({"agent": agent, "width": width, "sparsity": f"{sparsity:.2f}",
                     "measured at the end (mean over runs)":
                     f"{np.mean(vals):.4f}" if vals else "—", "runs": len(vals)})
    return pd.DataFrame(rows).set_index(CONFIG_COLUMNS)


# --------------------------------------------------------------------------- figures
def _preliminary(data: ChapterData) -> str:
    n, total = len(data.balanced_seeds), len(data.selection.seeds)
    return "" if n == total else f" — preliminary: {n} of {total} seeds"


def _normalisable(final: pd.DataFrame) -> pd.DataFrame:
    return final[final["normalized"].notna()] if len(final) else final


def figure_iqm_vs_width(data: ChapterData, seed: int = 0, reps: int = FIGURE_REPS,
                        title: str = "IQM of normalised final scores vs width"):
    """Fig 1 style (IQM vs width, 95% CIs), or None with a printed reason."""
    from prunebook import plots

    final = _normalisable(data.balanced_final())
    if not len(final):
        print("No figure yet: no balanced, normalisable runs.")
        return None
    final = final[final["agent"].isin(data.selection.agents)]
    return plots.plot_iqm_vs_width(final, scale=scale_description(final),
                                   rng=np.random.default_rng([seed, 1]), reps=reps,
                                   title=title + _preliminary(data))


def figure_per_game(data: ChapterData, agent: str | None = None, x: str = "width",
                    series: str = "sparsity", curves: bool = False, width: int | None = None,
                    title: str = "Raw final score per game (mean ± std over seeds)"):
    """Per-game panels of raw scores (final scores vs width, or learning curves)."""
    from prunebook import plots

    if curves:
        df = data.runs[data.runs["run_id"].isin(data.balanced_ids())]
        df = df.assign(score=df["train_return"])
    else:
        df = data.final(data.balanced_ids())
    if agent is not None and len(df):
        df = df[df["agent"] == agent]
    if width is not None and len(df):
        df = df[df["width"] == width]
    if not len(df):
        print("No figure yet: no balanced runs.")
        return None
    scale = scale_description(data.final(data.balanced_ids()))
    fig = plots.plot_per_game(df, scale=scale, x=x, value="score", series=series,
                              title=title + _preliminary(data))
    if x == "width":
        for ax in fig.axes:
            ax.set_xticks(sorted(df["width"].unique()))
    return fig


def figure_learning_curves(data: ChapterData, width: int, seed: int = 0, reps: int = FIGURE_REPS,
                           title: str = "IQM learning curves"):
    """Fig 3 style: IQM of normalised training returns per iteration, 95% CI bands."""
    from prunebook import plots

    curves = data.balanced_curves()
    if len(curves):
        curves = curves[(curves["width"] == width) & curves["normalized"].notna()]
    if not len(curves):
        print("No figure yet: no balanced, normalisable runs.")
        return None
    final = data.balanced_final()
    fig = plots.plot_learning_curves(curves, scale=scale_description(final[
        final["width"] == width]), rng=np.random.default_rng([seed, 3]), reps=reps,
        series="sparsity", title=title + _preliminary(data))
    config = RunConfig.from_dict(next(iter(data.configs.values())))
    start, end = pruning_window(config)
    for ax in fig.axes:
        ax.axvspan(start, end, color="0.5", alpha=0.1, linewidth=0, zorder=0)
        ax.text((start + end) / 2, 0.02, "pruning", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=8, color="0.35")
    return fig


def pruning_window(config: RunConfig) -> tuple[int, int]:
    """Agent steps at which a run's GMP schedule starts and ends (updates start after the
    `min_replay_history` warm-up, then one every `update_period` agent steps)."""
    from prunebook.pruning import GMPSchedule

    s = GMPSchedule.from_run_length(0.95, config.total_updates, config.prune_start_frac,
                                    config.prune_end_frac, config.mask_update_every)
    steps = config.min_replay_history, config.update_period
    return (steps[0] + s.start_update * steps[1], steps[0] + s.end_update * steps[1])


# --------------------------------------------------------------------------- commands
def _grid_command(preset: str, name: str, agents, games, widths, sparsities, seeds,
                  verb: str = "run") -> str:
    workers = " --workers 1" if verb == "run" else ""
    games = list(games)
    lines = [" ".join(games[i:i + 5]) for i in range(0, len(games), 5)]
    return (f".venv/bin/prunebook {verb} --preset {preset} --name {name}{workers} \\\n"
            f"    --agents {' '.join(agents)} --widths {' '.join(map(str, widths))} "
            f"--sparsities {' '.join(f'{s:g}' for s in sparsities)} \\\n"
            f"    --seeds {' '.join(map(str, seeds))} \\\n"
            "    --games " + " \\\n            ".join(lines))


def run_commands(sel: Selection, verb: str = "run") -> list[str]:
    """Shell commands that produce (verb "run") or report on (verb "status") exactly the runs
    `sel` needs, at `sel.preset`."""
    if sel.preset == "cpu":
        return [f".venv/bin/prunebook {verb} --sweep online_cpu  # the sweep of chapters 1-3"]
    return [_grid_command(sel.preset, sel.sweep_name, a, sel.games, w, s, sel.seeds, verb)
            for a, w, s in sel.blocks]


def paper_instructions(notebook_name: str, agents: Sequence[str], widths: Sequence[int],
                       sparsities: Sequence[float]) -> str:
    """The exact commands that rerun a chapter at paper scale on a GPU machine (Markdown)."""
    sel = selection("paper", agents, widths, sparsities, seeds=PAPER_SEEDS, check=False)
    runs = len(sel.configs())
    train = "\n".join(run_commands(sel))
    status = "\n".join(run_commands(sel, "status"))
    return (
        f"At paper scale this chapter needs {runs} runs of 10M agent steps (40M frames) on the "
        "15 Atari games; the paper reports about 2 days per run on a P100. On a GPU machine, "
        "from the repository root:\n\n"
        "```bash\n"
        '.venv/bin/pip install -U "jax[cuda12]==0.10.2"\n'
        f"{train}\n"
        f"# progress:\n{status}\n"
        f".venv/bin/papermill notebooks/{notebook_name}.ipynb /tmp/{notebook_name}_paper.ipynb "
        "-p preset paper\n"
        "```\n\n"
        f"Runs land in `results/{sel.sweep_name}/`; rerunning a command skips finished runs "
        "and resumes interrupted ones. The chapters of this book share those runs. Several "
        "runs can share one GPU, or a Ray cluster can run them: see `book/paper_scale.md`.")
