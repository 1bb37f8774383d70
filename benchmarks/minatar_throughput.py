"""Env steps/s of the jitted MinAtar training loop, as ratios against baselines in the same process.

    python benchmarks/minatar_throughput.py                 # widths 1 3 5, all comparisons
    python benchmarks/minatar_throughput.py --widths 1 --steps 5000 --skip-workers

Prints, per width: our loop dense vs 95% GMP (GMP overhead, target <= 5%), our loop vs a minimal
reference loop written in the PureJaxRL style (per-step scan, `lax.cond` update every 4 steps,
flat flashbax-style buffer, the standard `nn.Conv` network; target: ours >= 1.5x), and
2 pinned single-threaded worker processes vs 1 two-core process (the runner's default).
Compile time is excluded: each loop is compiled and run once before it is timed. The machine
is shared and noisy: the ratios are what to read, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from prunebook.spec import BOOK_GAMES, MINATAR_GAMES, STD_GAMES
from prunebook.sweeps.local import SINGLE_THREAD_XLA as SINGLE  # the workers' flags


def _config(width, sparsity, steps, agent="dqn", preset="cpu", game="Breakout"):
    from prunebook.config import preset_config

    # warm-up shorter than one timed iteration so every timed block updates; GMP masks are
    # recomputed every 1000 updates as in the book's runs
    return preset_config(preset, agent, game=game, width=width, final_sparsity=sparsity,
                         num_env_steps=steps * 10, iteration_env_steps=steps,
                         min_replay_history=1000, replay_capacity=100_000)


def time_ours(width, sparsity, steps, repeats=2, agent="dqn", plain_adam=False, preset="cpu",
              game="Breakout"):
    """`plain_adam`: the same loop with `optax.adam` instead of `gmp(adam)` (no pruning code);
    `preset="std"`: MinAtar's protocol (sticky actions, 6 actions, long episodes), same DQN."""
    import jax
    import optax

    from prunebook.agents.common import make_agent, make_update
    from prunebook.loops import minatar as minatar_loop

    config = _config(width, sparsity, steps, agent, preset, game)
    trainer = minatar_loop.make_trainer(config)
    if plain_adam:
        adam = optax.adam(config.learning_rate, eps=config.adam_eps)
        agent = make_agent(config, trainer.agent.network, adam, trainer.agent.per_sample_loss,
                           trainer.env.num_actions, prioritized=trainer.agent.prioritized)
        agent = agent._replace(update=make_update(config, adam, agent.per_sample_loss,
                                                  agent.prioritized, mask_params=False))
        trainer = minatar_loop.make_trainer(config, agent)
    state = jax.block_until_ready(trainer.run_iteration(trainer.init(0)))  # compile + warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        state = jax.block_until_ready(trainer.run_iteration(state))
        best = min(best, time.perf_counter() - start)
    return steps / best


