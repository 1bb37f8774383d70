"""The offline training loop: gradient steps on a fixed replay, then online evaluation.

`make_offline_trainer(config, buffer)` returns a `prunebook.loops.trainer.Trainer`, so
`prunebook.sweeps.runner` checkpoints, resumes and records offline runs exactly like online
ones. One iteration is Dopamine's `FixedReplayRunner` iteration:

* `run_iteration(state)`: `updates_per_iteration` gradient steps in one jitted `lax.scan`,
  minibatches drawn uniformly from the fixed buffer. The environment is not touched (the
  state has no environment fields at all).
* `stats(state)`: the evaluation phase -- `eval_episodes` online episodes with epsilon_eval.
  Offline runs have no training episodes, so `IterationStats.train_return` is this evaluation
  mean (the column every chapter scores) and `num_episodes` the episodes it averages. Its key
  is `loops.trainer.eval_key(seed, iteration)`, the key `loops.trainer.train` passes to
  `evaluate` for the results' `eval_return`; `evaluate` remembers the last (params, key) it
  computed, so that column is the same number at no extra cost.

The fixed buffer is *not* part of the state: it is rebuilt deterministically from the dataset
and the seed when the trainer is made (a resume rebuilds the same one), so checkpoints hold only
the networks, the optimizer (with the masks), the PRNG key and counters.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from prunebook import measures, pruning
from prunebook.agents import AGENT_FACTORIES
from prunebook.config import OfflineConfig
from prunebook.envs.minatar import MinAtarEnv
from prunebook.loops import minatar as minatar_loop
from prunebook.loops.trainer import (
    IterationStats,
    Trainer,
    eval_key,
    make_measure_for,
    tree_from_arrays,
    tree_to_arrays,
)
from prunebook.pruning.control import run_if
from prunebook.replay.fixed import sample_fixed


@flax.struct.dataclass
class OfflineTrainState:
    params: Any
    target_params: Any
    opt_state: Any
    key: jax.Array  # raw uint32 PRNG key
    agent_steps: jax.Array  # environment steps used for learning: always 0 offline
    updates: jax.Array  # gradient updates so far
    # per-iteration accumulators, reset at the start of each iteration
    loss_sum: jax.Array
    losses: jax.Array
    nonfinite_loss: jax.Array


def _zero_accumulators():
    return dict(loss_sum=jnp.zeros((), jnp.float32), losses=jnp.zeros((), jnp.int32),
                nonfinite_loss=jnp.zeros((), bool))


def make_offline_trainer(config: OfflineConfig, buffer, env=None) -> Trainer:
    """The offline loop for `config` on the fixed replay `buffer` (`prunebook.replay.fixed`;
    `prunebook.sweeps.logger.fixed_replay_for` builds the config's own); `env` (evaluation
    only) can be injected."""
    if not isinstance(config, OfflineConfig):
        raise TypeError(f"make_offline_trainer needs an OfflineConfig, got {type(config).__name__}")
    env = env if env is not None else MinAtarEnv(config.game)
    agent = AGENT_FACTORIES[config.agent](config, env.num_actions)

    def init(seed: int) -> OfflineTrainState:
        key, net_key = jax.random.split(jax.random.PRNGKey(seed))
        params = agent.init(net_key, jnp.zeros(env.observation_shape, jnp.uint8))
        return OfflineTrainState(
            params=params, target_params=params, opt_state=agent.optimizer.init(params),
            key=key, agent_steps=jnp.zeros((), jnp.int32), updates=jnp.zeros((), jnp.int32),
            **_zero_accumulators())

    def train_step(carry, _):
        state, fixed_replay = carry
        key, sample_key = jax.random.split(state.key)
        batch = sample_fixed(fixed_replay, sample_key, config.batch_size, config.n_step,
                             config.gamma)
        params, opt_state, loss, _ = agent.update(
            state.params, state.target_params, state.opt_state, batch,
            jax.random.fold_in(sample_key, 1))  # CQL ignores the key
        # Dopamine syncs after the update whose pre-increment count is a multiple of the period
        sync = state.updates % config.target_update_period == 0
        target = run_if(sync, lambda _: params, state.target_params)  # no copy when not syncing
        finite = jnp.isfinite(loss)
        state = state.replace(
            params=params, target_params=target, opt_state=opt_state, key=key,
            updates=state.updates + 1, loss_sum=state.loss_sum + jnp.where(finite, loss, 0.0),
            losses=state.losses + 1, nonfinite_loss=state.nonfinite_loss | ~finite)
        return (state, fixed_replay), None

    @jax.jit
    def _iterate(state: OfflineTrainState, fixed_replay) -> OfflineTrainState:
        state = state.replace(**_zero_accumulators())
        (state, _), _ = jax.lax.scan(train_step, (state, fixed_replay), None,
                                     length=config.updates_per_iteration)
        return state

    def run_iteration(state: OfflineTrainState) -> OfflineTrainState:
        return _iterate(state, buffer)

    _evaluate = minatar_loop.make_evaluate(env, agent.act_eval, config.epsilon_eval,
                                           config.eval_episodes)

    last: dict[str, Any] = {}

    def evaluate(params, key) -> float:
        """Memoised on the last (params object, key): stats() and the runner share one run."""
        key_bytes = np.asarray(key).tobytes()
        if last.get("params") is params and last.get("key") == key_bytes:
            return last["value"]
        value = float(_evaluate(params, key))
        last.update(params=params, key=key_bytes, value=value)
        return value

    def stats(state: OfflineTrainState) -> IterationStats:
        iteration = int(state.updates) // config.updates_per_iteration - 1
        losses = int(state.losses)
        return IterationStats(
            train_return=evaluate(state.params, eval_key(config.seed, iteration)),
            num_episodes=config.eval_episodes,
            loss=float(state.loss_sum) / losses if losses else float("nan"),
            nonfinite_loss=bool(state.nonfinite_loss))

    def sparsity(state: OfflineTrainState) -> float:
        return pruning.sparsity_report(jax.device_get(state.params))["total"]

    measure = make_measure_for(agent)

    @jax.jit
    def _measure(state: OfflineTrainState, fixed_replay, key: jax.Array):
        sample_key, measure_key = jax.random.split(key)
        batch = sample_fixed(fixed_replay, sample_key, measures.BATCH_SIZE, config.n_step,
                             config.gamma)
        return measure(state.params, state.target_params, batch, measure_key)

    def measure_state(state: OfflineTrainState, key: jax.Array):
        return _measure(state, buffer, key)

    return Trainer(config=config, agent=agent, env=env, init=init, run_iteration=run_iteration,
                   evaluate=evaluate, stats=stats, sparsity=sparsity, to_arrays=tree_to_arrays,
                   from_arrays=tree_from_arrays, measures=measure_state)
