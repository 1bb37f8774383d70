"""Offline RL (the paper's §4.4, Fig 8): the run config, its presets and the book's sweep.

The paper trains CQL and CQL+C51 on "a random 5% sample of all the environment interactions
collected by a DQN agent" -- the DQN Replay Dataset (Agarwal et al. 2020), which cannot be
downloaded here (dossier §5.2). We regenerate its MinAtar analogue deterministically from a seed
(`prunebook.offline_data`: one logged online DQN run per game, written in the DQN Replay
Dataset's file layout, and a uniform 5% sample of it in a fixed replay) and train on it with
`prunebook.offline_train` (gradient steps on the fixed replay, then online evaluation).

Units: offline runs take **no environment steps to learn**. `num_env_steps` is 0 and the
results' `env_steps` column stays 0; learning curves are drawn against `gradient_updates`.
After each iteration the agent is evaluated online for `eval_episodes` episodes with
epsilon_eval, as Dopamine's `FixedReplayRunner` does; those steps are not counted (Dopamine does
not count them either) and their mean return is the run's score for that iteration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from prunebook.config import (
    ALLOCATIONS,
    LOSSES,
    MINATAR_GAMES,
    OFFLINE_AGENTS,
    ConfigError,
    FrozenConfig,
    RunConfig,
    preset_config,
)

OFFLINE_PRESETS = ("ci", "cpu")  # the offline agents run on MinAtar only
DATASET_RECIPES = ("ci", "cpu")  # which online DQN run is logged: see `logging_config`


@dataclasses.dataclass(frozen=True)
class OfflineConfig(FrozenConfig):
    """One offline run: CQL or CQL+C51 on a fixed sample of a logged DQN run (a results file
    stores all of it). Fields shared with `RunConfig` mean the same thing."""

    agent: str = "cql"  # "cql" (DQN head) or "cql_c51" (C51 head: Dopamine's offline Rainbow)
    suite: str = "minatar"  # MinAtar only (the DQN Replay Dataset is not reachable here)
    game: str = "Breakout"
    network: str = "minatar"
    width: int = 1  # multiplies conv channels
    scale_dense: bool = False
    final_sparsity: float = 0.0  # 0 = dense baseline through the same gmp code path
    allocation: str = "erk"
    prune_start_frac: float = 0.2  # of the run's gradient updates (paper §4.4: schedule rescaled)
    prune_end_frac: float = 0.8
    mask_update_every: int = 1000  # gradient updates between mask recomputations
    seed: int = 0  # network init, minibatches, evaluation, and which 5% sample is drawn
    preset: str = "ci"

    dataset: str = "ci"  # logged DQN run: the online DQN config of this preset (DATASET_RECIPES)
    dataset_seed: int = 0  # seed of that logged DQN run
    dataset_fraction: float = 0.05  # the paper's "random 5% sample"
    num_iterations: int = 3  # paper: 200
    updates_per_iteration: int = 300  # gradient steps per iteration (Dopamine: 62,500)
    eval_episodes: int = 4  # online epsilon_eval episodes after each iteration (>= 1)
    epsilon_eval: float = 0.001
    batch_size: int = 32
    gamma: float = 0.99
    n_step: int = 1  # update horizon: CQL 1, CQL+C51 3 (Table 3)
    target_update_period: int = 1000  # gradient updates between target syncs
    learning_rate: float = 2.5e-4
    adam_eps: float = 3.125e-4
    loss: str = "huber"  # TD loss of the DQN head (Dopamine's offline agents: Huber)
    cql_alpha: float = 0.1  # weight of the CQL regulariser (Dopamine's bc_coefficient)
    num_atoms: int = 51  # CQL+C51 only
    v_max: float = 10.0  # CQL+C51 only
    dueling: bool = False  # CQL+C51: True (Table 3)
    double_dqn: bool = False  # CQL+C51: True (Table 3)

    def __post_init__(self):
        choose = self._choose
        choose("agent", OFFLINE_AGENTS)
        choose("suite", ("minatar",))
        choose("network", ("minatar",))
        choose("game", MINATAR_GAMES)
        choose("preset", OFFLINE_PRESETS)
        choose("allocation", ALLOCATIONS)
        choose("loss", LOSSES)
        choose("dataset", DATASET_RECIPES)
        self._check_bools(("scale_dense", "dueling", "double_dqn"))
        self._check_ints(("width", "num_iterations", "updates_per_iteration", "eval_episodes",
                          "batch_size", "n_step", "target_update_period", "mask_update_every",
                          "num_atoms"), minimum=1)
        self._check_ints(("seed", "dataset_seed"), minimum=0)
        self._check_pruning()
        if not 0.0 < self.dataset_fraction <= 1.0:
            raise ConfigError(f"dataset_fraction must be in (0, 1], got {self.dataset_fraction!r}")
        self._check_unit_interval(("gamma", "epsilon_eval"))
        for name in ("learning_rate", "adam_eps", "v_max"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not self.cql_alpha >= 0:
            raise ConfigError(f"cql_alpha must be >= 0, got {self.cql_alpha!r}")
        if self.agent == "cql_c51" and self.num_atoms < 2:
            raise ConfigError(f"num_atoms={self.num_atoms}: the C51 head needs at least 2 atoms")

    # --- what the runner reads ------------------------------------------------------------
    @property
    def iteration_env_steps(self) -> int:
        """The runner's progress unit; for offline runs it counts gradient updates."""
        return self.updates_per_iteration

    @property
    def num_env_steps(self) -> int:
        """Environment steps used for learning: none (evaluation steps are not counted)."""
        return 0

    @property
    def total_updates(self) -> int:
        """Gradient updates in the run; the GMP schedule prunes from 20% to 80% of them."""
        return self.num_iterations * self.updates_per_iteration

    @property
    def replay_capacity(self) -> int:
        """About how many transitions the fixed buffer holds (Table 3's "fixed replay
        capacity"); it is rebuilt from the dataset on resume, never checkpointed."""
        logged = logging_config(self.game, self.dataset, self.dataset_seed).num_env_steps
        return max(1, round(self.dataset_fraction * logged))


