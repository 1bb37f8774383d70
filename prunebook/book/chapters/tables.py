"""The chapter's tables of numbers besides the verdicts: the IQM of every configuration, the
gain of every (width, sparsity) over dense x1 (whose widest-width rows use the claims' own ids
and generators, so they repeat the verdict table's numbers) and the sparsity the runs actually
reached. Like the figures, the IQMs use the balanced runs; the gains wait for complete ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from prunebook.analysis import bootstrap, normalization
from prunebook.analysis.claims import Claim, Side
from prunebook.book.chapters.data import ChapterData
from prunebook.book.chapters.selections import CONFIG_COLUMNS
from prunebook.book.chapters.verdicts import (
    chapter_claim,
    comparison_status,
    evaluate_claim,
    format_ci,
    format_gain,
    format_ratio,
)


def iqm_table(data: ChapterData, cells, seed: int = 0, reps: int = 50_000) -> pd.DataFrame:
    """IQM of normalised final scores and its 95% CI per configuration (balanced runs), the
    reference runs resampled inside every replicate (dense x1 DQN's own row shares them)."""
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
        games = sorted(sub["game"].unique())
        raw, norm, _ = normalization.comparison({0: sub}, final, games)
        rng = np.random.default_rng([seed, i])
        point, samples = bootstrap.normalised_replicates(raw, norm, rng=rng, reps=reps)
        rows.append(row | {"IQM": f"{float(point[0]):.2f}",
                           "95% CI": format_ci(bootstrap.interval(samples[0])),
                           "runs per game": raw[0].shape[0], "games": raw[0].shape[1]})
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
                r = evaluate_claim(data, claim, seed, reps, robust=False)
                rows.append({"agent": agent, "width": width,
                             "sparsity": "dense" if s == 0 else f"{s:.0%}",
                             "IQM ratio to dense x1": format_ratio(r.ours),
                             "gain": format_gain(r.ours),
                             "gain 95% CI": ("—" if r.ci is None or not np.isfinite(r.ci[0])
                                             else f"[{r.ci[0] - 1:+.0%}, {r.ci[1] - 1:+.0%}]"),
                             "status": comparison_status(r)})
    return pd.DataFrame(rows).set_index(CONFIG_COLUMNS)


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


COLUMN_WORDS = {"peak_update": "update of the peak", "ci_low": "95% CI low",
                "ci_high": "95% CI high", "runs/game": "runs per game", "peak": "peak IQM",
                "final": "final IQM", "drop": "drop from the peak",
                "dataset_seed": "dataset seed", "ci95": "95% CI"}
"""Column names in words, where a table's own name is a code name."""


def _cell_text(value, column: str, decimals: int) -> str:
    if isinstance(value, bool | np.bool_) or value is None:
        return "—" if value is None else ("yes" if value else "no")
    if column == "sparsity" and isinstance(value, float | np.floating):
        return "dense" if value == 0 else f"{value:.0%}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "—"
        return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1_000 else (
            f"{value:,.{decimals}f}")
    return str(value)


def _column_words(name: str) -> str:
    """A code name ("peak_update") in words; a name that is more than an identifier (it names
    a sweep or a setting, "online_cpu (v_max=10)") is kept as it is."""
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    return name.replace("_", " ") if name.isidentifier() else name


CELL_PADDING = [{"selector": "th, td", "props": [("padding", "0.15em 0.6em")]}]
"""Room around each cell of a :func:`readable` table, so neighbouring cells never run
together ("rainbow1")."""


@dataclasses.dataclass(frozen=True)
class NoRows:
    """What `readable` shows for a table with no rows: a sentence, not a lone header row."""

    columns: tuple[str, ...]

    def _repr_html_(self) -> str:
        return f"<p><em>{self}</em></p>"

    def __str__(self) -> str:
        return "Nothing here yet: this table fills in as runs finish."


def readable(table: pd.DataFrame | None, name: str = "table", decimals: int = 3,
             drop: Sequence[str] = ()):
    """A table as a reader sees it: no pandas index (a meaningful one becomes columns), column
    names in words (:data:`COLUMN_WORDS`, underscores of code names as spaces), numbers rounded to
    `decimals` with thousands separators, sparsity in percent ("dense" for 0), no truncated
    cell, padding in every cell (:data:`CELL_PADDING`), each header aligned as its column
    (numbers right, words left). A pandas Styler whose HTML ids are fixed by `name` (so a
    re-run gives the same output); None stays None (a table that is not there yet says so
    itself); a table with no rows is :class:`NoRows`."""
    if table is None:
        return None
    frame = table.drop(columns=[c for c in drop if c in table.columns])
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    if not len(frame):
        return NoRows(tuple(_column_words(str(c)) for c in frame.columns))
    text = pd.DataFrame({_column_words(str(c)): [
        _cell_text(v, str(c), decimals) for v in frame[c]] for c in frame.columns})
    numbers = [_column_words(str(c)) for c in frame.columns if _is_number_column(frame[c], c)]

    def align(column: str) -> str:
        return f"text-align: {'right' if column in numbers else 'left'}"

    return (text.style.hide(axis="index").set_uuid(name)
            .set_table_styles(CELL_PADDING)
            .apply(lambda column: [align(column.name)] * len(column))
            .map_index(align, axis="columns"))


def _is_number_column(column: pd.Series, name) -> bool:
    """Numbers align right, header included, so their digits line up; words align left."""
    return (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
            and str(name) != "sparsity")
