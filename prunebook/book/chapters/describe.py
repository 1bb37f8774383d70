"""What a chapter's runs are: the one-line scale that every figure and verdict carries, the
setup table that sets our runs next to the paper's setting, and the list of results files
whose config differs from today's preset. All of it is computed from
the configs stored in the results files (or, before any run finished, from the preset), so the
description cannot drift away from the runs it describes.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from prunebook.analysis import random_policy
from prunebook.book.chapters.data import ChapterData
from prunebook.book.chapters.tables import readable
from prunebook.config import RunConfig, paper_config
from prunebook.envs.minatar import observation_shape
from prunebook.networks import count_params, make_network
from prunebook.pruning import GMPSchedule
from prunebook.spec import PAPER_15_GAMES, PAPER_SEEDS

ATARI_ENV = "Atari 2600 (ALE), 84×84 grey frames, 4 stacked, sticky actions"


def scale_description(final_df: pd.DataFrame) -> str:
    """One line saying what a frame of per-run results covers: suite, games, steps, seeds."""
    if not len(final_df):
        return "no runs"
    suite = ", ".join(sorted({"MinAtar" if s == "minatar" else "Atari" if s == "atari" else s
                              for s in final_df["suite"]}))
    games = sorted(final_df["game"].unique())
    # a method (weight decay, a static mask, ...) is its own configuration: grouped with plain
    # dense, L2's 2 seeds hid behind dense's 3
    config = ["agent", "width", "sparsity", *(["method"] if "method" in final_df else []), "game"]
    per = final_df.groupby(config)["seed"].nunique()
    seeds = f"{per.min()}" if per.min() == per.max() else f"{per.min()}-{per.max()}"
    parts = [f"{suite}, {len(games)} game{'s' * (len(games) > 1)} ({', '.join(games)})"]
    if "env_steps" in final_df.columns:
        steps = final_df["env_steps"].astype(float)
        lo, hi = int(steps.min()), int(steps.max())
        frames = " (×4 frames)" if set(final_df["suite"]) == {"atari"} else ""
        parts.append(f"{hi:,} agent steps{frames} per run" if lo == hi
                     else f"{lo:,}-{hi:,} agent steps per run")
    parts.append(f"{seeds} seed{'s' if per.max() > 1 else ''} per configuration and game")
    parts.append("preset " + ", ".join(sorted(final_df["preset"].unique())))
    return " · ".join(parts)


def _param_count(network: str, width: int, obs_shape, num_actions: int, scale_dense=False,
                 num_atoms: int = 0) -> int:
    import jax
    import jax.numpy as jnp

    net = make_network(network, num_actions, width=width, scale_dense=scale_dense,
                       num_atoms=num_atoms)
    shapes = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, *obs_shape), jnp.uint8))
    return count_params(shapes)


def _schedule(config: RunConfig) -> str:
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
            f"× {config.iteration_env_steps:,}); {config.total_updates:,} gradient updates, "
            f"one per {config.update_period} agent steps")


def _network(config: RunConfig, widths, game: str) -> str:
    if config.network == "minatar":
        obs = observation_shape(game)
        actions = random_policy.random_scores(config.preset)[game]["num_actions"]
        head = "128·w" if config.scale_dense else "128"
        text = f"MinAtar CNN: conv 3×3 with 16·w channels → dense {head} → Q-values"
        ref_game = game
    else:
        obs, actions, ref_game = (84, 84, 4), 18, "18 actions"
        head = "512·w" if config.scale_dense else "512"
        text = (f"{config.network.capitalize()} network"
                if config.network != "impala" else
                f"Impala ResNet: stacks of (16, 32, 32)·w channels, 2 residual blocks each "
                f"→ dense {head} → Q-values")
    counts = ", ".join(
        f"×{w}: {_param_count(config.network, w, obs, actions, config.scale_dense) / 1e6:.2f}M"
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
    env = ("MinAtar (gymnax): 10×10 binary frames, one channel per object type"
           if mine.suite == "minatar" else ATARI_ENV)
    games = f"{len(sel.games)}: {', '.join(sel.games)}"
    paper15 = PAPER_15_GAMES
    rows = {
        "environment": (env, ATARI_ENV),
        "games": (games, f"15: {', '.join(paper15)}"),
        "network": (_network(mine, sel.widths, game),
                    _network(paper_dqn, sel.widths, "Breakout")),
        "training": (_training(mine), _training(paper_dqn)),
        "pruning": (_schedule(mine), _schedule(paper_dqn)),
        "agents": (_agents(by_agent), _agents(paper)),
        "seeds": (f"{len(sel.seeds)} per configuration and game", f"{len(PAPER_SEEDS)}"),
        "score": ("mean return of the training episodes in the last iteration",
                  "the same (Dopamine's training return after 40M frames)"),
        "normalisation": ("(score − random) / (dense ×1 DQN − random), per game; 1 = the "
                          "original network", "human-normalised: (score − random) / "
                          "(human − random)"),
        "statistics": ("IQM over runs × games, 95% stratified-bootstrap CIs with the reference "
                       "runs resampled inside every replicate; robustness checks beside each "
                       "verdict", "IQM, 95% stratified-bootstrap CIs (rliable)"),
    }
    footnote = ""
    if stored:
        cell, footnote = _code_versions(data.records)
        rows["run files"] = (cell, "—")
    table = pd.DataFrame(rows, index=["this chapter", "paper"]).T
    table.index.name = "setting"
    table.attrs["footnote"] = footnote  # shown under the table by show_table
    return table


def _code_versions(records) -> tuple[str, str]:
    """The "run files" cell (how many records, the code versions that trained them, a version
    with uncommitted changes marked "*") and the footnote that says what the mark means, with
    the runs of each such version ("" when there are none). A resumed run counts every
    version that trained part of it (its record's `code_versions`)."""
    runs: dict[str, set[str]] = {}
    for r in records:
        versions = {str(r.get("code_version", "unknown"))} | {
            str(v["code_version"]) for v in r.get("code_versions", ())}
        for version in versions:
            runs.setdefault(version, set()).add(r["run_id"])
    clean = sorted({v[:7] for v in runs if not v.endswith("-dirty")})
    dirty = {v[:7]: sorted(ids) for v, ids in sorted(runs.items()) if v.endswith("-dirty")}
    names = clean + [f"{v}*" for v in dirty]
    cell = (f"{len(records)} finished, trained by {len(names)} code "
            f"version{'s' * (len(names) > 1)} (git commits): {', '.join(names)}")
    if not dirty:
        return cell, ""
    each = "; ".join(f"{v}: {', '.join(ids)}" for v, ids in dirty.items())
    n = sum(map(len, dirty.values()))
    return cell, (f"\\* A commit with changes not yet committed when the run trained ({n} "
                  f"run{'s' * (n > 1)}: {each}). Their records say so (a code version ending "
                  "in `-dirty`); what the changes were is not recorded.")


def config_drift(data: ChapterData) -> pd.DataFrame:
    """Where the results files' configs differ from what the preset makes today: one row per
    field, with how many files differ and one of them (fields a file predates count only if
    today's value is not the field's default). Empty when nothing differs."""
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    expected = {c.run_id: c.to_dict() for c in data.expected}
    fields: dict[str, list[tuple]] = {}
    for run_id, stored in sorted(data.configs.items()):
        want = expected.get(run_id, {})
        for key in sorted(set(stored) | set(want)):
            mine = stored.get(key, defaults.get(key))
            if key not in want or mine != want[key]:
                fields.setdefault(key, []).append((run_id, repr(mine),
                                                   repr(want[key]) if key in want else "—"))
    rows = [(key, len(runs), *runs[0]) for key, runs in fields.items()]
    return pd.DataFrame(rows, columns=["field", "results files", "e.g. run", "in the file",
                                       "from the preset today"])


def show_table(table: pd.DataFrame) -> None:
    """Display the setup table as a reader sees it (`tables.readable`: no pandas index, no
    truncated cell), then its footnote, if any, as Markdown."""
    from IPython.display import Markdown, display

    display(readable(table, "setup"))
    if table.attrs.get("footnote"):
        display(Markdown(table.attrs["footnote"]))