# --- presets ---------------------------------------------------------------------------------

def _agent_defaults(agent: str) -> dict[str, Any]:
    """Per-agent settings of the paper's Table 3 / Dopamine's offline gin files, at MinAtar scale.

    CQL: n = 1, no dueling, no double DQN, Huber TD loss; target sync every 1,000 updates
    (the paper does not give it: Dopamine's offline DQN/CQL gins use 2,000, MinAtar's DQN
    (Young & Tian 2019) 1,000 -- we take MinAtar's, UNCONFIRMED). CQL+C51 = Dopamine's
    `OfflineJaxRainbowAgent` (`jax_rainbow.gin`): n = 3, 51 atoms, v_max 10, dueling, double
    DQN, target sync every 100 updates. Both: CQL weight 0.1, batch 32, gamma 0.99.
    Learning rate: Table 3 gives 5e-5 (CQL) / 6.25e-5 (CQL+C51) for 12.5M updates; our runs are
    ~100x shorter, so both use the MinAtar rate of the online chapters and of the DQN that
    logged the data (2.5e-4, Adam eps 3.125e-4).
    """
    if agent == "cql":
        return dict(agent=agent, n_step=1, dueling=False, double_dqn=False,
                    target_update_period=1000)
    if agent == "cql_c51":
        return dict(agent=agent, n_step=3, dueling=True, double_dqn=True,
                    target_update_period=100)
    raise ConfigError(f"agent={agent!r} is not allowed; choose one of {list(OFFLINE_AGENTS)}")


def offline_ci_config(agent: str = "cql", **overrides: Any) -> OfflineConfig:
    """Seconds per run: 3 iterations x 300 updates on 5% (1,000 transitions) of the ci log."""
    base = dict(_agent_defaults(agent), preset="ci", dataset="ci", num_iterations=3,
                updates_per_iteration=300, eval_episodes=4, mask_update_every=50)
    base["target_update_period"] = min(base["target_update_period"], 100)
    base.update(overrides)
    return OfflineConfig(**base)


CPU_NUM_ITERATIONS = 25
CPU_UPDATES_PER_ITERATION = 2_500


