"""The `std` preset's environment settings, checked against what the environment does, and
which records count as its runs."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunebook.config import (
    ConfigError,
    asterix_spawn_of,
    ci_config,
    config_from_dict,
    cpu_config,
    same_run,
    std_config,
)
from prunebook.envs import minatar
from prunebook.spec import DOPAMINE_MAX_EPISODE_STEPS, FREEWAY_TIME_LIMIT
from prunebook.sweeps import checkpoints, store
from prunebook.sweeps.cost import sweep_status
from prunebook.sweeps.registry import get_sweep

GAMES = ("Asterix", "Breakout", "Seaquest", "SpaceInvaders")


def test_std_preset_is_minatars_standard_protocol():
    config = std_config("dqn", game="Breakout", width=5, final_sparsity=0.95)
    assert config.num_env_steps == 5_000_000 and config.sticky_actions
    assert config.full_action_set
    assert config.max_episode_steps == DOPAMINE_MAX_EPISODE_STEPS
    assert std_config("dqn", game="Freeway").max_episode_steps == FREEWAY_TIME_LIMIT
    assert (config.prune_start_frac, config.prune_end_frac) == (0.2, 0.8)
    assert config.mask_update_every == 1000
    cpu = ci_config("dqn").replace(preset="cpu")
    for field in ("learning_rate", "adam_eps", "update_period", "batch_size", "gamma", "loss"):
        assert getattr(config, field) == getattr(cpu, field), field


def test_freeway_keeps_its_own_time_limit():
    with pytest.raises(ConfigError, match="Freeway ends after 2500"):
        ci_config("dqn", game="Freeway", max_episode_steps=27_000)


def _stepper(env):
    @jax.jit
    def run(key, requested):
        _, state = env.reset(jax.random.PRNGKey(0))

        def body(state, inputs):
            step_key, action = inputs
            step = env.step(step_key, state, action)
            return step.state, (step.state.last_action, step.terminated | step.truncated)

        keys = jax.random.split(key, requested.shape[0])
        return jax.lax.scan(body, state, (keys, requested))[1]

    return run


def test_a_stuck_action_repeats_at_the_set_rate():
    env = minatar.MinAtarEnv("Freeway", sticky_actions=True)  # long episodes, 3 actions
    n = 20_000
    requested = jax.random.randint(jax.random.PRNGKey(1), (n,), 0, env.num_actions)
    executed, done = map(np.asarray, _stepper(env)(jax.random.PRNGKey(2), requested))
    assert done.sum() >= 5  # several episode ends: the remembered action carries over them
    previous = np.concatenate([[0], executed[:-1]])
    requested = np.asarray(requested)
    stuck = executed != requested
    assert np.all(executed[stuck] == previous[stuck])  # a replaced action is the previous one
    # P(executed != requested) = p * P(previous != requested) = 0.1 * (1 - 1/3) for uniform
    expected = minatar.MINATAR_STICKY_ACTION_PROBABILITY * (1 - 1 / env.num_actions)
    assert abs(stuck.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / n)


def test_without_sticky_actions_every_action_runs_as_in_gymnax():
    import gymnax

    env = minatar.MinAtarEnv("Breakout")
    assert env.sticky_action_probability == 0.0
    assert minatar.MinAtarEnv("Breakout", sticky_actions=True).sticky_action_probability == 0.1
    raw, params = gymnax.make("Breakout-MinAtar")
    key = jax.random.PRNGKey(3)
    _, ours = env.reset(key)
    _, theirs = raw.reset(key, params)
    for i, action in enumerate([0, 1, 2, 2, 1, 0, 1, 1]):
        step_key = jax.random.fold_in(key, i)
        ours = env.step(step_key, ours, jnp.int32(action)).state
        theirs = raw.step(step_key, theirs, action, params)[1]
        assert jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), ours, theirs))


@pytest.mark.parametrize("game", GAMES)
def test_an_episode_can_run_past_1000_steps_only_with_the_std_cap(game):
    def still_running_at(env, time):
        _, state = env.reset(jax.random.PRNGKey(0))
        inner = state.env_state if hasattr(state, "env_state") else state
        inner = inner.replace(time=jnp.asarray(time, jnp.asarray(inner.time).dtype))
        state = state.replace(env_state=inner) if hasattr(state, "env_state") else inner
        step = env.step(jax.random.PRNGKey(1), state, jnp.int32(0))
        return not bool(step.truncated)

    default = minatar.from_config(ci_config("dqn", game=game))
    std = minatar.from_config(std_config("dqn", game=game))
    assert default.max_episode_steps == 1000 and std.max_episode_steps == 27_000
    assert not still_running_at(default, 999)  # gymnax cuts the 1,000th step
    assert still_running_at(std, 999) and still_running_at(std, 20_000)
    assert not still_running_at(std, 26_999)


@pytest.mark.parametrize("game, minimal", [("Asterix", 5), ("Breakout", 3), ("Freeway", 3),
                                           ("Seaquest", 6), ("SpaceInvaders", 4)])
def test_std_runs_see_all_six_actions_of_original_minatar(game, minimal):
    assert minatar.from_config(std_config("dqn", game=game)).num_actions == 6
    assert minatar.from_config(ci_config("dqn", game=game)).num_actions == minimal


def test_online_std_sweep_orders_both_widths_of_a_game_together():
    configs = get_sweep("online_std").configs()
    assert len(configs) == 48 and {c.preset for c in configs} == {"std"}
    first = [(c.game, c.width, c.final_sparsity) for c in configs[:4]]
    assert first == [("Asterix", 1, 0.0), ("Asterix", 1, 0.95), ("Asterix", 5, 0.0),
                     ("Asterix", 5, 0.95)]
    assert [c.seed for c in configs] == sorted(c.seed for c in configs)


# --- asterix_spawn and the records made before it existed -----------------------------------

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _write_record(root, config, sweep="online_std", drop_spawn=False, spawn=None):
    stored = config.to_dict()
    if drop_spawn:  # a record made before the field existed (e.g. by commit 9bcb08c)
        del stored["asterix_spawn"]
    if spawn is not None:
        stored["asterix_spawn"] = spawn
    record = {"run_id": config.run_id, "sweep": sweep, "config": stored,
              "iterations": [{"iteration": 0, "train_return": 1.0}]}
    path = store.run_path(root, sweep, config.run_id)
    store.write_run(path, record)
    return path, record


@pytest.mark.parametrize("game", ["Breakout", "Seaquest", "Freeway", "SpaceInvaders"])
def test_a_std_record_without_asterix_spawn_is_done_outside_asterix(tmp_path, game):
    config = std_config("dqn", game=game)
    path, _ = _write_record(tmp_path, config, drop_spawn=True)
    assert checkpoints.file_state(path, config, "online_std") == "finished"
    assert config_from_dict(store.read_run(path)["config"]).asterix_spawn == "gymnax"
    assert same_run(config_from_dict(store.read_run(path)["config"]), config)


def test_an_asterix_std_record_on_gymnaxs_spawn_is_not_a_done_std_run(tmp_path):
    config = std_config("dqn", game="Asterix")
    for kwargs in ({"drop_spawn": True}, {"spawn": "gymnax"}):
        path, record = _write_record(tmp_path, config, **kwargs)
        state = checkpoints.file_state(path, config, "online_std")
        assert state.endswith("asterix_spawn='gymnax'")
        assert not same_run(config_from_dict(record["config"]), config)
    path, _ = _write_record(tmp_path, config)
    assert checkpoints.file_state(path, config, "online_std") == "finished"


def test_a_cpu_asterix_record_without_the_field_still_counts():
    config = cpu_config("dqn", game="Asterix")
    stored = {k: v for k, v in config.to_dict().items() if k != "asterix_spawn"}
    assert asterix_spawn_of(stored) == "gymnax" == config.asterix_spawn
    assert asterix_spawn_of({**stored, "game": "Breakout"}) is None


def test_a_finished_copy_from_an_older_clone_is_restored_not_retrained(tmp_path):
    # why: Breakout and Seaquest std runs still training on an older clone will land without
    # the field; their finished copies must not be thrown away
    config = std_config("dqn", game="Breakout")
    copy = checkpoints.finished_copy_path(tmp_path / "ckpt", "online_std", config.run_id)
    stored = {k: v for k, v in config.to_dict().items() if k != "asterix_spawn"}
    store.write_run(copy, {"run_id": config.run_id, "sweep": "online_std", "config": stored,
                           "iterations": [{"iteration": 0, "train_return": 1.0}]})
    state, _ = checkpoints.finished_state(config, "online_std", tmp_path / "r", tmp_path / "ckpt")
    assert state == "restored"
    asterix = std_config("dqn", game="Asterix")
    copy = checkpoints.finished_copy_path(tmp_path / "ckpt", "online_std", asterix.run_id)
    stored = {k: v for k, v in asterix.to_dict().items() if k != "asterix_spawn"}
    store.write_run(copy, {"run_id": asterix.run_id, "sweep": "online_std", "config": stored,
                           "iterations": [{"iteration": 0, "train_return": 1.0}]})
    assert checkpoints.finished_state(asterix, "online_std", tmp_path / "r",
                                      tmp_path / "ckpt")[0] == "train"


def test_committed_std_records_and_the_superseded_asterix_runs():
    status = sweep_status(get_sweep("online_std"), RESULTS, RESULTS / "no-checkpoints")
    assert not status["bad"] and status["done"]
    # an Asterix run counts as done only on MinAtar's spawning (the reruns, from 2026-12-06)
    for run in status["done"]:
        if run.startswith("dqn-Asterix"):
            record = store.read_run(store.run_path(RESULTS, "online_std", run))
            assert asterix_spawn_of(record["config"]) == "minatar"
    superseded = store.load_runs(RESULTS / "superseded" / "gymnax_asterix", sweep="online_std")
    assert set(superseded.game) == {"Asterix"} and superseded.run_id.nunique() == 4
    for path in sorted((RESULTS / "superseded" / "gymnax_asterix" / "online_std").glob("*")):
        assert asterix_spawn_of(store.read_run(path)["config"]) == "gymnax"
