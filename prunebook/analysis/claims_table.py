"""The claims as the book shows them: the front page's table (short scale labels linking to
the chapter with the details), its markdown, and which chapter holds each claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prunebook.analysis import normalization
from prunebook.analysis.claims import (
    CLAIMS,
    LAST_ITERATIONS_ALTERNATIVE,
    ClaimResult,
    evaluate_all,
    not_run_result,
)
from prunebook.extras import missing_extra
from prunebook.sweeps import store
from prunebook.sweeps.registry import describe

try:
    import pandas as pd
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error

CHAPTERS = {"1": "01_scaling_degradation", "2": "02_pruned_scaling",
            "3": "03_sparsity_levels", "4": "04_offline_cql", "6": "06_what_pruning_does",
            "7": "07_pruning_vs_baselines"}


def chapter_of(claim_id: str, sweep: str = "") -> str:
    """The notebook that gives a claim's details on `sweep` (1-*-pruned lives with claim 2)."""
    if describe(sweep).chapter:  # a sweep with a chapter of its own: its rows link there
        return describe(sweep).chapter
    return CHAPTERS["2" if claim_id.endswith("-pruned") else claim_id.split("-")[0]]


def robustness_text(res: ClaimResult) -> str:
    """"fragile: <alternatives that flip it>", "robust (n alternatives)" or "—"."""
    if not res.alternatives:
        return "—"
    if res.fragile:
        return "**fragile**: changes " + "; ".join(
            f"{a.name} → {a.verdict}" for a in res.alternatives if a.verdict != res.verdict)
    return f"robust ({len(res.alternatives)} alternatives)"


def short_scale(res: ClaimResult) -> str:
    """A short label of what a verdict is about: sweep, games, runs per game."""
    if not res.games:
        return f"{res.sweep} · in progress" if res.sweep else "—"
    return (f"{res.sweep} · {len(res.games)} games · "
            f"{res.runs_per_game} seed{'s' * (res.runs_per_game != 1)}")


def format_row(res: ClaimResult) -> dict[str, str]:
    ours = "—" if res.ours is None else f"×{res.ours:.2f} ({res.ours - 1:+.0%})"
    ci = "—" if res.ci is None or not np.isfinite(res.ci[0]) else (
        f"[{res.ci[0]:.2f}, {res.ci[1]:.2f}]")
    if res.paper_in_ci is not None:
        ci += " (paper's value inside)" if res.paper_in_ci else " (paper's value outside)"
    shown = res.verdict
    if res.verdict == "not yet run" and res.reason == "waiting":
        shown = f"not yet run ({res.note})"
    return {"claim": res.claim_id, "paper": res.paper, "ours": ours, "ci95": ci,
            "scale": res.scale, "verdict": shown, "robustness": robustness_text(res)}


def claim_cells(r: ClaimResult) -> dict[str, str]:
    """A judged claim's "paper" (and whether it lies in our interval), "ours" (ratio and 95%
    CI) and "robustness", as the front page's table and the chapters' result boxes show them."""
    row = format_row(r)
    finite = r.ci is not None and all(map(np.isfinite, r.ci))
    ours = row["ours"].split(" ")[0] + (f" [{r.ci[0]:.2f}, {r.ci[1]:.2f}]" if finite else "")
    paper = row["paper"] + ("" if r.paper_in_ci is None else
                            " (inside our CI)" if r.paper_in_ci else " (outside our CI)")
    robust = row["robustness"].replace("**fragile**: changes ", "**fragile**: ")
    if len(r.flipped_by) > 2:
        robust = f"**fragile**: {len(r.flipped_by)} of {len(r.alternatives)} alternatives"
    return {"paper": paper, "ours": ours, "robustness": robust}


