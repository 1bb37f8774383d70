"""Chapters 6 and 7: one sweep of other methods (controls, baselines) beside the paper's runs.

`controls_cpu` (chapter 6) and `baselines_cpu` (chapter 7) are compared with `online_cpu`'s
dense and GMP DQN runs, which lend them their comparators and their normalisation reference
(their descriptions in `sweeps.registry`). A :class:`MethodData` holds the sweep's own runs and
the lent ones, relabelled as the sweep's (marked ``borrowed_from``), exactly as the claims
engine sees them, plus the unrelabelled frame the reference is read from. Preset ``ci`` trains
the small `*_ci` sweep (comparators included) in a temporary folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from prunebook.analysis import bootstrap, claims, normalization, plots
from prunebook.analysis.claim_rules import ClaimResult
from prunebook.book.chapters.data import measure_rows
from prunebook.book.chapters.describe import scale_description
from prunebook.book.chapters.source import LIVE_PRESET, resolve_results_root, results_for
from prunebook.book.params import ParameterError
from prunebook.config import ConfigError, config_from_dict
from prunebook.envs.minatar import from_config
from prunebook.networks import make_network
from prunebook.sweeps import registry, store

KINDS = {"": None, "static_random": "static random", "lottery": "lottery ticket",
         "weight_decay": "weight decay", "l2": "L2", "reset": "Reset", "redo": "ReDo"}
FIGURE_REPS = 2_000


@dataclasses.dataclass
class MethodData:
    sweep: str
    preset: str
    source: str  # where the runs came from, in words
    runs: pd.DataFrame  # per (run, iteration): own runs and the lent ones, relabelled
    final: pd.DataFrame  # per run: final score, `normalized`, `kept_weights`, `label`
    final3: pd.DataFrame  # the same scored over the last 3 iterations (robustness)
    reference: pd.DataFrame  # per-run final scores as stored (the lender's under its name)
    measures: pd.DataFrame  # the §5 measures of the runs that logged them
    reruns: pd.DataFrame  # the sweep's reruns of lent runs against the lender's records
    done: int | None = None  # finished runs of the sweep itself
    total: int | None = None


def sweep_name(chapter: str, preset: str) -> str:
    try:
        return registry.find(chapter, preset)
    except ConfigError as error:
        raise ParameterError(f"parameter {error}") from error


def label(method: str, width: int, sparsity: float) -> str:
    """"GMP 95%", "dense", "static random 95%", "dense + ReDo" ... (without the width)."""
    base = "dense" if sparsity == 0 else f"GMP {sparsity:.0%}"
    if method in ("static_random", "lottery"):
        return f"{KINDS[method]} {sparsity:.0%}"
    return base if not method else f"{base} + {KINDS[method]}"


def _kernel_weights(config: dict) -> int:
    """Prunable (kernel) weights of a run's network: what its sparsity is a fraction of."""
    env = from_config(config_from_dict(config))
    net = make_network("minatar", env.num_actions, width=config["width"],
                       scale_dense=config.get("scale_dense", False))
    shapes = jax.eval_shape(net.init, jax.random.key(0),
                            jnp.zeros((1, *env.observation_shape), jnp.float32))
    return sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes) if len(s.shape) > 1)


def _origin(final: pd.DataFrame) -> pd.Series:
    """The sweep each row's results file is in (a lent row's lender)."""
    if "borrowed_from" not in final.columns:
        return final["sweep"]
    return final["borrowed_from"].where(final["borrowed_from"].notna(), final["sweep"])


