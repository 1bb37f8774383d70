"""Reference tables against hand-computed values; MinAtar normalisation; frame helpers."""

import numpy as np
import pandas as pd
import pytest

from prunebook import spec
from prunebook.analysis import atari_scores, normalization
from prunebook.analysis.atari_scores import ATARI_SCORES
from prunebook.sweeps.registry import describe

FIFTEEN = ["MsPacman", "Pong", "Qbert", "Assault", "Asterix", "BeamRider", "Boxing", "Breakout",
           "CrazyClimber", "DemonAttack", "Enduro", "FishingDerby", "SpaceInvaders", "Tutankham",
           "VideoPinball"]


def test_human_normalized_hand_values():
    assert atari_scores.human_normalized(31.7, "Breakout") == pytest.approx(30.0 / 28.8)
    assert atari_scores.human_normalized(0.0, "Pong") == pytest.approx(20.7 / 35.3)
    assert atari_scores.human_normalized(1668.7, "SpaceInvaders") == pytest.approx(1.0)
    assert atari_scores.human_normalized(148.0, "space_invaders") == pytest.approx(0.0)
    # VideoPinball: Dopamine random 0.0, DQN Zoo random 16256.9 (human 17667.9 in both)
    assert atari_scores.human_normalized(8833.95, "VideoPinball") == pytest.approx(0.5)
    hn = atari_scores.human_normalized
    assert hn(17000.0, "VideoPinball", source="dqn_zoo") == pytest.approx(
        (17000.0 - 16256.9) / (17667.9 - 16256.9))
    assert hn(17000.0, "VideoPinball", "dqn_zoo") == pytest.approx(0.52665, 1e-4)
    # same value in both tables for every other game
    assert hn(500.0, "MsPacman", "dqn_zoo") == hn(500, "MsPacman")


def test_tables_differ_only_where_the_dossier_says():
    dop, zoo = ATARI_SCORES["dopamine"], ATARI_SCORES["dqn_zoo"]
    assert len(dop) == 55 and len(zoo) == 57
    assert {k for k in zoo if dop.get(k) != zoo[k]} == {"videopinball", "defender", "surround"}
    assert all(atari_scores.atari_reference(g) for g in FIFTEEN)
    for random, human in zoo.values():
        assert human > random


def test_missing_games_and_sources():
    with pytest.raises(KeyError, match="dqn_zoo"):
        atari_scores.human_normalized(100.0, "Defender")
    assert atari_scores.human_normalized(18688.9, "Defender", "dqn_zoo") == pytest.approx(1.0)
    with pytest.raises(KeyError):
        atari_scores.human_normalized(1.0, "AirRaid")
    with pytest.raises(ValueError, match="unknown source"):
        atari_scores.human_normalized(1.0, "Pong", source="atari57")


def test_minatar_normalized():
    assert normalization.minatar_normalized(10.0, "Breakout", reference=10.0, random=0.5) == 1.0
    assert normalization.minatar_normalized(0.5, "Breakout", reference=10.0, random=0.5) == 0.0
    assert normalization.minatar_normalized(5.25, "Breakout", reference=10.0, random=0.5) == 0.5
    with pytest.raises(ValueError, match="not above the random score"):
        normalization.minatar_normalized(1.0, "Breakout", reference=0.3, random=0.5)


def _row(**kw):
    base = dict(run_id="r", sweep="s1", agent="dqn", suite="minatar", game="Breakout", width=1,
                sparsity=0.0, seed=0, preset="ci", score=0.0)
    return {**base, **kw}


RANDOM = {g: {"mean": 1.0} for g in spec.MINATAR_GAMES}


