"""Robustness alternatives beside every verdict: which ones flip it, and that the verdict itself
is always the pre-registered rule's."""

import numpy as np
import pandas as pd
import pytest

from prunebook.analysis import atari_scores, claims, claims_table
from prunebook.analysis.claims import ALTERNATIVES, CLAIMS_BY_ID
from prunebook.book import chapters

GAMES = ["Pong", "Breakout", "Asterix", "Qbert"]
CLAIM = CLAIMS_BY_ID["2-dqn"]


def frame(levels, seeds=5, noise=0.05, seed=0, last=0.0):
    """Atari final scores: human-normalised level per (width, sparsity) and game ("*": all),
    times (1 + noise N(0, 1)); `last` shifts the pruned runs for the last-3 alternative."""
    rng = np.random.default_rng(seed)
    rows = []
    for (width, sparsity), per_game in levels.items():
        for game in GAMES:
            random, human = atari_scores.atari_reference(game)
            for s in range(seeds):
                hn = per_game.get(game, per_game["*"]) * (1 + noise * rng.standard_normal())
                hn += last * (sparsity > 0)
                rows.append(dict(run_id=f"dqn-{game}-w{width}-s{sparsity:g}-seed{s}",
                                 sweep="online", agent="dqn", suite="atari", game=game,
                                 width=width, sparsity=sparsity, seed=s, preset="paper",
                                 env_steps=1000, score=random + hn * (human - random)))
    return pd.DataFrame(rows)


def robust(df, df3=None):
    return claims.evaluate_robust(CLAIM, df, df3, reps=2000)


def test_a_clear_effect_is_robust_and_the_primary_is_evaluate():
    df = frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.05, "Qbert": 2.0}})
    res = robust(df, df)
    plain = claims.evaluate(CLAIM, df, claims.claim_rng(CLAIM.id), reps=2000)
    assert (res.verdict, res.ci) == (plain.verdict, plain.ci) == ("reproduced", res.ci)
    names = [a.name for a in res.alternatives]
    assert names == ["mean of last 3 iterations", "mean instead of IQM",
                     "expanded percentile interval"] + [f"without {g}" for g in sorted(GAMES)]
    assert not res.fragile and claims_table.robustness_text(res) == "robust (7 alternatives)"


def test_one_game_carrying_the_verdict_is_fragile_and_named():
    res = robust(frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.02, "Qbert": 2.0}}))
    assert res.verdict == "reproduced"  # the rule's verdict is kept
    assert res.fragile and res.flipped_by == ["without Qbert"]
    assert "**fragile**: changes without Qbert → inconclusive" == claims_table.robustness_text(res)


def test_the_mean_alternative_and_the_last_iterations_alternative():
    df = frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.0, "Qbert": 2.0}})
    res = robust(df, frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.0, "Qbert": 2.0}},
                           last=0.3))
    assert res.verdict == "inconclusive"
    flips = dict((a.name, a.verdict) for a in res.alternatives)
    assert flips["mean instead of IQM"] == "reproduced"  # Qbert's gain counts in the mean
    assert flips["mean of last 3 iterations"] == "reproduced"
    assert {"mean instead of IQM", "mean of last 3 iterations"} <= set(res.flipped_by)


def test_expanded_interval_is_wider_and_not_yet_run_has_no_alternatives():
    res = robust(frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.3}}, seeds=3, noise=0.2))
    wide = next(a for a in res.alternatives if a.name == "expanded percentile interval")
    assert wide.ci[0] < res.ci[0] and wide.ci[1] > res.ci[1]
    empty = robust(frame({(1, 0.0): {"*": 1.0}}))
    assert empty.verdict == "not yet run" and empty.alternatives == () and not empty.fragile


def test_chapter_tables_show_the_alternatives():
    res = robust(frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.02, "Qbert": 2.0}}))
    table = chapters.robustness_table([res])
    assert len(table) == 1 + len(res.alternatives)
    assert table.loc[("2-dqn", "without Qbert"), "changes the verdict"] == "yes"
    assert chapters.verdict_table([res]).loc["2-dqn", "robustness"] == "fragile: without Qbert"
    fig = chapters.figure_robustness([res])
    assert len(fig.axes) == 1 and fig.axes[0].get_xscale() == "log"
    assert chapters.figure_robustness([claims.not_run_result(CLAIM, "—", "x", "no_runs")]) is None


def test_claims_waiting_for_runs_share_the_verdict_tables_last_row():
    judged = robust(frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.3}}, seeds=3, noise=0.2))
    waiting = [claims.not_run_result(CLAIMS_BY_ID[cid], "—", "waiting for runs", "waiting")
               for cid in ("7-l2-w1", "7-l2-w3")]
    table = chapters.verdict_table([waiting[0], judged, waiting[1]])
    assert list(table.index) == ["2-dqn", "7-l2-w1, 7-l2-w3"]
    assert table.loc["7-l2-w1, 7-l2-w3", "verdict"] == "not yet run (2 claims)"
    assert table.loc["2-dqn", "verdict"] == judged.verdict
    unselected = claims.not_run_result(CLAIMS_BY_ID["7-l2-w5"], "—", "x", "outside_selection")
    assert chapters.verdict_table([unselected]).loc["7-l2-w5", "verdict"] == "not selected"


def test_alternatives_are_fixed():
    assert ALTERNATIVES == ("mean of last 3 iterations", "mean instead of IQM",
                                   "expanded percentile interval", "without <game>")
    with pytest.raises(ValueError, match="unknown interval"):
        claims.evaluate(CLAIM, frame({(1, 0.0): {"*": 1.0}, (5, 0.95): {"*": 1.3}}),
                        claims.claim_rng(CLAIM.id), reps=100, interval="bca")
