"""The paper's claims as data, with verdict rules fixed before any result exists.

Every claim compares two configurations through the ratio ``IQM(numerator) / IQM(denominator)`` of
normalized final scores (Atari: human-normalized; MinAtar: see :mod:`prunebook.normalization`),
with a 95% percentile interval from independent stratified bootstraps of the two configurations.

Verdict rules (``verdict``), applied to the 95% CI ``(lo, hi)`` of the ratio:

* ``"greater"`` (the paper says numerator beats denominator): ``lo > 1`` -> reproduced,
  ``hi < 1`` -> contradicted, otherwise inconclusive.
* ``"less"`` (the paper says numerator is worse): ``hi < 1`` -> reproduced, ``lo > 1`` ->
  contradicted, otherwise inconclusive.
* ``"non_inferior"`` with margin ``m`` ("maintains performance"): ``lo > m`` -> reproduced,
  ``hi < m`` -> contradicted, otherwise inconclusive. The margin is :data:`NON_INFERIORITY_MARGIN`.
* No runs for one side (or none that can be normalised) -> "not yet run". An undefined interval
  (a bootstrap replicate with a non-positive denominator IQM) -> inconclusive.

Comparisons never mix suites, sweeps or presets: each (suite, sweep, preset) group with runs for
both sides gives its own row. Only games present on both sides are used; per side, every game
keeps the same number of runs (the lowest seeds, up to the smallest count over games).
Agent names: "dqn", "rainbow" (online) and "cql", "cql_c51" (offline, chapter 4).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prunebook import normalization, stats

WIDEST = "widest"  # the largest width with runs for that side, resolved per group
NON_INFERIORITY_MARGIN = 0.9  # "maintains performance": IQM ratio at least 90% of dense
VERDICTS = ("reproduced", "contradicted", "inconclusive", "not yet run")
GROUP = ["suite", "sweep", "preset"]


@dataclass(frozen=True)
class Side:
    """One configuration of a comparison; ``width`` is an int or :data:`WIDEST`."""

    agent: str
    width: int | str
    sparsity: float

    def label(self, width: int | None = None) -> str:
        kind = "dense" if self.sparsity == 0 else f"pruned {self.sparsity:.0%}"
        if width is None and self.width == WIDEST:
            return f"{self.agent} {kind} widest"
        return f"{self.agent} {kind} w{width if width is not None else self.width}"


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

    def rule_text(self) -> str:
        ratio = f"IQM({self.numerator.label()}) / IQM({self.denominator.label()})"
        if self.rule == "greater":
            return f"{ratio}: CI above 1 reproduces, below 1 contradicts"
        if self.rule == "less":
            return f"{ratio}: CI below 1 reproduces, above 1 contradicts"
        return (f"{ratio}: CI lower bound above {self.margin} reproduces (non-inferiority), "
                f"upper bound below {self.margin} contradicts")


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


_FIG1 = ('"close to a 60% (DQN) and 50% (Rainbow) performance improvement over the original '
         '(unpruned and unscaled) architectures"')
_MONO = ('"while the performance of the unpruned architectures decreases monotonically with '
         'increasing widths, the performance of the pruned counterparts increases monotonically"')
_FIG3 = ('"90% and 95% sparsity produce a 33% performance improvement, and 99% sparsity maintains '
         'performance"')
_FIG8 = ('"both CQL and CQL+C51 observe significant gains when using pruned networks, in '
         'particular with wider networks"')


def _claims() -> tuple[Claim, ...]:
    out = []
    for agent, gain, name in (("dqn", 1.6, "DQN"), ("rainbow", 1.5, "Rainbow")):
        dense1, pruned1 = Side(agent, 1, 0.0), Side(agent, 1, 0.95)
        out += [
            Claim(f"1-{agent}", _MONO, "dense IQM decreases with width (no number)", "Fig 1",
                  Side(agent, WIDEST, 0.0), dense1, "less"),
            Claim(f"1-{agent}-pruned", _MONO, "pruned IQM increases with width (no number)",
                  "Fig 1", Side(agent, WIDEST, 0.95), pruned1, "greater"),
            Claim(f"2-{agent}", _FIG1, f"{name} +~{gain - 1:.0%} (×{gain})", "Fig 1",
                  Side(agent, WIDEST, 0.95), dense1, "greater", paper_ratio=gain),
        ]
    dense3 = Side("dqn", 3, 0.0)
    out += [
        Claim("3-90", _FIG3, "+33% (×1.33) at width 3", "Fig 3", Side("dqn", 3, 0.9), dense3,
              "greater", paper_ratio=1.33),
        Claim("3-95", _FIG3, "+33% (×1.33) at width 3", "Fig 3", Side("dqn", 3, 0.95), dense3,
              "greater", paper_ratio=1.33),
        Claim("3-99", _FIG3, "maintains performance at width 3 (no number)", "Fig 3",
              Side("dqn", 3, 0.99), dense3, "non_inferior", margin=NON_INFERIORITY_MARGIN),
    ]
    for agent, tag in (("cql", "cql"), ("cql_c51", "cql-c51")):
        for width in (1, 3):
            out.append(Claim(f"4-{tag}-w{width}", _FIG8, "significant gains (no number)", "Fig 8",
                             Side(agent, width, 0.95), Side(agent, width, 0.0), "greater"))
    return tuple(out)


CLAIMS: tuple[Claim, ...] = _claims()
CLAIMS_BY_ID = {c.id: c for c in CLAIMS}


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


# --------------------------------------------------------------------------- evaluation
def _select(df: pd.DataFrame, side: Side, width) -> pd.DataFrame:
    return df[(df["agent"] == side.agent) & (df["width"] == width)
              & np.isclose(df["sparsity"].astype(float), side.sparsity)]


def _resolve_width(df: pd.DataFrame, side: Side):
    if side.width != WIDEST:
        return side.width
    rows = df[(df["agent"] == side.agent) & np.isclose(df["sparsity"].astype(float), side.sparsity)]
    return int(rows["width"].max()) if len(rows) else None


def _not_run(claim: Claim, scale: str, note: str) -> ClaimResult:
    return ClaimResult(claim.id, "not yet run", None, None, claim.paper, scale, None, note)


_KEY = ["agent", "game", "width", "sparsity", "seed"]


def planned_runs(sweep_name: str) -> pd.DataFrame | None:
    """The (agent, game, width, sparsity, seed) grid of a named sweep, or None if unknown."""
    try:
        from prunebook.sweeps import get_sweep

        configs = get_sweep(sweep_name).configs()
    except Exception:  # an ad-hoc sweep: no plan to check completeness against
        return None
    return pd.DataFrame([(c.agent, c.game, c.width, float(c.final_sparsity), c.seed)
                         for c in configs], columns=_KEY)


def _missing(plan: pd.DataFrame, df: pd.DataFrame, side: Side, width) -> tuple[int, int]:
    """(missing, planned) runs of one side of a comparison."""
    want = plan[(plan.agent == side.agent) & (plan.width == width)
                & np.isclose(plan.sparsity, side.sparsity)]
    have = set(map(tuple, df[_KEY].astype({"sparsity": float}).itertuples(index=False)))
    return sum(tuple(r) not in have for r in want.itertuples(index=False)), len(want)


def _incomplete(claim: Claim, df: pd.DataFrame, plan: pd.DataFrame) -> str:
    """Why a planned comparison cannot be judged yet ("" when every run it needs is in).

    A verdict on part of a sweep could flip as runs land, so it is withheld: both sides and
    the normalisation reference (dense width-1 DQN) must be complete for every game and seed.
    """
    sides = [claim.numerator, claim.denominator]
    if not claim.numerator.agent.startswith("cql"):
        sides.append(Side("dqn", 1, 0.0))  # MinAtar normalisation reference
    waiting = []
    for side in dict.fromkeys(sides):  # unique, in order
        rows = plan[(plan.agent == side.agent) & np.isclose(plan.sparsity, side.sparsity)]
        if not len(rows):
            continue
        width = int(rows.width.max()) if side.width == WIDEST else side.width
        missing, planned = _missing(plan, df, side, width)
        if missing:
            waiting.append(f"{side.label(width)}: {planned - missing} of {planned} runs")
    return ("waiting for " + "; ".join(waiting)) if waiting else ""


def _training_length(runs: pd.DataFrame) -> str:
    """How long the compared runs trained, for the scale column: environment steps online,
    gradient updates offline (where no environment step is taken)."""
    for col, unit in (("env_steps", "env steps"), ("num_env_steps", "env steps"),
                      ("gradient_updates", "gradient updates")):
        if col in runs.columns and runs[col].max() > 0:
            return f"{int(runs[col].max()):,} {unit} · "
    return ""


def evaluate(claim: Claim, runs_df: pd.DataFrame, rng: np.random.Generator,
             reps: int = 50_000, plan: pd.DataFrame | None = None) -> ClaimResult:
    """Verdict of ``claim`` on a per-run final-score frame from one (suite, sweep, preset) group.

    ``runs_df`` needs the results-format columns (``score``); a ``normalized`` column is added
    with :func:`prunebook.normalization.normalize_frame` when absent. With ``plan`` (the
    sweep's planned runs), a comparison that is not complete yet is "not yet run".
    """
    df = runs_df if "normalized" in runs_df.columns else normalization.normalize_frame(runs_df)
    if len(df) and len(df[GROUP].drop_duplicates()) > 1:
        raise ValueError(f"evaluate: runs span several {GROUP} groups; split them first")
    base = ", ".join(f"{c} {df[c].iloc[0]}" for c in GROUP) if len(df) else "no runs"
    if plan is not None and len(df):
        waiting = _incomplete(claim, df, plan)
        if waiting:
            return _not_run(claim, base, waiting)
    wn, wd = _resolve_width(df, claim.numerator), _resolve_width(df, claim.denominator)
    if wn is None or wd is None:
        return _not_run(claim, base, "no runs for one side of the comparison")
    if claim.numerator.width == WIDEST and wn <= wd:
        return _not_run(claim, base, f"needs a width above {wd}; widest run is {wn}")
    num, den = _select(df, claim.numerator, wn), _select(df, claim.denominator, wd)
    if not len(num) or not len(den):
        return _not_run(claim, base, "no runs for one side of the comparison")
    num, den = num[num["normalized"].notna()], den[den["normalized"].notna()]
    games = sorted(set(num["game"]) & set(den["game"]))
    if not games:
        return _not_run(claim, base, "runs exist but share no normalisable game "
                        "(MinAtar needs dense width-1 DQN reference runs)")
    x = normalization.score_matrix(num, games=games)
    y = normalization.score_matrix(den, games=games)
    steps = _training_length(pd.concat([num, den]))
    scale = (f"{base} · {len(games)} games ({', '.join(games)}) · {steps}"
             f"runs/game {x.shape[0]} vs {y.shape[0]} · "
             f"{claim.numerator.label(wn)} vs {claim.denominator.label(wd)}")
    try:
        ours, ci = stats.iqm_ratio(x, y, rng=rng, reps=reps)
    except ValueError as err:  # IQM(denominator) <= 0
        return ClaimResult(claim.id, "inconclusive", None, None, claim.paper, scale, None,
                           str(err))
    note = "" if np.isfinite(ci[0]) else "interval undefined: IQM(denominator) <= 0 in a replicate"
    inside = None
    if claim.paper_ratio is not None and np.isfinite(ci[0]):
        inside = bool(ci[0] <= claim.paper_ratio <= ci[1])
    return ClaimResult(claim.id, verdict(claim.rule, ci, claim.margin), ours, ci, claim.paper,
                       scale, inside, note)


def claim_rng(claim_id: str, seed: int = 0) -> np.random.Generator:
    """The bootstrap generator of one claim: the front page and the chapters share it, so the
    same runs give the same interval wherever the claim is evaluated."""
    return np.random.default_rng([seed, zlib.crc32(claim_id.encode())])


def evaluate_all(final_df: pd.DataFrame, rng_seed: int = 0, reps: int = 50_000,
                 claims=CLAIMS) -> list[ClaimResult]:
    """Every claim on every (suite, sweep, preset) group; one "not yet run" row if none fits.

    Each claim gets its own generator ``default_rng([rng_seed, crc32(claim.id)])``, so a result
    does not depend on which other claims or groups are evaluated.
    """
    df = normalization.normalize_frame(final_df) if len(final_df) else final_df
    groups = [g for _, g in df.groupby(GROUP, sort=True)] if len(df) else []
    results = []
    plans = {name: planned_runs(name) for name in df["sweep"].unique()} if len(df) else {}
    for claim in claims:
        rows, waiting = [], []
        for group in groups:
            rng = claim_rng(claim.id, rng_seed)
            res = evaluate(claim, group, rng, reps=reps, plan=plans.get(group["sweep"].iloc[0]))
            if res.verdict != "not yet run":
                rows.append(res)
            elif res.note.startswith("waiting"):
                waiting.append(res)
        results += rows or waiting[:1] or [_not_run(claim, "—", "no matching runs in results/")]
    return results


def _fmt(res: ClaimResult) -> dict[str, str]:
    ours = "—" if res.ours is None else f"×{res.ours:.2f} ({res.ours - 1:+.0%})"
    ci = "—" if res.ci is None or not np.isfinite(res.ci[0]) else (
        f"[{res.ci[0]:.2f}, {res.ci[1]:.2f}]")
    if res.paper_in_ci is not None:
        ci += " (paper's value inside)" if res.paper_in_ci else " (paper's value outside)"
    shown = res.verdict
    if res.verdict == "not yet run" and res.note.startswith("waiting"):
        shown = f"not yet run ({res.note})"
    return {"claim": res.claim_id, "paper": res.paper, "ours": ours, "ci95": ci,
            "scale": res.scale, "verdict": shown}


def _load_final(results_root: str | Path, last_iterations: int = 1) -> pd.DataFrame:
    """Per-run final scores from ``results/`` (plus each run's last ``env_steps`` and, for
    offline runs, ``gradient_updates``)."""
    root = Path(results_root)
    if not root.is_dir() or not any(root.glob("*/*.json")):
        return pd.DataFrame()
    from prunebook import results  # lazy: keeps this module importable on its own

    runs = results.load_runs(root)
    if not len(runs):
        return pd.DataFrame()
    final = results.final_scores(runs, last_iterations=last_iterations)
    lengths = [c for c in ("env_steps", "gradient_updates") if c in runs.columns]
    return final.join(runs.groupby(["sweep", "run_id"])[lengths].max(), on=["sweep", "run_id"])


def claims_table(results_root: str | Path = "results", rng_seed: int = 0, reps: int = 50_000,
                 last_iterations: int = 1) -> pd.DataFrame:
    """Columns [claim, paper, ours, ci95, scale, verdict], one row per claim and run group."""
    final = _load_final(results_root, last_iterations)
    results = evaluate_all(final, rng_seed=rng_seed, reps=reps)
    return pd.DataFrame([_fmt(r) for r in results],
                        columns=["claim", "paper", "ours", "ci95", "scale", "verdict"])


def to_markdown(table: pd.DataFrame) -> str:
    """A pipe table (valid MyST) followed by the verdict rules of every claim."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    lines += ["", "Verdict rules (fixed in `prunebook/claims.py` before any result existed; "
              "ratios of IQMs of normalized final scores, 95% stratified-bootstrap CIs):", ""]
    lines += [f"- **{c.id}** ({c.figure}, {c.statement}): {c.rule_text()}." for c in CLAIMS]
    return "\n".join(lines) + "\n"


def write_claims_markdown(path: str | Path, results_root: str | Path = "results",
                          rng_seed: int = 0, reps: int = 50_000) -> pd.DataFrame:
    """Write the claims table as MyST markdown (the book's front page includes it)."""
    table = claims_table(results_root, rng_seed=rng_seed, reps=reps)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(to_markdown(table))
    return table


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m prunebook.claims OUT.md [RESULTS_ROOT]")
    print(write_claims_markdown(sys.argv[1], *sys.argv[2:]).to_string(index=False))