def final_frames(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-run final scores of a `store.runs_frame` (the last iteration, and the mean of the
    last :data:`LAST_ITERATIONS_ALTERNATIVE` for the robustness check), each with the run's
    last ``env_steps`` and, for offline runs, ``gradient_updates``."""
    lengths = [c for c in ("env_steps", "gradient_updates") if c in runs.columns]
    return tuple(store.final_scores(runs, last_iterations=n).join(
        runs.groupby(["sweep", "run_id"])[lengths].max(), on=["sweep", "run_id"])
        for n in (1, LAST_ITERATIONS_ALTERNATIVE))


def results_for(results_root: str | Path = "results", rng_seed: int = 0, reps: int = 50_000,
                claims=CLAIMS) -> list[ClaimResult]:
    """Every claim's verdict and robustness alternatives from the files in ``results_root``
    (every file validated: a bad one raises `store.ResultsFileError` naming it)."""
    root = Path(results_root)
    runs = store.load_runs(root) if root.is_dir() else pd.DataFrame()
    if not len(runs):
        return evaluate_all(pd.DataFrame(), rng_seed=rng_seed, reps=reps, claims=claims)
    final, final3 = final_frames(runs)
    return evaluate_all(final, rng_seed=rng_seed, reps=reps, claims=claims, final3_df=final3)


def sweep_results(runs: pd.DataFrame, sweep: str, claim_ids=None, rng_seed: int = 0,
                  reps: int = 50_000) -> list[ClaimResult]:
    """:func:`results_for` on one sweep's runs (and the sweep lending its reference runs, if
    any) out of a `store.runs_frame` that holds them (a chapter's loaded runs): the front
    page's verdicts and robustness alternatives for a chapter."""
    runs = runs[runs["sweep"].isin({sweep, normalization.reference_sweep(sweep)})]
    chosen = [c for c in CLAIMS if claim_ids is None or c.id in claim_ids]
    if not len(runs):
        return [not_run_result(c, "—", f"no finished runs of {sweep}", "no_runs") for c in chosen]
    final, final3 = final_frames(runs)
    out = evaluate_all(final, rng_seed, reps, chosen, final3_df=final3)
    return [r for r in out if r.sweep in ("", sweep)]


TABLE_COLUMNS = ["claim", "paper", "ours", "ci95", "verdict", "robustness", "scale"]


def table_of(res: list[ClaimResult]) -> pd.DataFrame:
    """The front page's table: the scale as a short label linking to the claim's chapter."""
    rows = []
    for r in res:
        row = format_row(r)
        chapter = chapter_of(r.claim_id, r.sweep)
        row["scale"] = f"[{short_scale(r)}](../notebooks/{chapter}.ipynb)"
        rows.append(row)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def claims_table(results_root: str | Path = "results", rng_seed: int = 0, reps: int = 50_000
                 ) -> pd.DataFrame:
    """Columns :data:`TABLE_COLUMNS`, one row per claim and run group."""
    return table_of(results_for(results_root, rng_seed, reps))


def to_markdown(table: pd.DataFrame) -> str:
    """A pipe table (valid MyST) followed by the verdict rules of every claim."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    lines += ["", rules_markdown()]
    return "\n".join(lines) + "\n"


ROBUSTNESS_NOTE = (
    "**Robustness.** Each verdict is recomputed with a run's final score as the mean of its "
    "last 3 iterations, with the mean instead of the IQM, with the expanded percentile interval "
    "for few runs (Hesterberg 2015) and with each game left out; a verdict that any of them "
    "changes is **fragile**. The verdict shown is always the rule's.")


def rules_markdown(claims=CLAIMS) -> str:
    """Every claim's rule in a collapsed MyST dropdown, each quoted sentence of the paper (or of
    the later literature) once, with the claims it implies under it."""
    by_statement: dict[tuple[str, str], list] = {}
    for c in claims:
        by_statement.setdefault((c.figure, c.statement), []).append(c)
    lines = [":::{dropdown} Verdict rules: how each claim is judged",
             "Fixed in `prunebook/analysis/preregistered.py` before the sweep that judges each "
             "claim ran. Each is a ratio of IQMs of normalised final scores with its 95% "
             "stratified-bootstrap interval (the MinAtar reference runs resampled inside every "
             "replicate); an interval that decides neither way is **inconclusive**.", ""]
    for (figure, statement), group in by_statement.items():
        lines += [f"**{figure}**: {statement}" if figure != "—" else statement, ""]
        lines += [f"- {c.title} (`{c.id}`): {c.rule_text()}." for c in group]
        lines.append("")
    return "\n".join(lines + [ROBUSTNESS_NOTE, ":::"])


def write_claims_markdown(path: str | Path, results_root: str | Path = "results",
                          rng_seed: int = 0, reps: int = 50_000) -> pd.DataFrame:
    """Write the claims table as MyST markdown (the book's front page includes it)."""
    table = claims_table(results_root, rng_seed=rng_seed, reps=reps)
    store.atomic_write_bytes(Path(path), to_markdown(table).encode())
    return table
