"""The `paper` preset against the dossier's tables, field by field, for each agent."""

import pytest

from prunebook import pruning, spec
from prunebook.agents import iqn
from prunebook.config import ConfigError, RunConfig, paper_config, preset_config
from prunebook.config.base import variant_of
from prunebook.config.paper import ENV_TABLE, IQN_FIELDS, PAPER_TABLE, VARIANT_TABLE
from prunebook.envs import atari
from prunebook.spec import AGENTS, ATARI_60_GAMES

RUN_AGENTS = list(AGENTS)


def _expected(agent: str) -> dict:
    return {**PAPER_TABLE["common"], **PAPER_TABLE[agent], "agent": agent}


@pytest.mark.parametrize("agent", RUN_AGENTS)
def test_preset_matches_the_table_field_by_field(agent):
    config = paper_config(agent)
    fields = config.to_dict()
    for name, value in _expected(agent).items():
        if name in IQN_FIELDS and name not in fields:
            continue  # RunConfig without IQN fields: see test_iqn_constants_match_the_table
        assert fields[name] == value, f"{agent}.{name}: preset {fields[name]!r} != table {value!r}"
    assert preset_config("paper", agent) == config
    # Every field is in the table except the run's identity and what the agent never reads.
    unused = {"dqn": {"num_atoms", "v_max", "priority_beta", *IQN_FIELDS},
              "rainbow": {"loss", *IQN_FIELDS},
              "iqn": {"num_atoms", "v_max", "priority_beta", "loss"},
              "der": {"loss", *IQN_FIELDS},  # C51
              "drq_eps": {"num_atoms", "v_max", "priority_beta", *IQN_FIELDS}}[agent]
    minatar_only = {"max_episode_steps", "full_action_set", "asterix_spawn"}  # MinAtar settings
    # The controls' and baselines' switches: the paper's runs are GMP with none of them on.
    variant_switches = {"mask_method", "redo_tau", *spec.BASELINE_FIELDS.values()}
    assert variant_of(fields) == ""
    assert set(fields) - set(_expected(agent)) <= (
        {"game", "seed"} | unused | minatar_only | variant_switches)


@pytest.mark.parametrize("agent", ["dqn", "rainbow", "iqn", "der", "drq_eps"])
def test_table_covers_every_agent_specific_value(agent):
    # The values that differ between agents must all be in the per-agent rows.
    assert {"n_step", "learning_rate", "adam_eps"} <= set(PAPER_TABLE[agent])


def test_agent_rows_match_dossier_table_2():
    # Table 2 (dossier §5.1): DQN / Rainbow / IQN
    assert [PAPER_TABLE[a]["adam_eps"] for a in ("dqn", "rainbow", "iqn")] == [
        1.5e-4, 1.5e-4, 3.125e-4]
    assert [PAPER_TABLE[a]["learning_rate"] for a in ("dqn", "rainbow", "iqn")] == [
        6.25e-5, 6.25e-5, 5e-5]
    assert [PAPER_TABLE[a]["n_step"] for a in ("dqn", "rainbow", "iqn")] == [1, 3, 3]


def test_agent_rows_match_dossier_table_1_and_the_atari_100k_gin_files():
    # Table 1 (dossier §5.1): DER / DrQ(eps); target periods and life loss from §5.2 gin
    der, drq = PAPER_TABLE["der"], PAPER_TABLE["drq_eps"]
    for row in (der, drq):
        assert (row["adam_eps"], row["learning_rate"], row["n_step"]) == (1.5e-4, 1e-4, 10)
        assert (row["min_replay_history"], row["update_period"]) == (1_600, 1)
        assert (row["sticky_actions"], row["terminal_on_life_loss"]) == (False, True)
    assert (der["epsilon_decay_steps"], drq["epsilon_decay_steps"]) == (2_000, 5_000)
    assert (der["target_update_period"], drq["target_update_period"]) == (2_000, 1)
    assert der["num_atoms"] == 51 and "num_atoms" not in drq  # Table 1 "atoms 51 / 0"
    common = PAPER_TABLE["common"]  # Table 1 values shared with Table 2
    assert (common["batch_size"], common["gamma"], common["replay_capacity"],
            common["epsilon_train"]) == (32, 0.99, 1_000_000, 0.01)