def offline_cpu_config(agent: str = "cql", **overrides: Any) -> OfflineConfig:
    """The book's offline setting (Fig 8 analogue on MinAtar).

    Data: 5% of the full log of one `cpu`-preset online DQN run per game (the dense width-1
    DQN of chapters 1-3: 500k agent steps in 40 checkpoints, so ~25k sampled transitions) --
    the DQN Replay Dataset is 5% of a whole standard DQN run, so we log our whole standard run.
    Length: 25 iterations x 2,500 updates = 62,500 updates (the paper: 200 x 62,500 = 12.5M,
    i.e. our whole run is one of the paper's iterations), pruning from update 12k to 50k with
    masks every 1,000 updates; 10 evaluation episodes after each iteration.
    Why this length: it is the most that keeps the 144-run `offline_cpu` sweep, with its four
    logging runs, within about 5 CPU core-hours (measured cost in `offline_sweep`: ~4.2).
    """
    base = dict(_agent_defaults(agent), preset="cpu", dataset="cpu",
                num_iterations=CPU_NUM_ITERATIONS, updates_per_iteration=CPU_UPDATES_PER_ITERATION,
                eval_episodes=10, mask_update_every=1000)
    base.update(overrides)
    return OfflineConfig(**base)


def offline_preset_config(preset: str, agent: str = "cql", **overrides: Any) -> OfflineConfig:
    if preset == "ci":
        return offline_ci_config(agent, **overrides)
    if preset == "cpu":
        return offline_cpu_config(agent, **overrides)
    raise ConfigError(f"preset={preset!r} is not allowed for offline runs; choose one of "
                      f"{list(OFFLINE_PRESETS)}")


def logging_config(game: str, recipe: str, seed: int = 0) -> RunConfig:
    """The online DQN run (width 1, dense) whose transitions make the dataset.

    "cpu": the `cpu` preset's DQN run unchanged (one checkpoint per iteration: 40).
    "ci": the `ci` preset lengthened to 20k agent steps (10 checkpoints of 2k), the least at
    which DQN clearly beats the random policy on Breakout (return ~3-4 vs 0.44), so that
    scores can be normalised by the behaviour policy even in the tiny runs.
    """
    if recipe == "cpu":
        return preset_config("cpu", "dqn", game=game, seed=seed)
    if recipe == "ci":
        return preset_config("ci", "dqn", game=game, seed=seed, num_env_steps=20_000,
                             iteration_env_steps=2_000, epsilon_decay_steps=5_000)
    raise ConfigError(f"dataset={recipe!r} is not allowed; choose one of {list(DATASET_RECIPES)}")


# --- the book's sweep --------------------------------------------------------------------------

BOOK_GAMES = ("Asterix", "Breakout", "Freeway", "SpaceInvaders")
BOOK_SEEDS = (0, 1, 2)


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
    (less with `offline_train.use_compilation_cache`: runs differing only in sparsity or seed
    share compiled code); four 500k-step logging runs 4 x 115 s = 0.13 h. Total about 4.2 CPU
    core-hours (2.1 h on 2 workers). Measured on the whole sweep (2026-11-25, other work sharing
    the cores): 3.25 h in training iterations + 0.07 h logging, 1 h 36 min on 2 workers.
    Run `prepare_sweep` first (`prunebook run` does).
    """
    from prunebook.runner import Grid, Sweep

    extra = tuple(sorted(overrides.items()))
    grid = Grid(tuple(agents), tuple(games), tuple(widths), tuple(sparsities), tuple(seeds),
                preset, extra, make_config=offline_preset_config)
    return Sweep(name or f"offline_{preset}", (grid,))


def prepare_sweep(sweep, results_root: Path | str = "results",
                  dataset_root: Path | str | None = None) -> list[Path]:
    """Log every dataset the sweep's runs need and record the logging runs in its results."""
    from prunebook.offline_data import ensure_datasets

    needed = sorted({(c.game, c.dataset, c.dataset_seed) for c in sweep.configs()})
    folders = []
    for game, recipe, seed in needed:
        folders += ensure_datasets([game], recipe, [seed], dataset_root, results_root, sweep.name)
    return folders


# --- chapter 4: where the runs come from, and what is shown ------------------------------------

NOT_YET_RUN = ("not yet run: no offline results in {folder}. The offline sweep has not been run "
               "(`prunebook run --sweep offline_cpu` after `prepare_sweep`), or run this notebook "
               "with preset='ci' to train a tiny version live.")


def chapter_configs(preset: str, agents: Sequence[str], games: Sequence[str],
                    widths: Sequence[int], sparsities: Sequence[float],
                    seed: int = 0) -> list[OfflineConfig]:
    """The runs the chapter shows: the `offline_cpu` sweep restricted to the parameters, or at
    "ci" one game (Breakout if chosen, where the tiny logging run clearly beats random play;
    else the first) and one seed (`seed`)."""
    if preset == "ci":
        games, seeds = ("Breakout",) if "Breakout" in games else tuple(games)[:1], (seed,)
    else:
        seeds = BOOK_SEEDS
    sweep = offline_sweep(preset, games=games, seeds=seeds, widths=widths,
                          sparsities=sparsities, agents=agents)
    return sweep.configs()


