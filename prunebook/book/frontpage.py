"""The book's front page, generated from `results/` by `make claims`: the claims figure (one
forest row per judged claim, labelled in words: our ratio and its 95% interval, the paper's
value, fragile verdicts marked, claims grouped by the runs they were judged on), the claims
table under it (a sweep whose claims wait for runs is one progress line), the verdict rules
(collapsed), and the per-run scores as downloads (`prunebook.analysis.export`).

Figure and table come from one evaluation (`prunebook.analysis.claims_table.results_for`), so
they cannot disagree. The SVG is written without a date and with a fixed hash salt, so the same
results give the same bytes (`tests/test_generated_pages.py` checks that the committed files
are up to date).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd

from prunebook.analysis import claims_table, export, plots
from prunebook.analysis.claims import CLAIMS_BY_ID, ClaimResult
from prunebook.sweeps import registry, store

FIGURE = "claims.svg"
TABLE = "claims.md"
DOWNLOADS = "downloads.md"
DATA = "data"  # under the output folder: the exported per-run scores
# Labels and ticks 10 pt, notes 9 pt, in a figure 6.8 in wide: the book's column at 1280 px
# (about 660 px) draws it at least at its natural size, so no text is under 9 pt.
FONT_PT = 10
WIDTH_IN = 6.8
PAGE_COLUMNS = ["claim", "paper", "ours (95% CI)", "verdict", "robustness", "runs"]


def judged(res: Sequence[ClaimResult]) -> list[ClaimResult]:
    return [r for r in res if r.verdict != "not yet run"]


def _group_title(r: ClaimResult) -> str:
    return f"{r.sweep}: {len(r.games)} games, {r.training}, {r.runs_per_game} seeds"


def forest_rows(res: Sequence[ClaimResult]) -> dict[str, list[dict]]:
    """The figure's panels: one per group of runs with a verdict, one row per judged claim."""
    panels: dict[str, list[dict]] = {}
    for r in judged(res):
        claim = CLAIMS_BY_ID[r.claim_id]
        row = {"label": claim.title, "point": r.ours, "ci": r.ci, "verdict": r.verdict,
               "fragile": r.fragile, "paper": claim.paper_ratio}
        if claim.margin is not None:
            row["margin"] = claim.margin
        row["paper_text"] = ("paper: > 1 (no number)" if claim.rule == "greater" else
                             "paper: < 1 (no number)" if claim.rule == "less" else
                             f"paper: ≥ {claim.margin:g} (no number)")
        panels.setdefault(_group_title(r), []).append(row)
    return panels


def caption(res: Sequence[ClaimResult]) -> str:
    """What the figure's data are: scale and seeds, and how to read it."""
    games = sorted({g for r in judged(res) for g in r.games})
    seeds = sorted({r.runs_per_game for r in judged(res) if r.runs_per_game})
    return (f"Games {', '.join(games)}; {'/'.join(map(str, seeds))} seeds per "
            "configuration and game. Ratio of IQMs of normalised final scores, 95% "
            "stratified-bootstrap interval; dashed: non-inferiority margin.")


def claims_figure(res: Sequence[ClaimResult]):
    """The front page's forest plot (a matplotlib Figure)."""
    panels = forest_rows(res)
    if not panels:
        panels = {"no claim has a verdict yet": []}
    return plots.plot_interval_rows(
        panels, scale=caption(res), title="The paper's claims in our runs",
        xlabel="IQM ratio, first vs second (log scale)", width=WIDTH_IN, fontsize=FONT_PT,
        row_height=0.34, suffix=False)


def figure_svg(res: Sequence[ClaimResult]) -> bytes:
    """The figure as deterministic SVG bytes."""
    with plt.rc_context({"svg.hashsalt": "prunebook", "svg.fonttype": "none"}):
        fig = claims_figure(res)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight",
                    pad_inches=0.05)
        plt.close(fig)
    return buf.getvalue()


def pending_sweep(r: ClaimResult) -> str:
    """The sweep a claim without a verdict waits for ("" if it names none)."""
    claim = CLAIMS_BY_ID[r.claim_id]
    return r.sweep or (claim.sweeps[0] if claim.sweeps else "")