def make_reference(width, steps):
    """A minimal PureJaxRL-style DQN loop (one env step per scan step) for comparison."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    from prunebook.envs.minatar import MinAtarEnv

    env = MinAtarEnv("Breakout")

    class QNetwork(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(16 * width, (3, 3), padding="VALID")(x.astype(jnp.float32)))
            x = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
            return nn.Dense(env.num_actions)(x)

    net, tx, size = QNetwork(), optax.adam(2.5e-4), 100_000

    def init(key):
        obs, env_state = env.reset(key)
        params = net.init(key, obs[None])
        buffer = {"obs": jnp.zeros((size, *obs.shape), jnp.uint8),
                  "next_obs": jnp.zeros((size, *obs.shape), jnp.uint8),
                  "action": jnp.zeros(size, jnp.int32), "reward": jnp.zeros(size),
                  "done": jnp.zeros(size, bool)}
        return (params, params, tx.init(params), buffer, env_state, obs, key,
                jnp.zeros((), jnp.int32))

    def learn(carry):
        params, target, opt, buffer, env_state, obs, key, t = carry
        key, sample_key = jax.random.split(key)
        idx = jax.random.randint(sample_key, (32,), 0, jnp.minimum(t, size))

        def loss(p):
            q = net.apply(p, buffer["obs"][idx])
            next_q = net.apply(target, buffer["next_obs"][idx]).max(-1)
            y = buffer["reward"][idx] + 0.99 * (1 - buffer["done"][idx]) * next_q
            chosen = jnp.take_along_axis(q, buffer["action"][idx][:, None], 1)[:, 0]
            return optax.huber_loss(chosen, jax.lax.stop_gradient(y)).mean()

        grads = jax.grad(loss)(params)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), target, opt, buffer, env_state, obs, key, t)

    def step(carry, _):
        params, target, opt, buffer, env_state, obs, key, t = carry
        key, a_key, e_key, x_key = jax.random.split(key, 4)
        q = net.apply(params, obs[None])[0]
        action = jnp.where(jax.random.uniform(x_key) < 0.05,
                           jax.random.randint(a_key, (), 0, env.num_actions), jnp.argmax(q))
        out = env.step(e_key, env_state, action)
        i = t % size
        buffer = {"obs": buffer["obs"].at[i].set(obs),
                  "next_obs": buffer["next_obs"].at[i].set(out.final_obs),
                  "action": buffer["action"].at[i].set(action),
                  "reward": buffer["reward"].at[i].set(out.reward),
                  "done": buffer["done"].at[i].set(out.terminated)}
        carry = (params, target, opt, buffer, out.state, out.obs, key, t + 1)
        carry = jax.lax.cond((t % 4 == 0) & (t > 1000), learn, lambda c: c, carry)
        target = jax.lax.cond(t % 1000 == 0, lambda c: c[0], lambda c: c[1], carry)
        return (carry[0], target, *carry[2:]), None

    run = jax.jit(lambda carry: jax.lax.scan(step, carry, None, length=steps)[0])
    return init, run


def time_reference(width, steps, repeats=2):
    import jax

    init, run = make_reference(width, steps)
    carry = jax.block_until_ready(run(init(jax.random.PRNGKey(0))))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        carry = jax.block_until_ready(run(carry))
        best = min(best, time.perf_counter() - start)
    return steps / best


def _child(width, steps, preset="cpu", game="Breakout", sparsity=0.0):
    rate = time_ours(width, sparsity, steps, repeats=2, preset=preset, game=game)
    print(f"RATE {rate:.1f}", flush=True)


def _spawn(width, steps, xla_flags, core=None, preset="cpu", game="Breakout", sparsity=0.0):
    env = dict(os.environ, XLA_FLAGS=xla_flags)
    cmd = [sys.executable, __file__, "--child", str(width), "--steps", str(steps),
           "--preset", preset, "--game", game, "--sparsity", str(sparsity)]
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def _rate(proc):
    out, _ = proc.communicate()
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("RATE")))


def workers_vs_one_process(width, steps):
    one = _rate(_spawn(width, steps, ""))
    pair = [_spawn(width, steps, SINGLE, core) for core in (0, 1)]
    return one, sum(_rate(p) for p in pair)


RECORDED = (("std", (1, 5), STD_GAMES), ("cpu", (1, 3, 5, 10), BOOK_GAMES))
"""What `--record` measures by default: the presets, DQN widths and games of the open sweeps."""


def record(path, steps, core, games=None, presets=None, sparsity=0.0, beside="other cores idle"):
    """One pinned single-threaded worker per (preset, width, game), on `core`, merged into
    `path` under this CPU's description: the benchmark `prunebook status` compares workers'
    speed with (`prunebook.sweeps.rates.benchmark_key`). Per game, because one agent step
    costs different amounts in different games. `beside`: what the other cores were doing,
    kept with each measurement (DQN, best of 2 timed iterations after a warm-up)."""
    import json
    import time

    from prunebook.sweeps.rates import benchmark_key
    from prunebook.sweeps.store import atomic_write_bytes, code_version, device_description

    # once, before the first write: writing into this checkout's results/ makes it dirty
    version = code_version()
    if version.endswith("-dirty") or version == "unknown":
        raise SystemExit(f"--record needs a clean, committed checkout (code version {version}): "
                         "run it from a fresh clone and commit the file it writes")
    cpu = device_description()
    table = json.loads(path.read_text()) if path.exists() else {"cpus": {}}
    entry = table["cpus"].setdefault(cpu, {"agent_steps_per_s": {}})
    for preset, widths, preset_games in RECORDED:
        if presets and preset not in presets:
            continue
        for width in widths:
            for game in (g for g in preset_games if not games or g in games):
                rate = _rate(_spawn(width, steps, SINGLE, core, preset, game, sparsity))
                key = benchmark_key(preset, "dqn", width, game, sparsity)
                entry["agent_steps_per_s"][key] = round(rate, 1)
                print(f"{cpu}: {key}: {rate:,.0f} agent steps/s", flush=True)
                # per measurement (what ran beside it differs between sessions), written at
                # once, so an interrupted --record keeps what it has
                entry.setdefault("measurements", {})[key] = {
                    "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "code_version": version, "steps_per_timed_chunk": steps,
                    "beside": beside}
                atomic_write_bytes(path, (json.dumps(table, indent=1, sort_keys=True)
                                          + "\n").encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", nargs="+", type=int, default=[1, 3, 5])
    parser.add_argument("--steps", type=int, default=10_000, help="env steps per timed chunk")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--std", action="store_true",
                        help="only compare the std preset's environment with cpu's, per width")
    parser.add_argument("--record", metavar="PATH", default=None,
                        help="measure one pinned worker per open-sweep preset and width and "
                             "merge the rates into PATH (results/throughput.json); from a sweep "
                             "clone, write outside it (its records must name a clean tree) and "
                             "commit the file from the working checkout")
    parser.add_argument("--core", type=int, default=0, help="the core --record pins to")
    parser.add_argument("--games", nargs="+", default=None, choices=MINATAR_GAMES,
                        help="--record: only these games (default: each preset's sweep games)")
    parser.add_argument("--presets", nargs="+", default=None,
                        choices=[preset for preset, *_ in RECORDED],
                        help="--record: only these presets (default: all open sweeps')")
    parser.add_argument("--sparsity", type=float, default=0.0,
                        help="--record: final GMP sparsity of the measured runs (default dense)")
    parser.add_argument("--beside", default="other cores idle",
                        help="--record: what ran on the other cores, kept with each number")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--game", default="Breakout", help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return _child(args.child, args.steps, args.preset, args.game, args.sparsity)
    if args.record:
        from pathlib import Path

        return record(Path(args.record), args.steps, args.core, args.games, args.presets,
                      args.sparsity, args.beside)

    import jax

    print(f"device: {jax.devices()[0]}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    if args.std:  # per agent step, std's environment costs what cpu's does (dense DQN)
        print(f"{'width':>5} {'cpu':>7} {'std':>7} {'cpu/std':>7}   (env steps/s, Breakout)")
        for width in args.widths:
            cpu = time_ours(width, 0.0, args.steps)
            std = time_ours(width, 0.0, args.steps, preset="std")
            print(f"{width:>5} {cpu:>7.0f} {std:>7.0f} {cpu / std:>7.2f}", flush=True)
        return None
    print("env steps/s; adam = plain optax.adam (no pruning code), dense = gmp(adam) at "
          "sparsity 0 (the book's dense baseline), gmp95 = 95% GMP; cost ratios are time ratios")
    print(f"{'width':>5} {'adam':>7} {'dense':>7} {'gmp95':>7} {'gmp95/adam':>10} "
          f"{'gmp95/dense':>11} {'reference':>9} {'ours/ref':>8}")
    for width in args.widths:
        adam = time_ours(width, 0.0, args.steps, plain_adam=True)
        dense = time_ours(width, 0.0, args.steps)
        pruned = time_ours(width, 0.95, args.steps)
        reference = time_reference(width, args.steps)
        print(f"{width:>5} {adam:>7.0f} {dense:>7.0f} {pruned:>7.0f} {adam / pruned:>10.3f} "
              f"{dense / pruned:>11.3f} {reference:>9.0f} {pruned / reference:>8.2f}",
              flush=True)
    if not args.skip_workers:
        one, two = workers_vs_one_process(1, args.steps)
        print(f"width 1: one 2-core process {one:.0f} env steps/s; two pinned 1-core workers "
              f"{two:.0f} in total; ratio {two / one:.2f}")


if __name__ == "__main__":
    main()
