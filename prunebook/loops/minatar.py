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
import numpy as np

from prunebook import measures, pruning
from prunebook.agents import AGENT_FACTORIES, iqn
from prunebook.agents.common import (
    Agent,
    linearly_decaying_epsilon,
    make_act,
    make_update,
)
from prunebook.agents.rainbow import new_priorities
from prunebook.config import RunConfig
from prunebook.envs import minatar
from prunebook.loops import baselines
from prunebook.loops.trainer import IterationStats, Trainer, make_measure_for
from prunebook.replay import jittable
from prunebook.replay.jittable import ReplayState


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
    if isinstance(agent, Agent) and agent.keyed:
        raise ValueError("DER and DrQ(eps) (keyed agents) run only in the Atari loop "
                         "(prunebook.loops.atari)")
    if isinstance(agent, iqn.IQNAgent):  # IQN samples taus: its act/update take a key
        act = iqn.make_act(agent, env.num_actions)
        update = iqn.make_update(agent)

        def init_params(key, obs):
            return iqn.init_params(agent, key, obs[None])
    else:
        act = make_act(agent.network, env.num_actions)
        base_update = make_update(agent, config.priority_beta, config.l2_penalty)

        def update(params, target_params, opt_state, batch, key):
            del key  # DQN and Rainbow are deterministic given the batch
            return base_update(params, target_params, opt_state, batch)

        def init_params(key, obs):
            return agent.network.init(key, obs[None])
    sample = jittable.sample_prioritized if agent.prioritized else jittable.sample_uniform

    def init(seed: int) -> TrainState:
        key = jax.random.PRNGKey(seed)
        key, net_key, env_key = jax.random.split(key, 3)
        obs, env_state = env.reset(env_key)
        params = init_params(net_key, obs)
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
        action = act(state.params, state.obs, act_key, epsilon)
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
    intervene = baselines.make_intervention(config, agent.network, init_params)

    def train_step(state: TrainState) -> TrainState:
        key, sample_key = jax.random.split(state.key)
        loss_key = jax.random.fold_in(sample_key, 1)  # IQN's taus (DQN/Rainbow ignore it)
        batch = sample(state.replay, sample_key, config.batch_size, config.n_step, config.gamma)
        params, opt_state, loss, per_sample = update(
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
        target = jax.lax.cond(sync, lambda s: s.params, lambda s: s.target_params, state)
        return state.replace(target_params=target), None

    def iteration(state: TrainState) -> TrainState:
        state = state.replace(**_zeros_like_accumulators())
        blocks = config.iteration_env_steps // config.update_period
        state, _ = jax.lax.scan(block, state, None, length=blocks)
        return state

    run_iteration = jax.jit(iteration)

    evaluate = make_evaluate(env, act, config.epsilon_eval, max(config.eval_episodes, 1))
    measure = make_measure_for(agent)

    @jax.jit
    def measure_state(state: TrainState, key: jax.Array):
        sample_key, measure_key = jax.random.split(key)
        batch = jittable.sample_uniform(state.replay, sample_key, measures.BATCH_SIZE,
                                        config.n_step, config.gamma)
        return measure(state.params, state.target_params, batch, measure_key)

    return Trainer(config, agent, env, init, run_iteration, evaluate, iteration_stats,
                   measured_sparsity, state_to_arrays, state_from_arrays,
                   jax.jit(jax.vmap(iteration)), measure_state)


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


def state_to_arrays(state: TrainState) -> list[np.ndarray]:
    """Flatten a TrainState to host arrays (the checkpoint payload)."""
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


def state_from_arrays(template: TrainState, arrays: list[np.ndarray]) -> TrainState:
    leaves, treedef = jax.tree.flatten(template)
    if len(leaves) != len(arrays):
        raise ValueError(f"checkpoint has {len(arrays)} arrays, expected {len(leaves)}")
    for i, (a, b) in enumerate(zip(leaves, arrays, strict=True)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"checkpoint array {i}: {b.shape} {b.dtype}, expected "
                             f"{a.shape} {a.dtype}")
    return jax.tree.unflatten(treedef, [jnp.asarray(x) for x in arrays])