def test_atari_100k_variants_match_the_gin_files():
    import dataclasses

    from prunebook.agents import atari100k

    assert set(atari100k.VARIANTS) == set(VARIANT_TABLE) == {"der", "drq_eps"}
    for agent, row in VARIANT_TABLE.items():
        assert dataclasses.asdict(atari100k.VARIANTS[agent]) == row, agent


def test_atari_100k_run_length_and_pruning_window():
    # 40M frames with one update per agent step: 10M - 1,600 updates; 20% -> 80% ~ 2M -> 8M
    # (dossier §3.5, derived and UNCONFIRMED)
    for agent in ("der", "drq_eps"):
        config = paper_config(agent)
        assert config.num_env_steps * 4 == 40_000_000 and config.num_iterations == 40
        assert config.total_updates == 10_000_000 - 1_600
        schedule = pruning.GMPSchedule.from_run_length(
            config.final_sparsity, config.total_updates, config.prune_start_frac,
            config.prune_end_frac, config.mask_update_every)
        assert (schedule.start_update, schedule.end_update) == (2_000_000, 7_999_000)
        assert schedule.update_every == 1000
        assert config.game in spec.ATARI_100K_GAMES and config.network == "impala"


def test_iqn_constants_match_the_table():
    config = paper_config("iqn")
    hp = iqn.IQNHyperParams.from_config(config)
    for name in IQN_FIELDS:
        assert getattr(hp, name) == PAPER_TABLE["iqn"][name], name
    for name in ("n_step", "learning_rate", "adam_eps"):
        assert getattr(config, name) == PAPER_TABLE["iqn"][name], name


def test_run_length_and_pruning_schedule_arithmetic():
    config = paper_config("dqn")
    assert config.num_env_steps * 4 == 40_000_000  # 40M frames (§2.1)
    assert config.num_iterations == 40 and config.iteration_env_steps == 250_000
    assert config.total_updates == (10_000_000 - 20_000) // 4 == 2_495_000
    schedule = pruning.GMPSchedule.from_run_length(
        config.final_sparsity, config.total_updates, config.prune_start_frac,
        config.prune_end_frac, config.mask_update_every)
    # JP-dop's gin: 500k -> 2M of 2.5M updates; the preset counts the 20k warm-up steps out.
    assert schedule.start_update == 499_000 and schedule.end_update == 1_996_000
    assert abs(schedule.start_update - 500_000) / 500_000 < 0.005
    assert config.target_update_period % config.update_period == 0


def test_environment_table_matches_the_atari_module():
    assert ENV_TABLE["stack_size"] == atari.STACK_SIZE
    assert ENV_TABLE["screen_size"] == atari.SCREEN_SIZE
    assert ENV_TABLE["frame_skip"] == spec.FRAME_SKIP
    assert ENV_TABLE["max_episode_steps"] == atari.MAX_EPISODE_STEPS
    assert ENV_TABLE["sticky_action_probability"] == atari.STICKY_ACTION_PROBABILITY
    import inspect

    defaults = inspect.signature(atari.AtariEnv).parameters
    assert defaults["sticky_actions"].default is ENV_TABLE["sticky_actions"]
    assert defaults["terminal_on_life_loss"].default is ENV_TABLE["terminal_on_life_loss"]


def test_games_and_overrides():
    assert len(ATARI_60_GAMES) == 60 and set(spec.PAPER_15_GAMES) <= set(ATARI_60_GAMES)
    for game in spec.PAPER_15_GAMES:
        assert paper_config("rainbow", game=game).game == game
    with pytest.raises(ConfigError, match="game"):
        paper_config("dqn", game="Breakout-MinAtar")
    config = paper_config("dqn", width=3, final_sparsity=0.0, seed=4)
    assert (config.width, config.final_sparsity, config.seed) == (3, 0.0, 4)
    assert config.run_id == "dqn-Breakout-w3-s0-seed4"
    with pytest.raises(ConfigError):
        paper_config("ppo")
    assert isinstance(paper_config("dqn", network="nature"), RunConfig)
