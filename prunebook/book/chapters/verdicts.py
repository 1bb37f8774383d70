"""The chapter's verdicts on the paper's claims: each claim with "widest" replaced by the chapter's
widest width, evaluated only on a complete comparison (otherwise "not yet run", with the runs it
waits for: `prunebook.analysis.claims` judges completeness against the runs the chapter
selected), then shown as a table and one line of detail per claim. The number formats (IQM
ratio, gain, CI) and the status words live here too, so that `prunebook.book.chapters.tables`
prints a ratio exactly as the verdict table does.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd

from prunebook.analysis import claims, claims_table, normalization, random_policy
from prunebook.analysis.claims import (
    CLAIMS_BY_ID,
    LAST_ITERATIONS_ALTERNATIVE,
    WIDEST,
    Claim,
    ClaimResult,
    Side,
)
from prunebook.book.chapters.data import ChapterData
from prunebook.book.chapters.selections import Selection


def chapter_claim(claim_id: str, sel: Selection, at_width: int | None = None) -> Claim:
    """The claim with "widest" replaced by the chapter's widest width, and (`at_width`) a
    fixed-width claim such as Fig 3's width 3 moved to another width."""
    claim = CLAIMS_BY_ID[claim_id]
    widest = max(sel.widths)

    def fix(side: Side) -> Side:
        if side.width == WIDEST:
            return dataclasses.replace(side, width=widest)
        if at_width is not None:
            return dataclasses.replace(side, width=at_width)
        return side

    return dataclasses.replace(claim, numerator=fix(claim.numerator),
                               denominator=fix(claim.denominator))


def evaluate_claim(data: ChapterData, claim: Claim, seed: int = 0, reps: int = 50_000,
                   robust: bool = True) -> ClaimResult:
    """`claims.evaluate_robust` (the verdict and its robustness alternatives) on the chapter's
    runs, complete against the runs the chapter selected (`claims.plan_of`): until every run of
    both sides and of the reference is in, the engine says "not yet run" and what it waits for.

    The generator is the one `claims.evaluate_all` uses for this claim id, so on a finished
    sweep the numbers equal the front page's claims table (same seed and reps).
    """
    final = data.final()
    if not len(final):
        return claims.not_run_result(claim, "—", "waiting for every run: none has finished",
                                     "waiting")
    plan = claims.plan_of(data.expected)
    if robust:
        result = claims.evaluate_robust(claim, final, data.final(None, LAST_ITERATIONS_ALTERNATIVE),
                                        seed, reps, plan)
    else:
        result = claims.evaluate(claim, final, claims.claim_rng(claim.id, seed), reps, plan)
    if result.reason == "unnormalisable":
        result = dataclasses.replace(result, note=_normalisation_note(final) or result.note)
    return result


def claim_results(data: ChapterData, claim_ids: Sequence[str], seed: int = 0,
                  reps: int = 50_000, at_width: int | None = None) -> list[ClaimResult]:
    """The chapter's verdicts, for the claims whose agents the chapter selected."""
    out, cells = [], data.selection.cells
    for claim_id in claim_ids:
        claim = chapter_claim(claim_id, data.selection, at_width)
        if claim.numerator.agent not in {a for a, _, _ in cells}:
            continue
        outside = [s.label() for s in (claim.numerator, claim.denominator)
                   if (s.agent, s.width, s.sparsity) not in cells]
        out.append(claims.not_run_result(claim, "—", "needs configurations outside this "
                                         f"chapter's parameters: {', '.join(outside)}",
                                         "outside_selection")
                   if outside else evaluate_claim(data, claim, seed, reps))
    return out


def sweep_results(data: ChapterData, claim_ids: Sequence[str] | None = None, seed: int = 0,
                  reps: int = 50_000) -> list[ClaimResult]:
    """The front page's verdicts on the chapter's whole sweep (`claims_table.sweep_results`),
    from the runs the chapter loaded: what a chapter without a selection of its own (4), or
    one setting another budget's verdicts beside its own (5), shows."""
    return claims_table.sweep_results(data.runs, data.sweep, claim_ids, seed, reps)


def _normalisation_note(final: pd.DataFrame) -> str:
    normed = normalization.normalize_frame(final)
    bad = normed[normed["normalized"].isna()]
    if not len(bad):
        return ""
    reasons = sorted({r.removeprefix("not normalised: ") for r in bad["normalization"]})
    return "scores cannot be normalised: " + "; ".join(reasons)


