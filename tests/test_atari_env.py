"""Atari preprocessing checked on real ALE frames against independently computed values."""

import cv2
import gymnasium as gym
import numpy as np
import pytest

from prunebook.envs import atari
from prunebook.envs.atari import AtariEnv, StepResult, make_atari
from prunebook.spec import ATARI_100K_GAMES, PAPER_15_GAMES


def _resize(screen):
    return cv2.resize(screen, (84, 84), interpolation=cv2.INTER_AREA)


def _raw_twin(game, seed):
    """A second, unwrapped ALE env that returns gymnasium's own grayscale screen every frame."""
    env = gym.make(
        f"ALE/{game}-v5",
        frameskip=1,
        repeat_action_probability=0.0,
        full_action_space=False,
        obs_type="grayscale",
    )
    screen, _ = env.reset(seed=seed)
    return env, screen


def test_game_lists():
    assert len(PAPER_15_GAMES) == 15 and len(set(PAPER_15_GAMES)) == 15
    assert len(ATARI_100K_GAMES) == 26 and len(set(ATARI_100K_GAMES)) == 26
    for game in set(PAPER_15_GAMES) | set(ATARI_100K_GAMES):
        atari._env_id(game)  # registered and its ROM is installed


def test_reset_observation_and_shapes():
    env = make_atari("Pong", seed=3)
    assert isinstance(env, AtariEnv)
    assert env.num_actions == 6 and env.observation_shape == (84, 84, 4)
    obs = env.reset()
    assert obs.shape == (84, 84, 4) and obs.dtype == np.uint8
    # Dopamine's agent starts from a zero stack and pushes the first frame.
    assert not obs[..., :3].any()
    _, screen = _raw_twin("Pong", 3)
    np.testing.assert_array_equal(obs[..., 3], _resize(screen))  # max(f0, zeros) = f0


def test_step_max_pools_last_two_frames_and_stacks_newest_last():
    env = AtariEnv("Pong", seed=0, sticky_actions=False)
    twin, _ = _raw_twin("Pong", 0)
    obs = env.reset()
    rng = np.random.default_rng(0)
    history, pooled_differs = [obs[..., 3]], 0
    for _ in range(40):
        action = int(rng.integers(env.num_actions))
        screens, total = [], 0.0
        for _ in range(4):
            screen, reward, terminated, _, _ = twin.step(action)
            screens.append(screen)
            total += reward
        assert not terminated
        expected = _resize(np.maximum(screens[2], screens[3]))
        result = env.step(action)
        assert isinstance(result, StepResult)
        assert result.obs.shape == (84, 84, 4) and result.obs.dtype == np.uint8
        np.testing.assert_array_equal(result.obs[..., -1], expected)
        assert result.reward == total
        pooled_differs += not np.array_equal(expected, _resize(screens[3]))
        history.append(expected)
        # Oldest first, newest last; frames before the episode start are zeros.
        want = [np.zeros((84, 84), np.uint8)] * 3 + history
        np.testing.assert_array_equal(result.obs, np.stack(want[-4:], axis=-1))
    assert pooled_differs > 0  # the pooling is visible, so the check above has teeth


def test_matches_ale_native_vector_env_without_sticky_actions():
    """ALE's own C++ preprocessing (same options) gives identical frames and rewards."""
    from ale_py.vector_env import AtariVectorEnv

    venv = AtariVectorEnv(
        "breakout", 1, num_threads=1, repeat_action_probability=0.0, noop_max=0,
        use_fire_reset=False, reward_clipping=False, episodic_life=False,
    )  # fmt: skip
    vobs, _ = venv.reset(seed=0)
    env = AtariEnv("Breakout", seed=0, sticky_actions=False)
    obs = env.reset()
    np.testing.assert_array_equal(np.moveaxis(vobs[0], 0, -1), obs)
    rng = np.random.default_rng(1)
    for _ in range(60):
        action = int(rng.integers(env.num_actions))
        vobs, vreward, _, _, _ = venv.step(np.array([action]))
        result = env.step(action)
        np.testing.assert_array_equal(np.moveaxis(vobs[0], 0, -1), result.obs)
        assert vreward[0] == result.reward
        if result.terminated:
            break
    venv.close()


def test_reward_clipping_keeps_raw_reward():
    env = AtariEnv("SpaceInvaders", seed=0)  # invaders are worth 5-30 points
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(2000):
        result = env.step(int(rng.integers(env.num_actions)))
        assert result.clipped_reward == float(np.clip(result.reward, -1, 1))
        if result.reward > 1:
            assert result.clipped_reward == 1.0
            return
    pytest.fail("no reward above 1 in 2000 random steps")


def test_episode_cap_truncates():
    env = AtariEnv("Pong", seed=0, max_episode_steps=5)
    env.reset()
    flags = [env.step(0) for _ in range(5)]
    assert not any(r.truncated or r.terminated for r in flags[:4])
    last = flags[-1]
    assert last.truncated and not last.terminated
    assert last.info["episode_end"] and last.info["episode_length"] == 5
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    assert not env.step(0).truncated  # the count restarts with the game
    assert env.ale.getInt("max_num_frames_per_episode") == 4 * 5


@pytest.mark.parametrize("sticky, prob", [(True, 0.25), (False, 0.0)])
def test_sticky_actions_reach_the_ale(sticky, prob):
    env = AtariEnv("Pong", seed=0, sticky_actions=sticky)
    assert env.ale.getFloat("repeat_action_probability") == pytest.approx(prob)


def test_same_seed_same_trajectory_with_sticky_actions():
    obs = []
    for _ in range(2):
        env = AtariEnv("Breakout", seed=7)
        env.reset()
        obs.append(np.stack([env.step(a % 4).obs[..., -1] for a in range(30)]))
    np.testing.assert_array_equal(obs[0], obs[1])


def _play_until_life_lost(env, rng, max_steps=500):
    for _ in range(max_steps):
        result = env.step(int(rng.integers(env.num_actions)))
        if result.info["lives"] < 5:
            return result
    pytest.fail("no life lost")


def test_terminal_on_life_loss_keeps_the_game_going():
    env = AtariEnv("Breakout", seed=0, terminal_on_life_loss=True)
    env.reset()
    result = _play_until_life_lost(env, np.random.default_rng(0))
    assert result.terminated and not result.truncated
    assert not result.info["game_over"] and not result.info["episode_end"]
    steps_so_far = env._episode_steps
    obs = env.reset()  # a new learner episode, not a new game
    assert env.ale.lives() == 4 and env._episode_steps == steps_so_far
    assert not obs[..., :3].any()
    np.testing.assert_array_equal(obs[..., 3], result.obs[..., 3])

    plain = AtariEnv("Breakout", seed=0, terminal_on_life_loss=False)
    plain.reset()
    assert not _play_until_life_lost(plain, np.random.default_rng(0)).terminated


def test_bad_game_name_is_explained():
    with pytest.raises(ValueError, match="Unknown Atari game 'Pongg'") as err:
        make_atari("Pongg", 0)
    assert "MsPacman" in str(err.value) and "get_all_rom_ids" in str(err.value)
    with pytest.raises(ValueError):
        make_atari("ms_pacman", 0)  # ROM ids are not game names


def test_missing_rom_is_explained(monkeypatch):
    import ale_py.roms

    monkeypatch.setattr(ale_py.roms, "get_rom_path", lambda name: None)
    with pytest.raises(FileNotFoundError, match="'pong'.*not installed"):
        make_atari("Pong", 0)