def sweep_progress(results_root: str | Path, sweeps: Sequence[str]) -> dict[str, tuple]:
    """``{sweep: (finished runs, runs planned)}`` from the results files' names."""
    out = {}
    for name in sweeps:
        if name not in registry.DESCRIPTIONS:
            continue
        planned = {c.run_id for c in registry.get_sweep(name).configs()}
        done = {p.stem for p in (Path(results_root) / name).glob("*.json")} & planned
        out[name] = (len(done), len(planned))
    return out


def page_table(res: Sequence[ClaimResult], progress: Mapping[str, tuple] | None = None
               ) -> pd.DataFrame:
    """The front page's table (:data:`PAGE_COLUMNS`): a row per judged claim and group, then
    one progress line per sweep whose claims wait for runs."""
    rows = []
    for r in judged(res):
        cells = claims_table.claim_cells(r)
        chapter = claims_table.chapter_of(r.claim_id, r.sweep)
        rows.append([f"{CLAIMS_BY_ID[r.claim_id].title} (`{r.claim_id}`)", cells["paper"],
                     cells["ours"], r.verdict, cells["robustness"],
                     f"[{claims_table.short_scale(r)}](../notebooks/{chapter}.ipynb)"])
    waiting: dict[str, list[ClaimResult]] = {}
    for r in res:
        if r.verdict == "not yet run":
            waiting.setdefault(pending_sweep(r), []).append(r)
    for sweep, group in waiting.items():
        done, planned = (progress or {}).get(sweep, (None, None))
        runs = f"{done} of {planned} runs; " if planned else ""
        ids = sorted({r.claim_id for r in group})
        chapter = claims_table.chapter_of(ids[0], sweep)
        claims = f"{len(ids)} claim{'s' * (len(ids) != 1)}"
        rows.append([f"{claims} of chapter {int(chapter[:2])}", "—", "—",
                     f"not yet run: {runs}{claims} pending", "—",
                     f"[{sweep or 'no sweep yet'}](../notebooks/{chapter}.ipynb)"])
    return pd.DataFrame(rows, columns=PAGE_COLUMNS)


def page_markdown(table: pd.DataFrame) -> str:
    """The table as a MyST pipe table, then the verdict rules in a collapsed dropdown."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines + ["", claims_table.rules_markdown()]) + "\n"


def downloads_markdown(written: Mapping[str, Sequence[Path]], out_dir: Path) -> str:
    """A list of the exported files, as MyST download links relative to `book/`."""
    lines = []
    for sweep, paths in written.items():
        links = ", ".join(f"{{download}}`{p.name} <{p.relative_to(out_dir.parent)}>`"
                          for p in paths)
        lines.append(f"* `{sweep}`: {links}")
    return "\n".join(lines) + "\n"


def write_downloads(out_dir: Path, results_root: str | Path) -> dict[str, list[Path]]:
    """Export every book sweep that has runs into ``out_dir/data`` and list them."""
    written = {}
    for sweep in registry.BOOK_SWEEPS:
        if any((Path(results_root) / sweep).glob("*.json")):
            written[sweep] = export.export(results_root, sweep, out_dir / DATA, ["csv"])
    store.atomic_write_bytes(out_dir / DOWNLOADS, downloads_markdown(written, out_dir).encode())
    return written


def write(out_dir: str | Path, results_root: str | Path = "results", rng_seed: int = 0,
          reps: int = 50_000):
    """Write the figure, the table, the downloads and their list into ``out_dir``; returns
    the table."""
    res = claims_table.results_for(results_root, rng_seed, reps)
    pending = sorted({pending_sweep(r) for r in res if r.verdict == "not yet run"})
    table = page_table(res, sweep_progress(results_root, pending))
    out = Path(out_dir)
    store.atomic_write_bytes(out / FIGURE, figure_svg(res))
    store.atomic_write_bytes(out / TABLE, page_markdown(table).encode())
    write_downloads(out, results_root)
    return table


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m prunebook.book.frontpage OUT_DIR [RESULTS_ROOT]")
    print(write(sys.argv[1], *sys.argv[2:]).to_string(index=False))