def run_live(configs: Sequence[OfflineConfig], workdir: Path | str | None = None,
             sweep_name: str = "offline_ci") -> Path:
    """Train `configs` here and now (the ci path of the chapter); returns the results root.

    Datasets go to the usual cache (they are deterministic); results and checkpoints to
    `workdir` (a new temporary folder by default). Runs that differ only in sparsity or seed
    share compiled code through JAX's persistent compilation cache.
    """
    import tempfile

    from prunebook import runner
    from prunebook.offline_train import use_compilation_cache

    use_compilation_cache()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="prunebook-offline-"))
    sweep = runner.Sweep(sweep_name, (_FixedGrid(tuple(configs)),))
    prepare_sweep(sweep, workdir / "results")
    runner.SerialExecutor().run(sweep.configs(), sweep_name, workdir / "results",
                                workdir / "checkpoints", lambda kind, event: None)
    return workdir / "results"


@dataclasses.dataclass(frozen=True)
class _FixedGrid:
    runs: tuple[OfflineConfig, ...]

    def configs(self) -> list[OfflineConfig]:
        return list(self.runs)


class OfflineAnalysis(NamedTuple):
    coverage: str  # how many of the expected runs have finished
    behaviour: Any  # per game: final training return of the DQN that logged the data
    curves: Any  # per (run, iteration): normalized evaluation return vs gradient_updates
    final: Any  # per run: `score` (mean of the last iterations) and `normalized`
    iqm: Any  # per (agent, width, sparsity): IQM of normalized final scores and its 95% CI
    claims: Any  # claim 4 rows, as the front page computes them (complete comparisons only)
    scale: str  # games, updates, seeds, preset: what every number is about
    results: tuple = ()  # the claim 4 `ClaimResult`s behind `claims`, for `summary`
    sensitivity: Any = None  # the same rows with final = mean of `sensitivity_iterations`


CLAIM_ITERATIONS = 1  # verdicts score a run by its last evaluation (the front page's rule)


