"""The random-policy anchor: measured in each preset's own environment, checked when loaded."""

import json

import numpy as np
import pandas as pd
import pytest

from prunebook import spec
from prunebook.analysis import normalization, random_policy
from prunebook.envs.minatar import MINATAR_STICKY_ACTION_PROBABILITY


@pytest.mark.parametrize("preset", ["cpu", "std"])
def test_committed_tables_match_their_presets_environment(preset):
    table = random_policy.random_scores(preset)  # raises if a game's settings differ
    assert set(table) == set(spec.MINATAR_GAMES)
    for game, entry in table.items():
        assert entry["episodes"] >= 1000, game
        assert 0.0 <= entry["mean"] < 10.0 and entry["std"] > 0.0, game
        assert 1 <= entry["mean_episode_length"] <= entry["max_steps_in_episode"], game
    if preset == "std":  # MinAtar's protocol: all 6 actions, Dopamine's cap (Freeway its own)
        assert {e["num_actions"] for e in table.values()} == {6}
        assert table["Breakout"]["max_steps_in_episode"] == spec.DOPAMINE_MAX_EPISODE_STEPS
        assert table["Freeway"]["max_steps_in_episode"] == spec.FREEWAY_TIME_LIMIT
    else:  # gymnax's defaults: minimal action sets, 1,000-step cap
        assert table["Breakout"]["num_actions"] == 3
        assert table["Breakout"]["max_steps_in_episode"] == 1000


def test_ci_and_cpu_share_the_gymnax_table_and_std_has_its_own():
    assert random_policy.table_path("ci") == random_policy.table_path("cpu")
    assert random_policy.table_path("std") != random_policy.table_path("cpu")
    with pytest.raises(ValueError, match="paper.*choose one of"):
        random_policy.table_path("paper")


def test_a_table_measured_in_other_settings_is_refused_by_name(tmp_path):
    gymnax_table = random_policy.table_path("cpu")
    (tmp_path / random_policy.RANDOM_SCORE_FILES["std"]).write_text(gymnax_table.read_text())
    with pytest.raises(ValueError, match="minatar_random_scores_std.json: Asterix was measured "
                                         "with .*'sticky_actions': False"):
        random_policy.random_scores("std", tmp_path)
    with pytest.raises(FileNotFoundError, match="--preset cpu"):
        random_policy.random_scores("cpu", tmp_path / "nowhere")


def test_measurement_is_deterministic_and_follows_the_environment():
    small = random_policy.measure(["Breakout"], "std", episodes=32, seed=3)["Breakout"]
    again = random_policy.measure(["Breakout"], "std", episodes=32, seed=3)["Breakout"]
    assert small == again
    assert small["episodes"] == 32 and small["num_actions"] == 6
    assert small["settings"] == {"sticky_actions": True, "full_action_set": True,
                                 "max_episode_steps": spec.DOPAMINE_MAX_EPISODE_STEPS,
                                 "asterix_spawn": "minatar"}
    other = random_policy.measure(["Breakout"], "std", episodes=32, seed=4)["Breakout"]
    assert other["mean"] != small["mean"] or other["std"] != small["std"]
    assert MINATAR_STICKY_ACTION_PROBABILITY == 0.1


def test_the_committed_gymnax_table_is_what_the_code_measures():
    # re-measured from the file's own episodes and seed: a changed environment, key or action
    # draw would change these numbers
    committed = random_policy.random_scores("cpu")["Breakout"]
    record = json.loads(random_policy.table_path("cpu").read_text())
    now = random_policy.measure(["Breakout"], "cpu", record["episodes"], record["seed"])
    assert now["Breakout"] == committed


def test_normalize_frame_anchors_each_preset_by_its_own_table():
    rows = []
    for preset in ("cpu", "std"):
        for score in (20.0, 30.0):
            rows.append(dict(run_id=f"{preset}{score}", sweep=f"s_{preset}", agent="dqn",
                             suite="minatar", game="Breakout", width=1, sparsity=0.0,
                             seed=int(score), preset=preset, score=score))
    out = normalization.normalize_frame(pd.DataFrame(rows)).set_index("run_id")
    for preset in ("cpu", "std"):
        low = random_policy.random_scores(preset)["Breakout"]["mean"]
        expected = (20.0 - low) / (25.0 - low)  # the reference is the mean of 20 and 30
        assert out.loc[f"{preset}20.0", "normalized"] == pytest.approx(expected)
    cpu_low = random_policy.random_scores("cpu")["Breakout"]["mean"]
    std_low = random_policy.random_scores("std")["Breakout"]["mean"]
    assert cpu_low != std_low  # else the test could not tell the tables apart
    assert not np.isclose(out.loc["cpu20.0", "normalized"], out.loc["std20.0", "normalized"])


def test_an_asterix_anchor_measured_on_gymnaxs_spawn_is_refused_for_std(tmp_path):
    # why: std runs spawn as original MinAtar; an anchor from gymnax's spawning is another game
    record = json.loads(random_policy.table_path("std").read_text())
    record["games"]["Asterix"]["settings"]["asterix_spawn"] = "gymnax"
    (tmp_path / random_policy.RANDOM_SCORE_FILES["std"]).write_text(json.dumps(record))
    with pytest.raises(ValueError, match="Asterix was measured with .*'asterix_spawn': 'gymnax'"):
        random_policy.random_scores("std", tmp_path)
