"""Committed records say only what ran: their environment fields against the environment."""

import functools
import json
from pathlib import Path

import pytest

from prunebook.config import config_from_dict
from prunebook.envs import minatar
from prunebook.spec import MINATAR_AGENTS
from prunebook.sweeps import migrations, store

RESULTS = Path(__file__).resolve().parents[1] / "results"
GYMNAX_DEFAULT_STEPS = {"Freeway": 2500}  # every other MinAtar game: 1,000


@functools.cache
def _env(game: str, sticky: bool, cap: int, full: bool) -> minatar.MinAtarEnv:
    return minatar.MinAtarEnv(game, sticky_actions=sticky, max_episode_steps=cap,
                              full_action_set=full)


def _online_minatar_records():
    """Records of online MinAtar runs (offline runs evaluate on the default environment)."""
    for path in sorted(RESULTS.glob("*/*.json")):
        record = json.loads(path.read_text())
        config = record.get("config", {})
        if config.get("suite") == "minatar" and config.get("agent") in MINATAR_AGENTS:
            yield path, record


def test_every_committed_minatar_records_environment_fields_are_what_ran():
    checked = 0
    for path, record in _online_minatar_records():
        config = config_from_dict(record["config"])
        env = _env(config.game, config.sticky_actions, config.max_episode_steps,
                   config.full_action_set)
        want_p = minatar.MINATAR_STICKY_ACTION_PROBABILITY if config.sticky_actions else 0.0
        assert env.sticky_action_probability == want_p, path.name
        want_cap = config.max_episode_steps or GYMNAX_DEFAULT_STEPS.get(config.game, 1000)
        assert env.max_episode_steps == want_cap, path.name
        assert not migrations.claims_unapplied_sticky_actions(record), path.name
        assert (env.num_actions == 6) == (config.full_action_set or config.game == "Seaquest")
        checked += 1
    assert checked >= 168  # online_cpu at least


def _sample_text() -> str:
    return (RESULTS / "online_cpu" / "dqn-Breakout-w1-s0-seed0.json").read_text()


def test_the_migration_corrects_only_the_false_field():
    corrected = _sample_text()
    assert '"sticky_actions": false' in corrected
    old = corrected.replace('"sticky_actions": false', '"sticky_actions": true')
    assert migrations.correct_sticky_actions(old) == corrected
    assert migrations.correct_sticky_actions(corrected) is None  # nothing left to correct


def test_records_made_with_sticky_actions_wired_are_left_alone():
    record = json.loads(_sample_text())
    record["config"]["sticky_actions"] = True
    record["iterations"][0]["measures"] = {"srank": 3}
    assert migrations.correct_sticky_actions(json.dumps(record, indent=1, sort_keys=True)) is None


def test_the_migration_refuses_to_rewrite_anything_else():
    old = _sample_text().replace('"sticky_actions": false', '"sticky_actions": true')
    reformatted = json.dumps(json.loads(old), indent=2, sort_keys=True)
    with pytest.raises(ValueError, match="more than that field"):
        migrations.correct_sticky_actions(reformatted)


def test_migrate_tree_writes_the_corrected_files(tmp_path):
    old = _sample_text().replace('"sticky_actions": false', '"sticky_actions": true')
    (tmp_path / "online_cpu").mkdir()
    target = tmp_path / "online_cpu" / "dqn-Breakout-w1-s0-seed0.json"
    target.write_text(old)
    assert migrations.migrate_tree(tmp_path) == [target]
    assert target.read_text() == _sample_text()


ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw

processor\t: 1
model name\t: something else
"""


def test_the_device_names_the_cpus_family_model_and_vector_instructions():
    # why: the same code rounds differently on CPUs with other instruction sets (chapter 6)
    assert store.cpu_description(ZEN4) == "AMD EPYC (family 25, model 17; AVX-512)"
    avx2 = ZEN4.replace(" avx512f avx512bw", "").replace("25", "23")
    assert store.cpu_description(avx2) == "AMD EPYC (family 23, model 17; AVX2)"
    assert store.cpu_description("model name\t: X\n") == "X (family ?, model ?; no AVX)"
