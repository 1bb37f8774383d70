"""The fully-jitted MinAtar training loop: environment, replay, acting and updates in `lax.scan`.

`make_trainer(config)` closes over everything static (network, optimizer, environment) and
returns pure functions over one `TrainState` pytree. `run_iteration` runs one logged iteration
(`iteration_env_steps` agent steps) as a single jitted call; the host sits between iterations
to checkpoint, log and show progress (see `prunebook.sweeps.runner`). A block of the scan is
`update_period` agent steps followed by at most one gradient update, as in Dopamine.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from prunebook import measures, pruning
from prunebook.agents import AGENT_FACTORIES
from prunebook.agents.common import Agent, linearly_decaying_epsilon
from prunebook.agents.rainbow import new_priorities
from prunebook.config import RunConfig
from prunebook.envs import minatar
from prunebook.loops import baselines
from prunebook.loops.trainer import (
    IterationStats,
    Trainer,
    make_measure_for,
    tree_from_arrays,
    tree_to_arrays,
)
from prunebook.pruning.control import run_if
from prunebook.replay import jittable
from prunebook.replay.jittable import ReplayState
from prunebook.spec import ATARI_100K_AGENTS


@flax.struct.dataclass
class TrainState:
    params: Any
    target_params: Any
    opt_state: Any
    replay: ReplayState
    env_state: Any
    obs: jax.Array
    key: jax.Array  # raw uint32 PRNG key
    agent_steps: jax.Array
    updates: jax.Array
    episode_return: jax.Array  # undiscounted return of the episode in progress
    # per-iteration accumulators, reset by the host after each iteration
    returns_sum: jax.Array
    episodes: jax.Array
    loss_sum: jax.Array
    losses: jax.Array
    nonfinite_loss: jax.Array  # a NaN/inf loss happened in this iteration


def _zeros_like_accumulators():
    return dict(returns_sum=jnp.zeros((), jnp.float32), episodes=jnp.zeros((), jnp.int32),
                loss_sum=jnp.zeros((), jnp.float32), losses=jnp.zeros((), jnp.int32),
                nonfinite_loss=jnp.zeros((), bool))


def make_trainer(config: RunConfig, agent: Agent | None = None, donor_masks=None) -> Trainer:
    """The jitted MinAtar loop of `config`; `donor_masks` (a lottery ticket's donor's final
    masks, `prunebook.sweeps.lottery`) exactly when `config.mask_method == "lottery"`."""
    if config.suite != "minatar":
        raise ValueError("the jitted loop runs MinAtar; Atari runs use prunebook.loops.atari")
    env = minatar.from_config(config)
    if agent is None:
        extra = {} if donor_masks is None else {"donor_masks": donor_masks}
        agent = AGENT_FACTORIES[config.agent](config, env.num_actions, **extra)
    if config.agent in ATARI_100K_AGENTS:
        raise ValueError("DER and DrQ(eps) run only in the Atari loop (prunebook.loops.atari)")
    sample = jittable.sample_prioritized if agent.prioritized else jittable.sample_uniform

    def init(seed: int) -> TrainState:
        key = jax.random.PRNGKey(seed)
        key, net_key, env_key = jax.random.split(key, 3)
        obs, env_state = env.reset(env_key)
        params = agent.init(net_key, obs)
        opt_state = agent.optimizer.init(params)
        if config.mask_method != "gmp":  # masks fixed from step 0: pruned weights start at 0
            params = pruning.apply_masks(params, opt_state)
        return TrainState(
            params=params, target_params=params, opt_state=opt_state,
            replay=jittable.init(config.replay_capacity, env.observation_shape),
            env_state=env_state, obs=obs, key=key,
            agent_steps=jnp.zeros((), jnp.int32), updates=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((), jnp.float32), **_zeros_like_accumulators())

    def env_step(state: TrainState, _):
        key, act_key, env_key = jax.random.split(state.key, 3)
        epsilon = linearly_decaying_epsilon(config.epsilon_decay_steps, state.agent_steps,
                                            config.min_replay_history, config.epsilon_train)
        action = agent.act(state.params, state.obs, act_key, epsilon)
        step = env.step(env_key, state.env_state, action)
        done = step.terminated | step.truncated
        buffer = jittable.add(state.replay, state.obs, action, step.reward, step.final_obs,
                              step.terminated, done)
        episode_return = state.episode_return + step.reward
        state = state.replace(
            replay=buffer, env_state=step.state, obs=step.obs, key=key,
            agent_steps=state.agent_steps + 1,
            episode_return=jnp.where(done, 0.0, episode_return),
            returns_sum=state.returns_sum + jnp.where(done, episode_return, 0.0),
            episodes=state.episodes + done.astype(jnp.int32))
        return state, None

    # Reset / ReDo (chapter 7): (params, opt_state, updates done, batch obs, key) -> same;
    # the identity for every other run
    intervene = baselines.make_intervention(config, agent.network, agent.init)

    def train_step(state: TrainState) -> TrainState:
        key, sample_key = jax.random.split(state.key)
        loss_key = jax.random.fold_in(sample_key, 1)  # IQN's taus (DQN, Rainbow ignore it)
        batch = sample(state.replay, sample_key, config.batch_size, config.n_step, config.gamma)
        params, opt_state, loss, per_sample = agent.update(
            state.params, state.target_params, state.opt_state, batch, loss_key)
        params, opt_state = intervene(params, opt_state, state.updates + 1, batch.obs,
                                      jax.random.fold_in(sample_key, 2))
        buffer = state.replay
        if agent.prioritized:
            buffer = jittable.update_priorities(buffer, batch.indices, new_priorities(per_sample))
        finite = jnp.isfinite(loss)
        return state.replace(
            params=params, opt_state=opt_state, replay=buffer, key=key,
            updates=state.updates + 1,
            loss_sum=state.loss_sum + jnp.where(finite, loss, 0.0),
            losses=state.losses + 1, nonfinite_loss=state.nonfinite_loss | ~finite)

    def block(state: TrainState, _):
        state, _ = jax.lax.scan(env_step, state, None, length=config.update_period)
        warm = state.agent_steps > config.min_replay_history
        state = jax.lax.cond(warm, train_step, lambda s: s, state)
        sync = warm & (state.agent_steps % config.target_update_period == 0)
        # run_if, not lax.cond: the cond's pass-through branch copied the target network on
        # every update that did not sync it
        target = run_if(sync, lambda _: state.params, state.target_params)
        return state.replace(target_params=target), None

    def iteration(state: TrainState) -> TrainState:
        state = state.replace(**_zeros_like_accumulators())
        blocks = config.iteration_env_steps // config.update_period
        state, _ = jax.lax.scan(block, state, None, length=blocks)
        return state

    run_iteration = jax.jit(iteration)

    evaluate = make_evaluate(env, agent.act_eval, config.epsilon_eval, max(config.eval_episodes, 1))
    measure = make_measure_for(agent)

    @jax.jit
    def measure_state(state: TrainState, key: jax.Array):
        sample_key, measure_key = jax.random.split(key)
        batch = jittable.sample_uniform(state.replay, sample_key, measures.BATCH_SIZE,
                                        config.n_step, config.gamma)
        return measure(state.params, state.target_params, batch, measure_key)

    return Trainer(config=config, agent=agent, env=env, init=init, run_iteration=run_iteration,
                   evaluate=evaluate, stats=iteration_stats, sparsity=measured_sparsity,
                   to_arrays=tree_to_arrays, from_arrays=tree_from_arrays,
                   measures=measure_state, run_iteration_batched=jax.jit(jax.vmap(iteration)))


def make_evaluate(env, act, epsilon: float, num_episodes: int):
    """Jitted (params, key) -> mean undiscounted return of `num_episodes` parallel episodes.

    Online and offline runs evaluate the same way: epsilon-greedy (`epsilon_eval`), each
    episode scanned for the game's full time limit, rewards counted until it ends.
    """

    @jax.jit
    def evaluate(params, key) -> jax.Array:
        def one_episode(k):
            k, reset_key = jax.random.split(k)
            obs, env_state = env.reset(reset_key)

            def body(carry, _):
                obs, env_state, k, total, running = carry
                k, act_key, env_key = jax.random.split(k, 3)
                action = act(params, obs, act_key, epsilon)
                step = env.step(env_key, env_state, action)
                total = total + jnp.where(running, step.reward, 0.0)
                running = running & ~(step.terminated | step.truncated)
                return (step.obs, step.state, k, total, running), None

            carry = (obs, env_state, k, jnp.zeros(()), jnp.ones((), bool))
            carry, _ = jax.lax.scan(body, carry, None, length=env.max_episode_steps)
            return carry[3]

        return jax.vmap(one_episode)(jax.random.split(key, num_episodes)).mean()

    return evaluate


def iteration_stats(state: TrainState) -> IterationStats:
    episodes = int(state.episodes)
    losses = int(state.losses)
    return IterationStats(
        train_return=float(state.returns_sum) / episodes if episodes else float("nan"),
        num_episodes=episodes,
        loss=float(state.loss_sum) / losses if losses else float("nan"),
        nonfinite_loss=bool(state.nonfinite_loss))


def measured_sparsity(state: TrainState) -> float:
    return pruning.sparsity_report(jax.device_get(state.params))["total"]