def analyse(results_root: Path | str, sweep: str, expected: Sequence[OfflineConfig],
            last_iterations: int = 1, reps: int = 2_000, seed: int = 0,
            sensitivity_iterations: int = 3) -> OfflineAnalysis | None:
    """Everything chapter 4 shows, from `results/<sweep>/`; None when none of `expected` ran.

    Scores are the online evaluation returns (`train_return` of offline runs); a run's final
    score is their mean over its last `last_iterations` iterations. MinAtar normalisation: the
    behaviour DQN run recorded in the same sweep (`ensure_datasets`) is 1.0, random play 0.0.
    Figures use the runs present; a claim's verdict needs its whole comparison (both sides, every
    game and seed, and the behaviour runs), otherwise it is "not yet run". Verdicts always score
    a run by its last evaluation (`CLAIM_ITERATIONS`, the rule of the front page's table, fixed
    before the results) whatever `last_iterations` the figures use; `sensitivity` repeats them
    with the mean of the last `sensitivity_iterations` evaluations.
    """
    import pandas as pd

    from prunebook import claims, normalization, results, stats

    runs = results.load_runs(results_root, sweep=sweep)
    wanted = {c.run_id for c in expected}
    behaviour_ids = {logging_config(c.game, c.dataset, c.dataset_seed).run_id for c in expected}
    runs = runs[runs["run_id"].isin(wanted | behaviour_ids)]
    present = set(runs["run_id"]) & wanted
    if not present:
        return None
    coverage = f"{len(present)} of {len(wanted)} offline runs finished"
    final_all = results.final_scores(runs, last_iterations=last_iterations)
    normalized = normalization.normalize_frame(final_all)
    behaviour = normalized[normalized["agent"] == "dqn"][["game", "seed", "score"]].rename(
        columns={"seed": "dataset_seed", "score": "behaviour final return"})
    final = normalized[normalized["agent"] != "dqn"].reset_index(drop=True)
    per_iter = runs[runs["agent"] != "dqn"]
    curves = normalization.normalize_frame(per_iter.assign(score=per_iter["train_return"]),
                                           reference_df=final_all)
    curves["panel"] = curves["agent"] + " w" + curves["width"].astype(str)

    rng = np.random.default_rng(seed)
    rows = []
    for (agent, width, sparsity), group in final.groupby(["agent", "width", "sparsity"]):
        group = group[group["normalized"].notna()]
        if not len(group):
            continue
        matrix = normalization.score_matrix(group, "normalized")
        point, interval = stats.interval_estimates({"x": matrix}, "iqm", rng=rng, reps=reps)
        rows.append({"agent": agent, "width": width, "sparsity": sparsity,
                     "games": matrix.shape[1], "runs/game": matrix.shape[0],
                     "IQM": float(point["x"]), "ci_low": float(interval["x"][0]),
                     "ci_high": float(interval["x"][1])})
    iqm = pd.DataFrame(rows, columns=["agent", "width", "sparsity", "games", "runs/game", "IQM",
                                      "ci_low", "ci_high"])

    def verdicts_at(iterations: int) -> list:
        """Claim 4 rows with a run's final score = mean of its last `iterations` evaluations;
        generator and replicates as `claims.evaluate_all`, so at 1 they equal the front page."""
        scores = results.final_scores(runs, last_iterations=iterations)
        out = []
        for claim in (c for c in claims.CLAIMS if c.id.startswith("4-")):
            sides = [(claim.numerator.agent, claim.numerator.width, s)
                     for s in (claim.numerator.sparsity, claim.denominator.sparsity)]
            needed = {c.run_id for c in expected if (c.agent, c.width, c.final_sparsity) in sides}
            if not needed:
                continue  # this comparison is outside the chosen parameters
            missing = (needed - present) | (behaviour_ids - set(runs["run_id"]))
            scale = f"sweep {sweep} · {len(needed) - len(needed - present)}/{len(needed)} runs"
            if missing:
                out.append(claims.ClaimResult(
                    claim.id, "not yet run", None, None, claim.paper, scale,
                    note=f"waiting for {len(missing)} runs of this comparison"))
                continue
            subset = scores[scores["run_id"].isin(needed | behaviour_ids)]
            out.append(claims.evaluate(claim, subset, claims.claim_rng(claim.id, seed)))
        return out

    def as_table(rows):
        return pd.DataFrame([claims._fmt(r) for r in rows],
                            columns=["claim", "paper", "ours", "ci95", "scale", "verdict"])

    verdicts = verdicts_at(CLAIM_ITERATIONS)
    table = as_table(verdicts)
    sensitivity = as_table(verdicts_at(sensitivity_iterations))

    updates = int(per_iter["gradient_updates"].max())
    seeds = final.groupby(["agent", "width", "sparsity", "game"]).size().max()
    scale = (f"MinAtar {', '.join(sorted(final['game'].unique()))} · {updates:,} gradient "
             f"updates · {seeds} seed(s) per game · preset {', '.join(final['preset'].unique())}"
             f" · final = {final_rule(last_iterations)} · {coverage}")
    return OfflineAnalysis(coverage, behaviour.reset_index(drop=True), curves, final, iqm, table,
                           scale, tuple(verdicts), sensitivity)


def final_rule(last_iterations: int) -> str:
    return ("last evaluation" if last_iterations == 1
            else f"mean of last {last_iterations} evaluations")


def collapse_table(curves, last_iterations: int = 1):
    """Does an agent peak and then fall while it keeps training on the same data (the offline
    "performance collapse" the paper says pruning avoids)? Per (agent, width, sparsity): the IQM
    over all runs of the normalised evaluation return at each iteration; `peak` is its best
    iteration, `final` the mean of the last `last_iterations`, `drop` = peak - final."""
    import pandas as pd

    from prunebook import stats

    rows = []
    for (agent, width, sparsity), group in curves.groupby(["agent", "width", "sparsity"]):
        by_update = group.groupby("gradient_updates")["normalized"]
        per_iteration = by_update.apply(lambda v: float(stats.iqm(v.to_numpy()[None, :])))
        final = float(per_iteration.iloc[-last_iterations:].mean())
        rows.append({"agent": agent, "width": width, "sparsity": sparsity,
                     "runs": group["run_id"].nunique(), "peak": float(per_iteration.max()),
                     "peak_update": int(per_iteration.idxmax()), "final": final,
                     "drop": float(per_iteration.max()) - final})
    return pd.DataFrame(rows, columns=["agent", "width", "sparsity", "runs", "peak",
                                       "peak_update", "final", "drop"])


