"""Chapter 2's sensitivity check of Rainbow's value range: compact Rainbow's C51 support is
[-10, 10], MinAtar returns can go beyond it, so the sweep `rainbow_vmax100` reruns Rainbow x1
and x5, dense and 95%, on two games with `v_max=100`. Its description in `sweeps.registry`
names the sweep it is compared with, `online_cpu`, which also lends its MinAtar normaliser
(dense x1 DQN, resampled inside the bootstrap like any reference); both come through
`chapters.load`. This module compares the direction of the Rainbow verdicts there with the
committed `v_max=10` runs on the same games and seeds, as tables: what the comparison means
is written in chapter 2's Markdown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prunebook.analysis import claims
from prunebook.analysis.claims import CLAIMS_BY_ID, ClaimResult
from prunebook.book.chapters.data import load
from prunebook.sweeps import registry, store

SWEEP = registry.find("vmax", "cpu")
CLAIM_IDS = ("1-rainbow", "1-rainbow-pruned", "2-rainbow")


def _direction(r: ClaimResult) -> str:
    if r.ours is None or not np.isfinite(r.ours):
        return "—"
    return "above 1" if r.ours > 1 else "below 1" if r.ours < 1 else "at 1"


def _row(r: ClaimResult) -> str:
    if r.ours is None:
        return f"{r.verdict} ({r.note})" if r.note else r.verdict
    ci = "—" if r.ci is None or not np.isfinite(r.ci[0]) else f"[{r.ci[0]:.2f}, {r.ci[1]:.2f}]"
    return f"×{r.ours:.2f} {ci}, {r.verdict}"


def vmax_check(results_root: str | Path = "results", seed: int = 0, reps: int = 50_000,
               preset: str = "cpu") -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(scope, table): which runs the check compared (one row: v_max, games, seeds, runs) and,
    per Rainbow claim, its verdict at v_max=10 and at v_max=100 and whether the direction
    holds, on the games and seeds the v_max=100 sweep has. (None, None) without its runs, or
    at a preset other than `cpu` (the check is about the `cpu` preset's runs)."""
    if preset != registry.describe(SWEEP).preset:
        return None, None
    data = load("vmax", preset, results_root=results_root)  # with the sweep it is compared with
    if not data.records:
        return None, None
    baseline = data.lender
    finals = {n: store.final_scores(data.runs, last_iterations=n) for n in (1, 3)}
    mine = finals[1][finals[1]["sweep"] == SWEEP]
    games, seeds = sorted(mine["game"].unique()), sorted(mine["seed"].unique())
    v_max = sorted({data.configs[r].get("v_max") for r in mine["run_id"]})
    plan = claims.planned_runs(SWEEP)

    def subset(frame, sweep):
        keep = (frame["sweep"] == sweep) & frame["game"].isin(games) & frame["seed"].isin(seeds)
        return frame[keep & ((frame["agent"] == "rainbow") | (sweep == baseline))]

    rows = []
    for cid in CLAIM_IDS:
        claim = CLAIMS_BY_ID[cid]
        out = {}
        for name, sweep in (("v_max=10", baseline), ("v_max=100", SWEEP)):
            base = subset(finals[1], sweep)
            res = claims.evaluate_robust(
                claim, base, subset(finals[3], sweep), seed, reps,
                plan if sweep == SWEEP else None, reference_df=finals[1],
                reference3_df=finals[3]) if len(base) else claims.evaluate(
                claim, base, claims.claim_rng(cid, seed), reps)
            out[name] = res
        ten, hundred = out["v_max=10"], out["v_max=100"]
        same = (_direction(ten) == _direction(hundred) if "—" not in
                (_direction(ten), _direction(hundred)) else None)
        rows.append({"claim": cid, f"{baseline} (v_max=10)": _row(ten),
                     f"{SWEEP} (v_max={'/'.join(f'{v:g}' for v in v_max if v is not None)})":
                     _row(hundred), "direction holds": {True: "yes", False: "no",
                                                        None: "—"}[same]})
    scope = pd.DataFrame([{"v_max": ", ".join(f"{v:g}" for v in v_max if v is not None),
                           "games": ", ".join(games), "seeds": ", ".join(map(str, seeds)),
                           "runs": len(mine)}])
    return scope, pd.DataFrame(rows).set_index("claim")