def test_normalize_frame_minatar_and_atari():
    df = pd.DataFrame([
        _row(seed=0, score=9.0), _row(seed=1, score=13.0),  # reference mean 11 -> 1.0
        _row(width=3, sparsity=0.95, score=21.0),  # (21 - 1) / (11 - 1) = 2.0
        _row(game="Asterix", width=3, score=5.0),  # no dense width-1 DQN for Asterix
        _row(suite="atari", game="Pong", score=14.6),
        _row(sweep="s2", agent="rainbow", score=6.0),  # borrows s1's reference (named below)
        _row(suite="atari", game="Pong", score=np.nan),
        _row(sweep="s3", agent="rainbow", score=6.0),  # no reference, none named: no pooling
    ])
    out = normalization.normalize_frame(df, random_table=RANDOM, reference_sweeps={"s2": "s1"})
    assert np.allclose(out["normalized"].iloc[[0, 1]].mean(), 1.0)
    assert out["normalized"].iloc[2] == pytest.approx(2.0)
    assert np.isnan(out["normalized"].iloc[3])
    assert "no dense width-1 DQN runs for Asterix" in out["normalization"].iloc[3]
    assert out["normalized"].iloc[4] == pytest.approx(1.0)
    assert out["normalized"].iloc[5] == pytest.approx(0.5)
    assert "sweep s1 (lent to s2)" in out["normalization"].iloc[5]
    assert np.isnan(out["normalized"].iloc[6]) and "NaN" in out["normalization"].iloc[6]
    assert np.isnan(out["normalized"].iloc[7])
    assert "its description's reference" in out["normalization"].iloc[7]
    assert describe("rainbow_vmax100").reference_sweep == "online_cpu"
    assert normalization.reference_sweep("controls_cpu") == "online_cpu"
    with pytest.raises(ValueError, match="Asterix"):
        normalization.normalize_frame(df, random_table=RANDOM, on_missing="raise")
    with pytest.raises(ValueError, match="lacks columns"):
        normalization.normalize_frame(df.drop(columns="score"))


def test_per_game_table_and_matrices():
    df = pd.DataFrame([_row(seed=s, score=float(s), game=g, normalized=float(s))
                       for g in ("Asterix", "Breakout") for s in range(3)]
                      + [_row(seed=3, score=3.0, game="Breakout", normalized=3.0)])
    table = normalization.per_game_table(df)
    brk = table[table["game"] == "Breakout"].iloc[0]
    assert brk["mean"] == pytest.approx(1.5) and brk["runs"] == 4
    assert brk["std"] == pytest.approx(np.std([0, 1, 2, 3], ddof=1))
    assert "±" in brk["mean ± std"]
    m = normalization.score_matrix(df)
    assert m.shape == (3, 2)  # Breakout trimmed to its 3 lowest seeds
    assert np.array_equal(m[:, 1], [0.0, 1.0, 2.0])


def test_curve_array_drops_nan_points():
    rows = []
    for g in ("Asterix", "Breakout"):
        for s in range(2):
            for it in range(4):
                value = np.nan if it == 0 else float(it + s)
                rows.append(_row(game=g, seed=s, iteration=it, env_steps=1000 * (it + 1),
                                 normalized=value))
    arr, xs = normalization.curve_array(pd.DataFrame(rows))
    assert arr.shape == (2, 2, 3)
    assert np.array_equal(xs, [2000, 3000, 4000])
    assert np.array_equal(arr[1, 0], [2.0, 3.0, 4.0])


def test_missing_random_score_says_how_to_measure_it():
    df = pd.DataFrame([_row(game="Seaquest", score=3.0)])
    out = normalization.normalize_frame(df, random_table={"Breakout": {"mean": 1.0}})
    assert "no random-policy score for Seaquest" in out["normalization"].iloc[0]
    with pytest.raises(KeyError, match="never guessed"):
        normalization.random_score("Seaquest", {"Breakout": {"mean": 1.0}})


def test_comparison_marks_a_side_that_is_the_reference_as_shared():
    rows = pd.DataFrame([_row(seed=s, game=g, score=5.0 + s, width=w, sparsity=sp,
                              agent=a, run_id=f"{a}{g}{w}{sp}{s}")
                         for g in ("Asterix", "Breakout") for s in range(3)
                         for a, w, sp in (("dqn", 1, 0.0), ("dqn", 5, 0.95))])
    ref = rows[rows["width"] == 1]
    big = rows[rows["width"] == 5]
    raw, norm, how = normalization.comparison({"num": big, "den": ref}, rows,
                                              ["Asterix", "Breakout"], random_table=RANDOM)
    assert norm.shared == "den" and norm.reference is None and "resampled" in how
    assert raw["num"].shape == (3, 2) and np.array_equal(norm.low, [1.0, 1.0])
    raw, norm, _ = normalization.comparison({"num": big}, rows, ["Asterix", "Breakout"],
                                            random_table=RANDOM)
    assert norm.shared is None and norm.reference.shape == (3, 2)
    with pytest.raises(ValueError, match="no dense width-1 DQN runs"):
        normalization.comparison({"num": big}, big, ["Asterix"], random_table=RANDOM)
