"""The result box a chapter opens with: the question in words, then for each claim the paper's
value, ours with its 95% interval, the verdict and its robustness (formatted as on the front
page, by `prunebook.analysis.claims_table.claim_cells`), the scale of the runs behind it, and,
while a sweep has not finished, how many of its runs have and what is known so far.

Everything in the box comes from the chapter's `ClaimResult`s; the notebook only supplies the
question and, for an unfinished sweep, its progress and what is known so far, as values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from prunebook.analysis.claims import CLAIMS_BY_ID, ClaimResult
from prunebook.analysis.claims_table import claim_cells

NOT_RUN = "not yet run"
LISTED = 4  # more claims without a verdict than this are listed in one bullet


def claim_line(r: ClaimResult) -> str:
    """One bullet: the claim in words, the paper's value, ours, the verdict, its robustness."""
    claim = CLAIMS_BY_ID.get(r.claim_id)
    title = claim.title if claim else r.claim_id
    head = f"**{title}** (`{r.claim_id}`)"
    if r.verdict == NOT_RUN:
        why = r.note.rstrip(".") if r.note else "no runs yet"
        return f"{head}: paper {r.paper}; ours: not yet run ({why})."
    cells = claim_cells(r)
    return (f"{head}: paper {cells['paper']}; ours {cells['ours']}: **{r.verdict}**, "
            f"{cells['robustness']}.")


def tally(results: Sequence[ClaimResult]) -> str:
    """"2 reproduced, 1 inconclusive, 1 not yet run" (in that order of words)."""
    counts = Counter(r.verdict for r in results)
    order = ["reproduced", "contradicted", "inconclusive", NOT_RUN]
    words = [f"{counts[v]} {v}" for v in order if counts[v]]
    words += [f"{n} {v}" for v, n in counts.items() if v not in order]
    return ", ".join(words) if words else "no claims"


def scale_text(results: Sequence[ClaimResult]) -> str:
    """What the verdicts were computed on (preset, sweep, games, training, seeds), each group
    of runs once, or "" while no verdict was computed."""
    groups = {}
    for r in results:
        if r.verdict == NOT_RUN or not r.games:
            continue
        preset = re.search(r"preset (\w+)", r.scale)
        where = f"preset `{preset.group(1)}`, " if preset else ""
        seeds = f"{r.runs_per_game} seed{'s' * (r.runs_per_game != 1)}"
        groups[f"{where}sweep `{r.sweep}`: {len(r.games)} games ({', '.join(r.games)}), "
               f"{r.training} per run, {seeds} per configuration and game"] = None
    return "; ".join(groups)


def result_box(results: Sequence[ClaimResult], question: str, answer: str = "",
               scale: str = "", progress: tuple[int, int] | None = None,
               known: Mapping[str, object] | None = None) -> str:
    """The chapter's opening box (Markdown, a blockquote).

    `question` is the chapter's question; `answer` an optional sentence written from the
    numbers (it is printed before the tally of verdicts, which is always computed); `scale`
    overrides the scale read from the results (preset, games, seeds, steps); `progress` is
    ``(finished, planned)`` runs of the chapter's sweep; `known` what the finished runs show so
    far, for a sweep that has not finished, as labelled values ("label: value; ...").
    """
    lines = [f"**{question}**", ""]
    verdicts = tally(results)
    lines.append(f"**Answer:** {answer.rstrip('.') + '. ' if answer else ''}"
                 f"Verdicts: {verdicts}.")
    lines.append("")
    waiting = [r for r in results if r.verdict == NOT_RUN]
    shown = [r for r in results if r.verdict != NOT_RUN or len(waiting) <= LISTED]
    lines += [f"- {claim_line(r)}" for r in shown]
    if len(waiting) > LISTED:
        names = ", ".join(f"`{r.claim_id}`" for r in waiting)
        lines.append(f"- **Not yet run** ({len(waiting)} claims: {names}): each waits for its "
                     "runs (the verdict table below says which).")
    lines.append("")
    so_far = "; ".join(f"{name}: {value}" for name, value in (known or {}).items())
    so_far = so_far[:1].upper() + so_far[1:]
    where = scale or scale_text(results)
    if where:
        lines += [f"**Scale:** {where.rstrip('.')}.", ""]
    if progress is not None:
        done, planned = progress
        state = "finished" if done >= planned else "finished so far"
        lines += [f"**Runs:** {done} of {planned} runs of the sweep {state}."
                  + (f" {so_far}." if so_far else ""), ""]
    elif so_far:
        lines += [f"**So far:** {so_far}.", ""]
    return "\n".join("> " + line if line else ">" for line in lines[:-1]) + "\n"
