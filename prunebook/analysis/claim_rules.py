"""What a claim is, and its verdict rule: the types the claims engine (:mod:`.claims`) and the
pre-registered claims (:mod:`.preregistered`) share.

Verdict rules (:func:`verdict`), applied to the 95% CI ``(lo, hi)`` of the IQM ratio:

* ``"greater"`` (numerator beats denominator): ``lo > 1`` -> reproduced, ``hi < 1`` ->
  contradicted, otherwise inconclusive.
* ``"less"`` (numerator is worse): ``hi < 1`` -> reproduced, ``lo > 1`` -> contradicted,
  otherwise inconclusive.
* ``"non_inferior"`` with margin ``m`` ("maintains performance"): ``lo > m`` -> reproduced,
  ``hi < m`` -> contradicted, otherwise inconclusive.
* An undefined interval -> inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prunebook.spec import AGENT_NAMES

METHOD_LABELS = {"static_random": "static random {sparsity}", "lottery": "lottery {sparsity}",
                 "weight_decay": "{kind} + weight decay", "l2": "{kind} + L2",
                 "reset": "{kind} + Reset", "redo": "{kind} + ReDo"}
WIDEST = "widest"  # the largest width with runs for that side, resolved per group
NON_INFERIORITY_MARGIN = 0.9  # "maintains performance": IQM ratio at least 90% of dense


@dataclass(frozen=True)
class Side:
    """One configuration of a comparison; ``width`` is an int or :data:`WIDEST`."""

    agent: str
    width: int | str
    sparsity: float
    method: str = ""  # "" the paper's dense / GMP run; else a control or baseline (RUN_COLUMNS)

    def label(self, width: int | None = None) -> str:
        """In the book's words, "DQN pruned 95% ×5": notes and rule texts are read there."""
        kind = "dense" if self.sparsity == 0 else f"pruned {self.sparsity:.0%}"
        if self.method in METHOD_LABELS:
            kind = METHOD_LABELS[self.method].format(kind=kind, sparsity=f"{self.sparsity:.0%}")
        agent = AGENT_NAMES.get(self.agent, self.agent)
        if width is None and self.width == WIDEST:
            return f"{agent} {kind} widest"
        return f"{agent} {kind} ×{width if width is not None else self.width}"


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the comparison it implies."""

    id: str
    statement: str  # the paper's words (dossier §4)
    paper: str  # the paper's number, as printed ("no number" when it gives none)
    figure: str
    numerator: Side
    denominator: Side
    rule: str  # "greater" | "less" | "non_inferior"
    paper_ratio: float | None = None  # the paper's magnitude as a ratio, when it gives one
    margin: float | None = None  # only for "non_inferior"
    # the sweeps it is judged on; () = every sweep that has no claims of its own
    sweeps: tuple[str, ...] = ()
    # a few words for the front page's figure and table (what the ratio compares); it names
    # the claim, it is not part of its rule
    label: str = ""

    @property
    def title(self) -> str:
        """:attr:`label`, or the id where a claim has none."""
        return self.label or self.id

    def rule_text(self) -> str:
        ratio = f"IQM({self.numerator.label()}) / IQM({self.denominator.label()})"
        if self.rule == "greater":
            return f"{ratio}: CI above 1 reproduces, below 1 contradicts"
        if self.rule == "less":
            return f"{ratio}: CI below 1 reproduces, above 1 contradicts"
        return (f"{ratio}: CI lower bound above {self.margin} reproduces (non-inferiority), "
                f"upper bound below {self.margin} contradicts")


@dataclass(frozen=True)
class Alternative:
    """The same comparison under one robustness alternative (see :data:`ALTERNATIVES`)."""

    name: str
    verdict: str
    ours: float | None
    ci: tuple[float, float] | None


@dataclass(frozen=True)
class ClaimResult:
    claim_id: str
    verdict: str
    ours: float | None  # point estimate of the IQM ratio
    ci: tuple[float, float] | None  # 95% stratified-bootstrap percentile interval
    paper: str
    scale: str  # game set, env steps, seeds, preset: what the verdict is about
    paper_in_ci: bool | None = None  # does the paper's magnitude lie inside our CI?
    note: str = field(default="")
    games: tuple[str, ...] = ()  # the games compared
    runs_per_game: int | None = None  # fewest runs per game over both sides
    alternatives: tuple[Alternative, ...] = ()  # filled by `evaluate_robust`
    sweep: str = ""  # the sweep the compared runs belong to
    training: str = ""  # how long the compared runs trained ("500,000 env steps")
    reason: str = ""  # why a "not yet run" result has no verdict: a key of NOT_RUN_REASONS

    @property
    def flipped_by(self) -> list[str]:
        """The robustness alternatives under which the verdict changes."""
        return [a.name for a in self.alternatives if a.verdict != self.verdict]

    @property
    def fragile(self) -> bool:
        return bool(self.flipped_by)


def verdict(rule: str, ci: tuple[float, float], margin: float | None = None) -> str:
    """The verdict a CI ``(lo, hi)`` of the IQM ratio implies under ``rule`` (see module doc)."""
    lo, hi = ci
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if rule == "greater":
        return "reproduced" if lo > 1 else "contradicted" if hi < 1 else "inconclusive"
    if rule == "less":
        return "reproduced" if hi < 1 else "contradicted" if lo > 1 else "inconclusive"
    if rule == "non_inferior":
        if margin is None:
            raise ValueError("non_inferior needs a margin")
        return "reproduced" if lo > margin else "contradicted" if hi < margin else "inconclusive"
    raise ValueError(f"unknown rule {rule!r}")


NOT_RUN_REASONS = {
    "waiting": "runs the comparison needs have not all finished",
    "no_runs": "there are no runs to compare",
    "outside_selection": "a side lies outside the configurations a chapter selected",
    "missing_side": "one side of the comparison has no runs",
    "no_wider": "no run is wider than the comparison's narrower side",
    "unnormalisable": "no game both sides share can be normalised",
}
"""Why a comparison has no verdict yet: the engine says it, readers never parse the note."""


def not_run_result(claim: Claim, scale: str, note: str, reason: str) -> ClaimResult:
    """A result with no verdict: `note` says it in words, `reason` (a key of NOT_RUN_REASONS)
    for code."""
    if reason not in NOT_RUN_REASONS:
        raise ValueError(f"reason={reason!r} is not one of {sorted(NOT_RUN_REASONS)}")
    return ClaimResult(claim.id, "not yet run", None, None, claim.paper, scale, None, note,
                       reason=reason)
