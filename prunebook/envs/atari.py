"""Atari 2600 through ale-py, preprocessed exactly like Dopamine's ``atari_lib`` [dossier §5.3].

Dopamine is the reference because the paper trains every online agent with it. What it does, and
what this module therefore does:

* ``gym.make("ALE/<Game>-v5", frameskip=1, repeat_action_probability=0.25 | 0.0,
  full_action_space=False)``: the minimal action set, frame skipping done by the wrapper.
* One agent step = the same action for 4 emulator frames, rewards summed; the observation is the
  max of the last two grayscale frames (``ale.getScreenGrayscale``), resized to 84x84 with
  ``cv2.INTER_AREA``, uint8. On reset the second pooling buffer is zero, so the first frame is the
  reset screen itself. When a step ends in a terminal state the loop stops early and the pooling
  buffers keep whatever they held (Dopamine's behaviour, kept on purpose).
* The agent keeps a stack of the 4 latest frames, oldest first; a new episode starts from zeros
  and pushes its first frame (``JaxDQNAgent._reset_state`` / ``_record_observation``), so the
  reset observation is ``[0, 0, 0, f0]`` on the channel axis.
* Rewards are clipped to [-1, 1] for learning only; scores use the raw reward.
* An episode lasts at most 27,000 agent steps (108k frames, 30 minutes); no no-op starts.
* ``terminal_on_life_loss`` (DER, DrQ(eps)): losing a life is a terminal *for the learner*, but
  the game goes on, as in Dopamine's ``Runner._run_one_episode``: after such a terminal,
  ``reset()`` does not restart the emulator, it only starts a fresh stack from the current frame.
  A scored episode ends when ``info["episode_end"]`` is true (game over or step cap).

Deliberate difference from Dopamine HEAD: it passes ``max_num_frames_per_episode=100_000`` and
folds the ALE's frame-cap truncation into ``game_over``, so an episode that reaches 25,000 agent
steps ends there as a *terminal*. We set the ALE cap to ``4 * max_episode_steps`` frames so the
Runner's documented 27,000-step cap is the one that binds, and report it as ``truncated``.

ale-py's native ``AtariVectorEnv`` is not offered. Configured as ``repeat_action_probability=0,
noop_max=0, use_fire_reset=False, reward_clipping=False`` it yields exactly our frames and rewards
(``tests/test_atari_env.py`` checks this on Breakout), but it differs elsewhere: sticky actions
draw from another RNG stream, a terminal auto-resets on the *next* ``step`` (whose action is
ignored), its life-loss signal does not restart the stack from zeros, only clipped rewards come
back when clipping is on, and with one environment it is not faster (feasibility notes §1).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import cv2
import numpy as np

from prunebook.spec import FRAME_SKIP, PAPER_15_GAMES

SCREEN_SIZE = 84
STACK_SIZE = 4
STICKY_ACTION_PROBABILITY = 0.25
MAX_EPISODE_STEPS = 27_000  # agent steps = 108k frames = 30 minutes of play


class StepResult(NamedTuple):
    """What one agent step returns. ``reward`` is the raw score; learn from ``clipped_reward``."""

    obs: np.ndarray  # (84, 84, 4) uint8, newest frame last
    reward: float
    clipped_reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]


def _register_ale():
    """Import gymnasium and ale-py lazily (CPU-only users of MinAtar never pay for them)."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    return gym, ale_py


