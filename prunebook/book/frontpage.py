"""The book's front page, generated from `results/` by `make claims`: the claims figure (one
forest row per claim: our ratio and its 95% interval, the paper's value, fragile verdicts
marked, claims grouped by the runs they were judged on) and the claims table under it.

Both come from one evaluation (`prunebook.analysis.claims_table.results_for`), so they cannot
disagree. The SVG is written without a date and with a fixed hash salt, so the same results
give the same bytes (`tests/test_generated_pages.py` checks that the committed files are up
to date).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from prunebook.analysis import claims_table, plots
from prunebook.analysis.claims import CLAIMS_BY_ID, ClaimResult
from prunebook.sweeps import store

FIGURE = "claims.svg"
TABLE = "claims.md"


def _group_title(r: ClaimResult) -> str:
    if not r.games:
        return f"{r.sweep}: in progress, no verdict yet" if r.sweep else "not yet run"
    return (f"{r.sweep}: {len(r.games)} games, {r.training}, {r.runs_per_game} seeds"
            if r.sweep else "—")


def forest_rows(res: Sequence[ClaimResult]) -> dict[str, list[dict]]:
    """The figure's panels: one per group of runs, one row per claim."""
    panels: dict[str, list[dict]] = {}
    for r in res:
        claim = CLAIMS_BY_ID[r.claim_id]
        row = {"label": r.claim_id, "point": r.ours, "ci": r.ci, "verdict": r.verdict,
               "fragile": r.fragile, "paper": claim.paper_ratio}
        if claim.margin is not None:
            row["margin"] = claim.margin
        row["paper_text"] = ("direction only (> 1)" if claim.rule == "greater" else
                             "direction only (< 1)" if claim.rule == "less" else
                             f"direction only (≥ {claim.margin:g})")
        panels.setdefault(_group_title(r), []).append(row)
    return panels


def caption(res: Sequence[ClaimResult]) -> str:
    """What the figure's data are: scale and seeds, and how to read it."""
    games = sorted({g for r in res for g in r.games})
    seeds = sorted({r.runs_per_game for r in res if r.runs_per_game})
    return (f"Games {', '.join(games)}; {'/'.join(map(str, seeds))} seeds per "
            "configuration and game. IQM ratio of normalised final scores with its 95% "
            "stratified-bootstrap interval (reference runs resampled inside); open marker: a "
            "robustness alternative changes the verdict; diamond: the paper's value; dashed: "
            "non-inferiority margin.")


def claims_figure(res: Sequence[ClaimResult]):
    """The front page's forest plot (a matplotlib Figure)."""
    return plots.plot_interval_rows(
        forest_rows(res), scale=caption(res), title="The paper's claims in our runs",
        xlabel="IQM ratio, ours (log scale; 1 = no difference)")


def figure_svg(res: Sequence[ClaimResult]) -> bytes:
    """The figure as deterministic SVG bytes."""
    with plt.rc_context({"svg.hashsalt": "prunebook", "svg.fonttype": "none"}):
        fig = claims_figure(res)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
    return buf.getvalue()


def write(out_dir: str | Path, results_root: str | Path = "results", rng_seed: int = 0,
          reps: int = 50_000):
    """Write `claims.svg` and `claims.md` into ``out_dir``; returns the table."""
    res = claims_table.results_for(results_root, rng_seed, reps)
    table = claims_table.table_of(res)
    out = Path(out_dir)
    store.atomic_write_bytes(out / FIGURE, figure_svg(res))
    store.atomic_write_bytes(out / TABLE, claims_table.to_markdown(table).encode())
    return table


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m prunebook.book.frontpage OUT_DIR [RESULTS_ROOT]")
    print(write(sys.argv[1], *sys.argv[2:]).to_string(index=False))
