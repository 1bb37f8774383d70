"""The host-stepped Atari training loop: the paper's setting, behind the runner's `Trainer`.

Atari cannot live inside `lax.scan` (the emulator is C++ on the host, the replay holds up to
1M frames in host memory), so here the host steps the environment and only two functions are
jitted, once per configuration and with everything passed as arguments:

* `act(params, obs, key, epsilon) -> (action, key)`: epsilon-greedy on one observation;
* `update(params, target_params, opt_state, batch, key) -> (params, opt_state, loss,
  per_sample_loss, key)`: the agent's gradient step (`agents.common.make_update`, with the GMP
  mask schedule and mask application), its key drawn by the agent's `split_key` (IQN's taus,
  DER's noise and DrQ's augmentation draw one; DQN and Rainbow none).

DER's noisy network acts greedily on a noise draw in training (Dopamine's `zero_epsilon`) and
on its mean weights in evaluation (its `act` and `act_eval`). The environment takes the config's
`sticky_actions` and `terminal_on_life_loss` (both turned around for DER and DrQ(eps), the
Atari-100k protocol).

One agent step, as Dopamine's `JaxDQNAgent.step` + `Runner` and the MinAtar loop do it:

    epsilon = linearly_decaying_epsilon(decay, agent_steps, min_replay_history, eps_train)
    a = act(obs); res = env.step(a)
    replay.add(obs[..., -1], a, clip(r), res.terminated, episode_end=res.truncated)
    obs = res.obs, or env.reset() after a terminal/truncation
    agent_steps += 1
    every update_period steps once agent_steps > min_replay_history: sample 32, update
      (Rainbow: new priorities sqrt(loss + 1e-10)); and every target_update_period steps
      after warm-up: target <- online (the sparse params).

An iteration is exactly `iteration_env_steps` agent steps; episodes run on across iterations
(Dopamine's Runner instead finishes the episode in progress, so its iterations are slightly
longer than 250k steps). Its score is the mean raw return of the episodes that ended in it.

The state is a mutable `AtariState` (the replay is up to 7 GB of host memory and is never
copied): `run_iteration` advances it in place and returns it. `to_arrays` / `from_arrays` save
and restore *everything* that influences the future: parameters, target, optimizer and mask
state, the replay's contents and sum-tree, counters, the JAX key, the NumPy Generator and the
emulator itself (ale-py 0.12 `cloneState(include_rng=True)`, which includes the sticky-action
RNG, plus the wrapper's pooling buffers and frame stack), so a run resumed after a kill is
bit-identical to an uninterrupted one (on the same machine and XLA build).
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from prunebook import measures, pruning
from prunebook.agents import AGENT_FACTORIES
from prunebook.agents.common import Agent
from prunebook.config import ConfigError, RunConfig
from prunebook.envs.atari import STACK_SIZE, make_atari
from prunebook.loops.atari_state import AtariState, state_from_arrays, state_to_arrays
from prunebook.loops.trainer import IterationStats, Trainer, make_measure_for
from prunebook.replay.frames import ImageReplay, PrioritizedImageReplay
from prunebook.replay.jittable import Batch


class AtariSpec(NamedTuple):
    """`Trainer.env` for Atari: what the game looks like (each run makes its own AtariEnv)."""

    game: str
    num_actions: int
    observation_shape: tuple[int, int, int]


class Compiled(NamedTuple):
    """The agent and its two jitted functions for one configuration."""

    agent: Agent
    act: Any  # jitted (params, obs, key, epsilon) -> (action, key)
    update: Any  # jitted (params, target, opt_state, batch, key) -> (params, opt, loss, ps, key)
    init_network: Any  # jitted (key, obs) -> (params, opt_state)
    act_eval: Any  # like `act`, for evaluation: a noisy network acts on its mean weights


def epsilon_at(config: RunConfig, agent_steps: int) -> float:
    """Dopamine's `linearly_decaying_epsilon` on the host (same formula as agents.common); a
    noisy agent (DER) ignores it (its `act` is greedy on a noise draw)."""
    steps_left = config.epsilon_decay_steps + config.min_replay_history - agent_steps
    bonus = (1.0 - config.epsilon_train) * steps_left / config.epsilon_decay_steps
    return config.epsilon_train + min(max(bonus, 0.0), 1.0 - config.epsilon_train)


def compile_agent(config: RunConfig, num_actions: int, agent=None) -> Compiled:
    """Jit `act` and `update` for this agent; arguments, not closures, carry every array."""
    if agent is None:
        agent = AGENT_FACTORIES[config.agent](config, num_actions)

    def update(params, target_params, opt_state, batch, key):
        key, update_key = agent.split_key(key)  # none drawn when the update needs no key
        return (*agent.update(params, target_params, opt_state, batch, update_key), key)

    def with_key(base):
        def act(params, obs, key, epsilon):
            key, act_key = jax.random.split(key)
            return base(params, obs, act_key, epsilon), key

        return act

    def init_network(key, obs):
        params = agent.init(key, obs)
        return params, agent.optimizer.init(params)

    act = jax.jit(with_key(agent.act))
    act_eval = act if agent.act_eval is agent.act else jax.jit(with_key(agent.act_eval))
    return Compiled(agent, act, jax.jit(update), jax.jit(init_network), act_eval)


@functools.lru_cache(maxsize=8)
def _cached_compile(config: RunConfig, num_actions: int) -> Compiled:
    return compile_agent(config, num_actions)


def _compiled_for(config: RunConfig, num_actions: int) -> Compiled:
    """One compilation per configuration: runs differing only in seed or game (same action
    count) share the jitted functions within a process."""
    return _cached_compile(config.replace(seed=0, game="Pong"), num_actions)


def env_options(config: RunConfig) -> dict[str, bool]:
    return dict(sticky_actions=config.sticky_actions,
                terminal_on_life_loss=config.terminal_on_life_loss)


def _to_batch(sample: dict[str, np.ndarray]) -> Batch:
    size = len(sample["indices"])
    return Batch(
        obs=sample["observations"],
        actions=sample["actions"].astype(np.int32),
        returns=sample["rewards"],  # discounted n-step reward sum
        discounts=sample["discounts"],  # gamma^n (1 - terminal)
        next_obs=sample["next_observations"],
        indices=sample["indices"].astype(np.int32),
        probabilities=sample.get("probabilities", np.ones(size, np.float32)),
    )


def make_atari_trainer(config: RunConfig, agent=None) -> Trainer:
    """The runner's `Trainer` for suite 'atari' (`agent`: an explicit agent, e.g. IQN in tests)."""
    if config.suite != "atari":
        raise ValueError("make_atari_trainer needs suite='atari'")
    if config.network not in ("nature", "impala"):
        raise ConfigError(f"network={config.network!r}: Atari runs use 'nature' or 'impala'")
    if config.min_replay_history < STACK_SIZE + config.n_step:
        raise ConfigError(f"min_replay_history={config.min_replay_history} is too small to "
                          f"sample {config.n_step}-step transitions of {STACK_SIZE}-frame stacks")
    probe = make_atari(config.game, config.seed, **env_options(config))
    spec = AtariSpec(config.game, probe.num_actions, probe.observation_shape)
    probe.close()
    num_actions = spec.num_actions
    compiled = (_compiled_for(config, num_actions) if agent is None
                else compile_agent(config, num_actions, agent))
    agent = compiled.agent
    prioritized = bool(agent.prioritized)

    def new_replay() -> ImageReplay:
        cls = PrioritizedImageReplay if prioritized else ImageReplay
        return cls(config.replay_capacity, stack_size=STACK_SIZE,
                   update_horizon=config.n_step, gamma=config.gamma)

    def init(seed: int) -> AtariState:
        key = jax.random.PRNGKey(seed)
        key, net_key = jax.random.split(key)
        env = make_atari(config.game, seed, **env_options(config))  # 27k-step cap: Dopamine
        obs = env.reset()
        params, opt_state = compiled.init_network(net_key, obs)
        return AtariState(
            params=params, target_params=params, opt_state=opt_state,
            key=key, replay=new_replay(), env=env, obs=obs,
            rng=np.random.default_rng([seed, 1]))

    def train_step(state: AtariState) -> None:
        t0 = time.perf_counter()
        batch = _to_batch(state.replay.sample(config.batch_size, state.rng))
        t1 = time.perf_counter()
        state.params, state.opt_state, loss, per_sample, state.key = compiled.update(
            state.params, state.target_params, state.opt_state, batch, state.key)
        loss = float(loss)  # waits for the update
        t2 = time.perf_counter()
        if prioritized:
            priorities = np.sqrt(np.asarray(per_sample, np.float64) + 1e-10)
            state.replay.update_priorities(batch.indices, priorities)
        t3 = time.perf_counter()
        state.timers["replay"] += (t1 - t0) + (t3 - t2)
        state.timers["update"] += t2 - t1
        state.updates += 1
        state.losses += 1
        if np.isfinite(loss):
            state.loss_sum += loss
        else:
            state.nonfinite_loss = True

    def agent_step(state: AtariState) -> None:
        t0 = time.perf_counter()
        epsilon = epsilon_at(config, state.agent_steps)
        action, state.key = compiled.act(state.params, state.obs, state.key, epsilon)
        action = int(action)
        t1 = time.perf_counter()
        res = state.env.step(action)
        t2 = time.perf_counter()
        state.replay.add(state.obs[..., -1], action, res.clipped_reward, res.terminated,
                         episode_end=res.truncated)
        t3 = time.perf_counter()
        state.obs = res.obs
        if res.terminated or res.truncated:
            state.obs = state.env.reset()
        if res.info["episode_end"]:
            state.episode_returns.append(float(res.info["episode_return"]))
        state.agent_steps += 1
        state.timers["act"] += t1 - t0
        state.timers["env"] += (t2 - t1) + (time.perf_counter() - t3)
        state.timers["replay"] += t3 - t2
        if (state.agent_steps % config.update_period == 0
                and state.agent_steps > config.min_replay_history):
            train_step(state)
            if state.agent_steps % config.target_update_period == 0:
                state.target_params = state.params  # a copy of the sparse online network

    def run_iteration(state: AtariState) -> AtariState:
        state.episode_returns, state.loss_sum, state.losses = [], 0.0, 0
        state.nonfinite_loss = False
        for _ in range(config.iteration_env_steps):
            agent_step(state)
        return state

    def evaluate(params, key) -> float:
        """Mean raw return of `eval_episodes` epsilon_eval episodes on a fresh environment."""
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
        env = make_atari(config.game, seed, **env_options(config))
        returns = []
        try:
            for _ in range(max(config.eval_episodes, 1)):
                obs = env.reset()
                while True:
                    action, key = compiled.act_eval(params, obs, key, config.epsilon_eval)
                    res = env.step(int(action))
                    if res.info["episode_end"]:
                        returns.append(res.info["episode_return"])
                        break
                    obs = env.reset() if (res.terminated or res.truncated) else res.obs
        finally:
            env.close()
        return float(np.mean(returns))

    def stats(state: AtariState) -> IterationStats:
        n = len(state.episode_returns)
        return IterationStats(
            train_return=float(np.mean(state.episode_returns)) if n else float("nan"),
            num_episodes=n,
            loss=state.loss_sum / state.losses if state.losses else float("nan"),
            nonfinite_loss=state.nonfinite_loss)

    def sparsity(state: AtariState) -> float:
        return pruning.sparsity_report(jax.device_get(state.params))["total"]

    measure = jax.jit(make_measure_for(agent))

    def measure_state(state: AtariState, key: jax.Array):
        """Uniformly sampled transitions (also under prioritized replay), from a generator of
        its own so the training draws stay as they were."""
        rng = np.random.default_rng(np.asarray(key).tolist())
        batch = _to_batch(ImageReplay.sample(state.replay, measures.BATCH_SIZE, rng))
        return measure(state.params, state.target_params, batch, key)

    return Trainer(config=config, agent=agent, env=spec, init=init, run_iteration=run_iteration,
                   evaluate=evaluate, stats=stats, sparsity=sparsity, to_arrays=state_to_arrays,
                   from_arrays=state_from_arrays, measures=measure_state)