def _env_id(game: str) -> tuple[str, str]:
    """Map a CamelCase game name to its gymnasium id and ROM id, with errors that help."""
    gym, ale_py = _register_ale()
    env_id = f"ALE/{game}-v5"
    if env_id not in gym.registry:
        raise ValueError(
            f"Unknown Atari game {game!r} (no gymnasium id {env_id!r}). Use the CamelCase ALE v5 "
            f"name, e.g. one of the paper's 15 games: {', '.join(PAPER_15_GAMES)}. The full list "
            "of ROMs is `ale_py.roms.get_all_rom_ids()` (snake_case: 'ms_pacman' -> 'MsPacman')."
        )
    rom = gym.registry[env_id].kwargs["game"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = ale_py.roms.get_rom_path(rom)
    if path is None or not path.exists():
        raise FileNotFoundError(
            f"The ROM {rom!r} for {game!r} is not installed (ale_py.roms.get_rom_path({rom!r}) -> "
            f"{path}). ale-py >= 0.9 bundles the ROMs: reinstall ale-py (pinned 0.12.1)."
        )
    return env_id, rom


class AtariEnv:
    """One Atari game with Dopamine's preprocessing and frame stack (see module docstring)."""

    def __init__(
        self,
        game: str,
        seed: int,
        sticky_actions: bool = True,
        terminal_on_life_loss: bool = False,
        max_episode_steps: int = MAX_EPISODE_STEPS,
    ):
        if max_episode_steps <= 0:
            raise ValueError(f"max_episode_steps must be positive, got {max_episode_steps}")
        gym, _ = _register_ale()
        env_id, _ = _env_id(game)
        self.game = game
        self.sticky_actions = sticky_actions
        self.terminal_on_life_loss = terminal_on_life_loss
        self.max_episode_steps = max_episode_steps
        # obs_type="ram": gymnasium's own observation is never used (we read the grayscale screen
        # from the ALE like Dopamine), and the 128-byte RAM is the cheapest one to copy.
        self._env = gym.make(
            env_id,
            frameskip=1,
            repeat_action_probability=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0,
            full_action_space=False,
            max_num_frames_per_episode=FRAME_SKIP * max_episode_steps,
            obs_type="ram",
        )
        self.ale = self._env.unwrapped.ale
        self._action_set = list(self.ale.getMinimalActionSet())
        height, width = self.ale.getScreenDims()
        self._screens = [np.zeros((height, width), np.uint8) for _ in range(2)]
        self._stack = np.zeros(self.observation_shape, np.uint8)
        self._seed: int | None = seed
        self._lives = 0
        self._episode_steps = 0
        self._episode_return = 0.0
        self._needs_full_reset = True
        self._needs_reset = True

    @property
    def num_actions(self) -> int:
        return len(self._action_set)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (SCREEN_SIZE, SCREEN_SIZE, STACK_SIZE)

    def _pool_and_resize(self) -> np.ndarray:
        """Max over the two pooling buffers (in place, like Dopamine), then INTER_AREA to 84x84."""
        np.maximum(self._screens[0], self._screens[1], out=self._screens[0])
        frame = cv2.resize(
            self._screens[0], (SCREEN_SIZE, SCREEN_SIZE), interpolation=cv2.INTER_AREA
        )
        return np.asarray(frame, dtype=np.uint8)

    def _push(self, frame: np.ndarray) -> np.ndarray:
        self._stack[..., :-1] = self._stack[..., 1:]
        self._stack[..., -1] = frame
        return self._stack.copy()

    def reset(self) -> np.ndarray:
        """Start a new (learner) episode; returns the stack ``[0, 0, 0, f0]``.

        After a life-loss terminal the game is *not* restarted (Dopamine): the new stack starts
        from the frame the terminal step returned.
        """
        self._stack[:] = 0
        if not self._needs_full_reset:
            self._needs_reset = False
            return self._push(self._last_frame)
        if self._seed is not None:
            self._env.reset(seed=self._seed)  # seeds the ALE (sticky actions) once
            self._seed = None
        else:
            self._env.reset()
        self._lives = self.ale.lives()
        self._episode_steps = 0
        self._episode_return = 0.0
        self.ale.getScreenGrayscale(self._screens[0])
        self._screens[1].fill(0)
        self._last_frame = self._pool_and_resize()
        self._needs_full_reset = False
        self._needs_reset = False
        return self._push(self._last_frame)

    def step(self, action: int) -> StepResult:
        """Repeat ``action`` for 4 frames; pool the last two; push the frame on the stack."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (the episode ended or never started)")
        ale_action = self._action_set[int(action)]
        reward = 0.0
        game_over = ale_truncated = life_lost = False
        for t in range(FRAME_SKIP):
            reward += self.ale.act(ale_action)
            game_over = self.ale.game_over(with_truncation=False)
            ale_truncated = self.ale.game_truncated()
            if self.terminal_on_life_loss:
                lives = self.ale.lives()
                life_lost = lives < self._lives
                self._lives = lives
            if t >= FRAME_SKIP - 2:  # fetch before the terminal check, as Dopamine HEAD does
                self.ale.getScreenGrayscale(self._screens[t - (FRAME_SKIP - 2)])
            if game_over or ale_truncated or life_lost:
                break
        self._last_frame = self._pool_and_resize()
        self._episode_steps += 1
        self._episode_return += reward
        terminated = bool(game_over or life_lost)
        truncated = bool(
            not game_over and (ale_truncated or self._episode_steps >= self.max_episode_steps)
        )
        episode_end = bool(game_over or truncated)
        info: dict[str, Any] = {
            "lives": self.ale.lives(),
            "game_over": bool(game_over),
            "episode_end": episode_end,
        }
        if episode_end:
            info["episode_return"] = self._episode_return
            info["episode_length"] = self._episode_steps
        self._needs_full_reset = episode_end
        self._needs_reset = terminated or truncated
        return StepResult(
            obs=self._push(self._last_frame),
            reward=float(reward),
            clipped_reward=float(np.clip(reward, -1.0, 1.0)),
            terminated=terminated,
            truncated=truncated,
            info=info,
        )

    def close(self) -> None:
        self._env.close()


def make_atari(game: str, seed: int, **options) -> AtariEnv:
    """Factory used by the runner: ``make_atari("Pong", 0, sticky_actions=False)``."""
    return AtariEnv(game, seed, **options)
