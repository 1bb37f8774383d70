"""The Atari loop's state: what a run carries between agent steps (`AtariState`, mutable: the
replay is up to 7 GB of host memory and is never copied) and its checkpoint payload, which
restores the emulator, the replay and the networks exactly (`state_to_arrays` /
`state_from_arrays`)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from prunebook.envs.atari import AtariEnv
from prunebook.loops.trainer import tree_from_arrays, tree_to_arrays
from prunebook.replay.frames import ImageReplay, PrioritizedImageReplay

TIMERS = ("act", "env", "replay", "update")
# AtariEnv attributes that, with the ALE state, fully determine its future (see from_arrays).
_ENV_SCALARS = ("_seed", "_lives", "_episode_steps", "_episode_return", "_needs_full_reset",
                "_needs_reset")
_ENV_ARRAYS = ("_stack", "_last_frame")


@dataclasses.dataclass(eq=False)
class AtariState:
    """Everything a run carries between agent steps (mutable; see the module docstring)."""

    params: Any
    target_params: Any
    opt_state: Any
    key: jax.Array  # raw uint32 PRNG key, for acting and for IQN's taus
    replay: ImageReplay
    env: AtariEnv
    obs: np.ndarray  # (84, 84, 4) uint8: the stack the agent acts on next
    rng: np.random.Generator  # replay sampling
    agent_steps: int = 0
    updates: int = 0
    # per-iteration accumulators, reset at the start of each iteration
    episode_returns: list[float] = dataclasses.field(default_factory=list)
    loss_sum: float = 0.0
    losses: int = 0
    nonfinite_loss: bool = False
    # seconds spent per phase since the state was made (benchmarks; not checkpointed)
    timers: dict[str, float] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(TIMERS, 0.0))


def _json_array(data: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(data).encode(), np.uint8).copy()


def _networks(state: AtariState):
    return (state.params, state.target_params, state.opt_state)


def state_to_arrays(state: AtariState) -> list[np.ndarray]:
    """The checkpoint payload: [meta json, key, network leaves..., replay..., emulator...].

    Only the written part of the replay is stored (a fresh run's checkpoint is small).
    """
    replay, env = state.replay, state.env
    used = len(replay)
    meta = {
        "agent_steps": state.agent_steps, "updates": state.updates,
        "episode_returns": state.episode_returns, "loss_sum": state.loss_sum,
        "losses": state.losses, "nonfinite_loss": state.nonfinite_loss,
        "rng": state.rng.bit_generator.state,
        "replay": {"add_count": replay.add_count, "capacity": replay.capacity,
                   "next_is_episode_start": replay._next_is_episode_start,
                   "max_recorded_priority": getattr(getattr(replay, "sum_tree", None),
                                                    "max_recorded_priority", None)},
        "env": {name: getattr(env, name) for name in _ENV_SCALARS},
    }
    leaves = tree_to_arrays(_networks(state))
    arrays = [_json_array(meta), np.asarray(jax.device_get(state.key)), *leaves,
              replay.frames[:used], replay.actions[:used], replay.rewards[:used],
              replay.terminals[:used], replay.episode_ends[:used]]
    if isinstance(replay, PrioritizedImageReplay):
        arrays.append(replay.sum_tree.nodes)
    ale_state = env.ale.cloneState(include_rng=True).serialize()
    arrays += [np.frombuffer(ale_state, np.uint8).copy(), *env._screens,
               *(getattr(env, name) for name in _ENV_ARRAYS), state.obs]
    return [np.asarray(a) for a in arrays]


def state_from_arrays(template: AtariState, arrays: list[np.ndarray]) -> AtariState:
    """Restore `to_arrays` output into a fresh `init(seed)` state (modified in place)."""
    from ale_py import ALEState

    arrays = list(arrays)
    meta = json.loads(bytes(arrays.pop(0)).decode())
    replay, env = template.replay, template.env
    if meta["replay"]["capacity"] != replay.capacity:
        raise ValueError(f"checkpoint replay capacity {meta['replay']['capacity']} != "
                         f"{replay.capacity}")
    key = arrays.pop(0)
    stored = [arrays.pop(0) for _ in jax.tree.leaves(_networks(template))]
    params, target_params, opt_state = tree_from_arrays(_networks(template), stored)
    fresh = replay.add_count == 0  # init(seed) output: the unwritten slots are already zero
    for name in ("frames", "actions", "rewards", "terminals", "episode_ends"):
        data = arrays.pop(0)
        target = getattr(replay, name)
        if not fresh:
            target[len(data):] = 0
        target[: len(data)] = data
    replay.add_count = int(meta["replay"]["add_count"])
    replay._next_is_episode_start = bool(meta["replay"]["next_is_episode_start"])
    if isinstance(replay, PrioritizedImageReplay):
        replay.sum_tree.nodes[:] = arrays.pop(0)
        replay.sum_tree.max_recorded_priority = float(meta["replay"]["max_recorded_priority"])
    env.ale.restoreState(ALEState(arrays.pop(0).tobytes()))
    for screen in env._screens:
        screen[:] = arrays.pop(0)
    for name in _ENV_ARRAYS:
        setattr(env, name, arrays.pop(0).copy())
    for name, value in meta["env"].items():
        setattr(env, name, value)
    obs = arrays.pop(0).copy()
    if arrays:
        raise ValueError(f"checkpoint has {len(arrays)} unexpected trailing arrays")
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng"]
    template.params, template.target_params, template.opt_state = (
        params, target_params, opt_state)
    template.key = jnp.asarray(key)
    template.obs, template.rng = obs, rng
    template.agent_steps, template.updates = int(meta["agent_steps"]), int(meta["updates"])
    template.episode_returns = [float(r) for r in meta["episode_returns"]]
    template.loss_sum, template.losses = float(meta["loss_sum"]), int(meta["losses"])
    template.nonfinite_loss = bool(meta["nonfinite_loss"])
    return template