def _records(root: Path, sweep: str, sparsities=None) -> list[dict]:
    """The DQN records of a sweep folder (every file validated), optionally some sparsities."""
    folder = root / sweep
    records = [store.read_run(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() \
        else []
    return [r for r in records if r["config"]["agent"] == "dqn" and (
        sparsities is None or float(r["config"]["final_sparsity"]) in sparsities)]


def _assemble(sweep: str, preset: str, records: list[dict], source: str) -> MethodData:
    runs = store.runs_frame(records)
    lender = registry.describe(sweep).comparators
    finals = {}
    for n in (1, 3):
        final = store.final_scores(runs, last_iterations=n) if len(runs) else pd.DataFrame(
            columns=[*store.RUN_COLUMNS, "score"])
        finals[n] = final.join(runs.groupby(["sweep", "run_id"])["env_steps"].max(),
                               on=["sweep", "run_id"]) if len(runs) else final
    reference = finals[1]
    out = {}
    for n, final in finals.items():
        own = final[final["sweep"] == sweep]
        group = claims.with_comparators(final, own) if len(own) else own
        if lender and not len(own):  # nothing of our own yet: the lent runs alone
            group = final[final["sweep"] == lender].assign(sweep=sweep, borrowed_from=lender)
        # the group's own (sweep, preset) must be among the reference frame's keys, so that
        # its lender's reference runs are looked up even before the sweep has runs of its own
        out[n] = normalization.normalize_frame(
            group, reference_df=pd.concat([reference, group], ignore_index=True)) \
            if len(group) else group.assign(normalized=pd.Series(dtype=float))
    by_file = {(r["sweep"], r["run_id"]): r for r in records}
    final = out[1]
    if len(final):
        sizes: dict[tuple, int] = {}
        weights = []
        for origin, row in zip(_origin(final), final.itertuples(index=False), strict=True):
            record = by_file[origin, row.run_id]
            if (row.game, row.width) not in sizes:
                sizes[row.game, row.width] = _kernel_weights(record["config"])
            measured = record["iterations"][-1].get("sparsity") or 0.0
            weights.append(sizes[row.game, row.width] * (1.0 - float(measured)))
        final = final.assign(kept_weights=weights, label=[
            label(m, w, float(s)) for m, w, s in zip(final["method"], final["width"],
                                                     final["sparsity"], strict=True)])
    own_runs = runs[runs["sweep"] == sweep]
    lent_runs = runs[runs["sweep"] == lender].assign(sweep=sweep, borrowed_from=lender) \
        if lender else runs.iloc[:0]
    runs = pd.concat([own_runs, lent_runs[~lent_runs["run_id"].isin(own_runs["run_id"])]],
                     ignore_index=True)
    runs = runs.assign(label=[label(m, w, float(s)) for m, w, s in
                              zip(runs["method"], runs["width"], runs["sparsity"], strict=True)])
    return MethodData(sweep, preset, source, runs, final, out[3], reference,
                      measure_rows([r for r in records if r["sweep"] == sweep]),
                      rerun_table(records, sweep, lender))


RERUN_COLUMNS = ["run", "iterations identical", "final return (lender)", "final return (rerun)",
                 "bit-identical", "device (lender)", "device (rerun)"]


def rerun_table(records: list[dict], sweep: str, lender: str | None) -> pd.DataFrame:
    """Runs of ``sweep`` that rerun a run of ``lender`` (same run id): how many leading
    iterations log the same training return and loss, bit for bit, and the final returns."""
    lent = {r["run_id"]: r for r in records if r["sweep"] == lender}
    rows = []
    for rerun in (r for r in records if r["sweep"] == sweep and r["run_id"] in lent):
        original = lent[rerun["run_id"]]
        pairs = list(zip(original["iterations"], rerun["iterations"], strict=False))
        same = next((i for i, (a, b) in enumerate(pairs) if (a["train_return"], a["loss"])
                     != (b["train_return"], b["loss"])), len(pairs))
        identical = same == len(pairs) == len(original["iterations"])
        rows.append((rerun["run_id"], f"{same} of {len(original['iterations'])}",
                     original["iterations"][-1]["train_return"],
                     rerun["iterations"][-1]["train_return"], identical,
                     original.get("device", "?"), rerun.get("device", "?")))
    return pd.DataFrame(rows, columns=RERUN_COLUMNS).set_index("run")


def load(chapter: str, preset: str = "cpu", results_root: str | Path = "results",
         source: str = "") -> MethodData:
    """The chapter's sweep and its lender's DQN runs from `results/` (no compute)."""
    sweep = sweep_name(chapter, preset)
    root = resolve_results_root(results_root)
    about = registry.describe(sweep)
    lender = about.comparators
    records = _records(root, sweep) + (
        _records(root, lender, about.lent_sparsities) if lender else [])
    planned = {c.run_id for c in registry.get_sweep(sweep).configs()}
    done = sum(r["run_id"] in planned for r in records if r["sweep"] == sweep)
    where = source or f"results/{sweep}/" + (f" and results/{lender}/ (comparators)"
                                             if lender else "")
    data = _assemble(sweep, preset, records, where)
    data.done, data.total = done, len(planned)
    return data


def load_or_run(chapter: str, preset: str = "cpu", results_root: str | Path = "results",
                executor=None) -> MethodData:
    """The chapter's runs, committed or (preset "ci": the `*_ci` sweep, comparators included)
    trained now: `source.results_for`. A bad preset fails before any compute."""
    name = sweep_name(chapter, preset)
    root, where = results_for(preset, registry.get_sweep(name).configs(), name, results_root,
                              executor)
    return load(chapter, preset, root, where if preset == LIVE_PRESET else "")


def coverage_text(data: MethodData) -> str:
    lent = int((_origin(data.final) != data.final["sweep"]).sum()) if len(data.final) else 0
    own = len(data.final) - lent
    text = f"Runs: {data.source}. {own} run(s) of `{data.sweep}`"
    if data.total is not None:
        text += f" ({data.done} of {data.total} planned)"
    return text + (f", {lent} comparator run(s) lent by `online_cpu`." if lent else ".")


def claim_results(data: MethodData, seed: int = 0, reps: int = 50_000) -> list[ClaimResult]:
    """The chapter's pre-registered claims (those judged on its sweep), with robustness."""
    chosen = [c for c in claims.CLAIMS if claims.judged_on(c, data.sweep) and c.sweeps]
    plan = claims.planned_runs(data.sweep)
    out = []
    for claim in chosen:
        if not len(data.final):
            out.append(claims.not_run_result(claim, "—", "no runs of this sweep yet"))
            continue
        out.append(claims.evaluate_robust(claim, data.final, data.final3, seed, reps, plan,
                                          reference_df=data.reference,
                                          reference3_df=data.reference))
    return out


def iqm_by_config(data: MethodData, seed: int = 0, reps: int = FIGURE_REPS) -> pd.DataFrame:
    """IQM of normalised final scores, 95% CI (reference resampled inside) and mean kept
    weights per configuration, on the games every configuration has."""
    final = data.final[data.final["normalized"].notna()] if len(data.final) else data.final
    columns = ["label", "method", "width", "sparsity", "kept_weights", "IQM", "lo", "hi",
               "runs per game", "games"]
    if not len(final):
        return pd.DataFrame(columns=columns)
    keys = ["method", "width", "sparsity"]
    games = sorted(set.intersection(*final.groupby(keys)["game"].apply(set)))
    rows = []
    for i, (key, sub) in enumerate(final[final["game"].isin(games)].groupby(keys)):
        raw, norm, _ = normalization.comparison({0: sub}, data.reference, games)
        point, samples = bootstrap.normalised_replicates(
            raw, norm, rng=np.random.default_rng([seed, i]), reps=reps)
        lo, hi = bootstrap.interval(samples[0])
        rows.append({"label": sub["label"].iloc[0], "method": key[0], "width": key[1],
                     "sparsity": key[2], "kept_weights": float(sub["kept_weights"].mean()),
                     "IQM": float(point[0]), "lo": float(lo), "hi": float(hi),
                     "runs per game": raw[0].shape[0], "games": len(games)})
    return pd.DataFrame(rows, columns=columns)


def figure_kept_weights(data: MethodData, seed: int = 0, reps: int = FIGURE_REPS):
    """Score against kept weights, one marker style per kind (dense, GMP, static, lottery)."""
    table = iqm_by_config(data, seed, reps)
    if not len(table):
        print("No figure yet: no normalisable runs.")
        return None
    kind = np.where(table["method"] != "", table["method"].map(KINDS),
                    np.where(table["sparsity"] == 0, "dense", "GMP"))
    return plots.plot_iqm_vs_kept(table.assign(kind=kind),
                                  scale=scale_description(data.final))


def measures_table(data: MethodData) -> pd.DataFrame:
    """Mean of each §5 measure over runs in the first and last logged iteration, per config."""
    rows = data.measures
    names = ["dormant_tau0.1/overall", "dormant_tau0/overall", "srank", "param_norm", "q_var",
             "td_target_var"]
    if not len(rows):
        return pd.DataFrame(columns=["configuration", "measure", "first iteration",
                                     "last iteration", "runs"])
    rows = rows[rows["measure"].isin(names)]
    first = rows["env_steps"] == rows.groupby("run_id")["env_steps"].transform("min")
    last = rows["env_steps"] == rows.groupby("run_id")["env_steps"].transform("max")
    rows = rows.assign(configuration=[f"{label(m, w, s)} w{w}" for m, w, s in zip(
        rows["method"], rows["width"], rows["sparsity"], strict=True)])
    keys = ["configuration", "measure"]
    out = pd.DataFrame({"first iteration": rows[first].groupby(keys)["value"].mean(),
                        "last iteration": rows[last].groupby(keys)["value"].mean(),
                        "runs": rows[last].groupby(keys)["run_id"].nunique()})
    return out.round(3)


def _with_lender_reference(data: MethodData) -> pd.DataFrame:
    """The chapter's per-run frame plus the lender's runs under its own name (where the
    normalisation reference is read from)."""
    return pd.concat([data.final, data.reference[data.reference["sweep"] != data.sweep]],
                     ignore_index=True)


def figure_iqm_vs_width(data: MethodData, seed: int = 0, reps: int = FIGURE_REPS):
    """Fig 12 (right): final IQM against width, one line per method, 95% CIs."""
    final = data.final[data.final["normalized"].notna()] if len(data.final) else data.final
    if not len(final):
        print("No figure yet: no normalisable runs.")
        return None
    return plots.plot_iqm_vs_width(
        final, scale=scale_description(final), rng=np.random.default_rng([seed, 7]),
        reps=reps, series="label", title="IQM of normalised final scores vs width",
        reference_df=_with_lender_reference(data))


def figure_curves(data: MethodData, width: int, seed: int = 0, reps: int = 500):
    """Fig 12 (left): IQM learning curves of every method at one width, 95% bands."""
    runs = data.runs[data.runs["width"] == width] if len(data.runs) else data.runs
    reference = _with_lender_reference(data)
    runs = runs[runs["run_id"].isin(set(data.final.loc[data.final["normalized"].notna(),
                                                       "run_id"]))] if len(runs) else runs
    if not len(runs):
        print(f"No figure yet: no normalisable runs at width {width}.")
        return None
    curves = normalization.normalize_frame(runs.assign(score=runs["train_return"]),
                                           reference_df=reference)
    return plots.plot_learning_curves(
        curves, scale=scale_description(data.final[data.final["width"] == width]),
        rng=np.random.default_rng([seed, 8]), reps=reps, series=("label",),
        title=f"DQN ×{width}: IQM learning curves", reference_df=reference)