def unnormalisable_games(data: ChapterData) -> pd.DataFrame:
    """Games whose scores cannot be normalised (dense x1 DQN does not score above the random
    policy there): its mean final score and the random policy's, per game. Empty if none."""
    columns = ["game", "dense x1 DQN", "random policy"]
    final = data.balanced_final()
    if not len(final):
        return pd.DataFrame(columns=columns)
    refs = final[(final["agent"] == "dqn") & (final["width"] == 1) & (final["sparsity"] == 0)]
    rows = [(game, refs.loc[refs["game"] == game, "score"].mean(),
             random_policy.random_scores(preset)[game]["mean"])
            for (preset, game), _ in final[final["normalized"].isna()].groupby(["preset", "game"])]
    return pd.DataFrame(rows, columns=columns)


def format_ratio(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"×{value:.2f}"


def format_gain(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value - 1:+.0%}"


def format_ci(ci) -> str:
    if ci is None or not np.isfinite(ci[0]):
        return "—"
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"


STATUS_OF_REASON = {"waiting": "not yet run", "no_runs": "not yet run",
                    "outside_selection": "not selected", "missing_side": "not selected",
                    "no_wider": "not selected", "unnormalisable": "cannot normalise"}
"""The words a chapter's tables use for the engine's `ClaimResult.reason`."""


def comparison_status(result: ClaimResult) -> str:
    """"complete" once the engine gave a verdict, else the words for its reason."""
    if result.verdict != "not yet run":
        return "complete"
    return STATUS_OF_REASON[result.reason]


def verdict_table(res: Sequence[ClaimResult]) -> pd.DataFrame:
    """One row per verdict: the paper's number, our IQM ratio and gain with its 95% CI. The
    claims still waiting for runs share one last row that names them (a row of dashes each gave
    chapter 7 eleven such rows); the details under the table say what each waits for."""
    rows, waiting = [], []
    for r in res:
        status = comparison_status(r)
        if status == "not yet run":
            waiting.append(r)
            continue
        paper_in = {True: "inside", False: "outside", None: "—"}[r.paper_in_ci]
        gain_ci = ("—" if r.ci is None or not np.isfinite(r.ci[0])
                   else f"[{r.ci[0] - 1:+.0%}, {r.ci[1] - 1:+.0%}]")
        rows.append({"claim": r.claim_id, "paper": r.paper, "IQM ratio": format_ratio(r.ours),
                     "95% CI": format_ci(r.ci), "gain": format_gain(r.ours), "gain 95% CI": gain_ci,
                     "paper's value in our CI": paper_in,
                     "verdict": {"cannot normalise": "no verdict (cannot normalise)",
                                 "not selected": "not selected"}.get(status, r.verdict),
                     "robustness": _robustness(r)})
    if waiting:
        rows.append({"claim": ", ".join(r.claim_id for r in waiting), "paper": "—",
                     "IQM ratio": "—", "95% CI": "—", "gain": "—", "gain 95% CI": "—",
                     "paper's value in our CI": "—",
                     "verdict": f"not yet run ({len(waiting)} claim{'s' * (len(waiting) > 1)})",
                     "robustness": "—"})
    return pd.DataFrame(rows).set_index("claim")


def _robustness(r: ClaimResult) -> str:
    if not r.alternatives:
        return "—"
    if r.fragile:
        return "fragile: " + "; ".join(r.flipped_by)
    return "robust"


def robustness_table(res: Sequence[ClaimResult]) -> pd.DataFrame:
    """Every verdict next to the same comparison under each robustness alternative."""
    rows = []
    for r in res:
        if not r.alternatives:
            continue
        rows.append({"claim": r.claim_id, "alternative": "the rule (last iteration, IQM, "
                     "percentile)", "ratio": format_ratio(r.ours), "95% CI": format_ci(r.ci),
                     "verdict": r.verdict, "changes the verdict": ""})
        rows += [{"claim": r.claim_id, "alternative": a.name, "ratio": format_ratio(a.ours),
                  "95% CI": format_ci(a.ci), "verdict": a.verdict,
                  "changes the verdict": "yes" if a.verdict != r.verdict else "no"}
                 for a in r.alternatives]
    if not rows:
        return pd.DataFrame(columns=["claim", "alternative", "ratio", "95% CI", "verdict",
                                     "changes the verdict"]).set_index(["claim", "alternative"])
    return pd.DataFrame(rows).set_index(["claim", "alternative"])


def verdict_details(res: Sequence[ClaimResult]) -> str:
    """What each verdict compared (or waits for), one line per claim."""
    lines = []
    for r in res:
        claim = CLAIMS_BY_ID.get(r.claim_id)
        rule = f" Rule: {claim.rule_text()}." if claim else ""
        what = r.note if r.verdict == "not yet run" else r.scale + (f" ({r.note})" if r.note
                                                                    else "")
        lines.append(textwrap.fill(f"{r.claim_id}: {what.rstrip('.')}.{rule}", width=78,
                                   subsequent_indent="    "))
    return "\n".join(lines)