def summary(analysis: OfflineAnalysis, last_iterations: int = 1) -> str:
    """What chapter 4's runs say, in sentences built from the numbers (Markdown): one per
    claim-4 comparison (its verdict) and one per width on the collapse (dense vs 95%)."""
    from prunebook import claims
    from prunebook.chapters.verdicts import sentence

    runs_per_game = int(analysis.final.groupby(["agent", "width", "sparsity", "game"])
                        .size().min())
    lines = [f"* {sentence(r, claims.CLAIMS_BY_ID[r.claim_id], runs_per_game)}"
             for r in analysis.results]
    collapse = collapse_table(analysis.curves, last_iterations)
    for (agent, width), group in collapse.groupby(["agent", "width"]):
        parts = [f"{'dense' if row.sparsity == 0 else f'{row.sparsity:.0%} sparse'} peaks at "
                 f"{row.peak:.2f} (update {row.peak_update:,}) and ends at {row.final:.2f}"
                 for row in group.itertuples(index=False)]
        lines.append(f"* **Collapse, {agent} w{width}** (IQM of normalised return over the "
                     f"finished runs): {'; '.join(parts)}.")
    return "\n".join(lines)


def setting_table(configs: Sequence[OfflineConfig]):
    """Our offline setting next to the paper's (Table 3, dossier §2.2/§3.5/§5.2), per agent."""
    import pandas as pd

    from prunebook.pruning import GMPSchedule

    rows = []
    for agent in sorted({c.agent for c in configs}):
        c = next(c for c in configs if c.agent == agent)
        log = logging_config(c.game, c.dataset, c.dataset_seed)
        schedule = GMPSchedule.from_run_length(0.95, c.total_updates, c.prune_start_frac,
                                               c.prune_end_frac, c.mask_update_every)
        paper_lr = "5e-5 / 3.125e-4" if agent == "cql" else "6.25e-5 / 1.5e-4"
        rows += [
            (agent, "data", f"{c.dataset_fraction:.0%} uniform sample of one logged DQN run "
             f"({log.num_env_steps:,} MinAtar transitions, {log.num_iterations} checkpoints)",
             "5% sample of the DQN Replay Dataset (50M Atari transitions per game)"),
            (agent, "games", ", ".join(sorted({x.game for x in configs})), "17 Atari games"),
            (agent, "network", f"MinAtar CNN, widths {sorted({x.width for x in configs})}",
             "Impala ResNet, widths 1, 3"),
            (agent, "gradient updates", f"{c.num_iterations} x {c.updates_per_iteration:,} = "
             f"{c.total_updates:,}", "200 x 62,500 = 12.5M"),
            (agent, "pruning (updates)", f"{schedule.start_update:,} -> {schedule.end_update:,}, "
             f"masks every {schedule.update_every:,}", "2.5M -> 10M (20% -> 80%, derived)"),
            (agent, "n-step / dueling / double DQN",
             f"{c.n_step} / {c.dueling} / {c.double_dqn}",
             "1 / False / False" if agent == "cql" else "3 / True / True"),
            (agent, "target sync (updates)", f"{c.target_update_period:,}",
             "UNCONFIRMED (Dopamine offline DQN: 2,000)" if agent == "cql" else "100"),
            (agent, "Adam lr / eps", f"{c.learning_rate:g} / {c.adam_eps:g}", paper_lr),
            (agent, "CQL weight, batch, gamma", f"{c.cql_alpha:g}, {c.batch_size}, {c.gamma:g}",
             "0.1, 32, 0.99"),
            (agent, "evaluation per iteration",
             f"{c.eval_episodes} episodes, epsilon {c.epsilon_eval:g}",
             "125,000 steps, epsilon 0.001"),
        ]
    return pd.DataFrame(rows, columns=["agent", "setting", "ours", "paper"])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m prunebook.offline",
        description="Log the datasets of an offline sweep and record the logging DQN runs in its "
                    "results (run this before `prunebook run --sweep offline_<preset>`).")
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--preset", default="cpu", choices=list(OFFLINE_PRESETS))
    parser.add_argument("--results", default="results", help="results root (committed)")
    args = parser.parse_args()
    for folder in prepare_sweep(offline_sweep(args.preset), args.results):
        print(folder)
