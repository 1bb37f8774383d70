"""What does gradual magnitude pruning cost per DQN update?

One jitted DQN-style update (online + target forward, Huber TD loss, gradient, optimizer update,
`apply_masks`) with plain `optax.adam(6.25e-5, eps=1.5e-4)` (Dopamine's DQN optimizer) versus
`gmp(adam, schedule)`. The gmp update is timed on two kinds of steps, chosen through the
optimizer state's counter: an *ordinary* step (count off the mask-update grid: only the
skipped `run_if` and the mask multiply are extra) and a *mask-update* step (count on the
grid: a layer-wise top-k over every kernel). Kinds are interleaved within each repeat, in the
same process, so that load drift on a shared machine hits all three alike; the reported ratio is
the median of the per-repeat paired ratios.

Two more ways a user runs updates, each against plain Adam in the same process (`--loops`):
a *jitted scan* (`lax.scan` over `--scan-length` updates in one jit call, as the MinAtar loop
does) and a *Python step loop* (one jitted update per Python iteration, as the Atari loop and
most user code do; the arguments are donated). Both run on ordinary steps; the targets are
<= 3% (scan) and <= 5% (loop).

Run: ``.venv/bin/python benchmarks/pruning_overhead.py [--network impala|minatar] [--width 3]
[--repeats N] [--inner N] [--loops] [--json out.json]``. Not a test: timings depend on the
machine (on a shared machine, run it niced and report the load average it prints).
Everything the step needs is passed as a jit argument (closing over arrays lets XLA
constant-fold the target network, see shared/notes/feasibility.md §2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from prunebook.networks import ImpalaCNN, MinAtarCNN, count_params
from prunebook.pruning import GMPSchedule, apply_masks, gmp

BATCH = 32
GAMMA = 0.99
UPDATE_EVERY = 1000  # dossier §3.4: jaxpruner-Dopamine's update_freq
# counts on / off the mask-update grid, inside the pruning window
SCHEDULE = GMPSchedule(0.95, start_update=1000, end_update=4000, update_every=UPDATE_EVERY)
MASK_UPDATE_COUNT, ORDINARY_COUNT = 2000, 2001


def build(network: str, width: int):
    """The Q-network and a random replay batch (uint8 frames for Impala, {0,1} planes for
    MinAtar)."""
    rng = np.random.default_rng(0)
    if network == "impala":
        net, num_actions = ImpalaCNN(18, width=width), 18
        obs = rng.integers(0, 256, size=(2, BATCH, 84, 84, 4), dtype=np.uint8)
    elif network == "minatar":
        net, num_actions = MinAtarCNN(6, width=width), 6
        obs = (rng.random((2, BATCH, 10, 10, 4)) < 0.2).astype(np.float32)
    else:
        raise ValueError(f"network must be 'impala' or 'minatar', got {network!r}")
    batch = {
        "obs": obs[0],
        "action": rng.integers(0, num_actions, size=BATCH).astype(np.int32),
        "reward": rng.normal(size=BATCH).astype(np.float32),
        "next_obs": obs[1],
        "done": (rng.random(BATCH) < 0.05).astype(np.float32),
    }
    return net, batch


def make_update(net, tx, pruned: bool = True):
    def loss_fn(params, target_params, batch):
        q = net.apply(params, batch["obs"]).q_values  # (batch, actions)
        q_taken = jnp.take_along_axis(q, batch["action"][:, None], axis=1)[:, 0]  # (batch,)
        next_q = net.apply(target_params, batch["next_obs"]).q_values.max(axis=1)  # (batch,)
        # y = r + γ (1 − done) max_a' Q_target(s', a')
        target = batch["reward"] + GAMMA * (1.0 - batch["done"]) * next_q
        return optax.huber_loss(q_taken, jax.lax.stop_gradient(target)).mean()

    def update(params, target_params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, target_params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if pruned:  # plain Adam has no masks (apply_masks would say so)
            params = apply_masks(params, opt_state)
        return params, opt_state, loss

    return jax.jit(update)


def make_scan(net, tx, length: int, pruned: bool):
    """`length` updates in one jitted `lax.scan` (the batch reused; params carried)."""
    update = make_update(net, tx, pruned).__wrapped__

    def run(params, target_params, opt_state, batch):
        def body(carry, _):
            params, opt_state = carry
            params, opt_state, loss = update(params, target_params, opt_state, batch)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), length=length)
        return params, opt_state, losses[-1]

    return jax.jit(run)


def time_python_loop(fn, params, target_params, state, batch, steps: int) -> float:
    """Seconds per update of a Python loop over a jitted, donating update (waits at the end)."""
    params = jax.tree.map(jnp.copy, params)  # donated below: never the caller's buffers
    state = jax.tree.map(jnp.copy, state)
    start = time.perf_counter()
    for _ in range(steps):
        params, state, _ = fn(params, target_params, state, batch)
    jax.block_until_ready(params)
    return (time.perf_counter() - start) / steps


def compare_loops(net, batch, params, target_params, repeats: int, scan_length: int,
                  loop_steps: int) -> dict:
    """Median paired ratio gmp / adam for a jitted scan and for a Python step loop."""
    adam = optax.adam(6.25e-5, eps=1.5e-4)
    pruned = gmp(optax.adam(6.25e-5, eps=1.5e-4), SCHEDULE)
    # ordinary steps only: start past a mask update, stay below the next one
    state = pruned.init(params)._replace(count=jnp.asarray(ORDINARY_COUNT, jnp.int32))
    assert ORDINARY_COUNT + max(scan_length, loop_steps) < MASK_UPDATE_COUNT + UPDATE_EVERY
    kinds = {"adam": (adam, adam.init(params)), "gmp": (pruned, state)}
    scans = {k: make_scan(net, tx, scan_length, k == "gmp") for k, (tx, _) in kinds.items()}
    steps = {k: jax.jit(make_update(net, tx, k == "gmp").__wrapped__, donate_argnums=(0, 2))
             for k, (tx, _) in kinds.items()}
    for k, (_, st) in kinds.items():  # compile + warm up
        jax.block_until_ready(scans[k](params, target_params, st, batch))
        time_python_loop(steps[k], params, target_params, st, batch, 3)
    times = {f"{loop}_{k}": [] for loop in ("scan", "loop") for k in kinds}
    for r in range(repeats):
        order = list(kinds) if r % 2 == 0 else list(kinds)[::-1]
        for k in order:
            st = kinds[k][1]
            times[f"scan_{k}"].append(
                time_calls(scans[k], (params, target_params, st, batch), 1) / scan_length)
            times[f"loop_{k}"].append(
                time_python_loop(steps[k], params, target_params, st, batch, loop_steps))
    out = {}
    for loop in ("scan", "loop"):
        ratios = [g / a for g, a in zip(times[f"{loop}_gmp"], times[f"{loop}_adam"],
                                        strict=True)]
        out[loop] = statistics.median(ratios)
        target = 1.03 if loop == "scan" else 1.05
        print(f"{loop:>5}: adam {1e3 * statistics.median(times[f'{loop}_adam']):.3f} ms/update, "
              f"gmp {1e3 * statistics.median(times[f'{loop}_gmp']):.3f} ms/update; gmp/adam "
              f"{out[loop]:.3f} (median of {repeats} paired ratios; "
              f"{min(times[f'{loop}_gmp']) / min(times[f'{loop}_adam']):.3f} from the minima)"
              f" -- {'within' if out[loop] <= target else 'OVER'} the {target - 1:.0%} target",
              flush=True)
    return {"ratio_scan": out["scan"], "ratio_loop": out["loop"], "loop_times_s": times}


def time_calls(fn, args, inner: int) -> float:
    """Seconds per call: `inner` calls on the same inputs, each waited for."""
    start = time.perf_counter()
    for _ in range(inner):
        jax.block_until_ready(fn(*args))
    return (time.perf_counter() - start) / inner


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--network", choices=("impala", "minatar"), default="impala")
    parser.add_argument("--width", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved rounds of (adam, gmp ordinary, gmp mask update); "
                             "default 15 for impala, 20 for minatar")
    parser.add_argument("--inner", type=int, default=None,
                        help="calls per timed block; default 1 for impala, 200 for minatar")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--loops", action="store_true",
                        help="only the jitted-scan and Python-loop comparisons")
    parser.add_argument("--scan-length", type=int, default=100)
    parser.add_argument("--loop-steps", type=int, default=100)
    args = parser.parse_args(argv)
    repeats = args.repeats or (15 if args.network == "impala" else 20)
    inner = args.inner or (1 if args.network == "impala" else 200)

    net, batch = build(args.network, args.width)
    params = jax.jit(net.init)(jax.random.key(0), batch["obs"])
    target_params = jax.tree.map(jnp.copy, params)
    adam = optax.adam(6.25e-5, eps=1.5e-4)
    pruned = gmp(optax.adam(6.25e-5, eps=1.5e-4), SCHEDULE)
    adam_update, gmp_update = make_update(net, adam, False), make_update(net, pruned)
    gmp_state = pruned.init(params)
    states = {
        "adam": (adam_update, adam.init(params)),
        "gmp_ordinary": (gmp_update, gmp_state._replace(
            count=jnp.asarray(ORDINARY_COUNT, jnp.int32))),
        "gmp_mask_update": (gmp_update, gmp_state._replace(
            count=jnp.asarray(MASK_UPDATE_COUNT, jnp.int32))),
    }
    assert not bool(SCHEDULE.is_mask_update(ORDINARY_COUNT))
    assert bool(SCHEDULE.is_mask_update(MASK_UPDATE_COUNT))

    print(f"{args.network} x{args.width}: {count_params(params):,} params, batch {BATCH}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
          f"{jax.devices()[0].device_kind} ({platform.processor() or platform.machine()}), "
          f"jax {jax.__version__}; {repeats} repeats x {inner} calls", flush=True)
    if args.loops:
        result = compare_loops(net, batch, params, target_params, repeats, args.scan_length,
                               args.loop_steps)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        return result
    start = time.perf_counter()
    for fn, state in states.values():  # compile + warm up
        jax.block_until_ready(fn(params, target_params, state, batch))
        jax.block_until_ready(fn(params, target_params, state, batch))
    print(f"compile + warm-up: {time.perf_counter() - start:.1f} s", flush=True)

    times = {name: [] for name in states}
    for r in range(repeats):
        order = list(states) if r % 2 == 0 else list(states)[::-1]  # alternate the order too
        for name in order:
            fn, state = states[name]
            times[name].append(time_calls(fn, (params, target_params, state, batch), inner))
    med = {name: statistics.median(t) for name, t in times.items()}
    def paired_ratio(name):  # median over repeats of (gmp time / adam time in the same repeat)
        return statistics.median(g / a for g, a in zip(times[name], times["adam"], strict=True))

    ratio, mask_ratio = paired_ratio("gmp_ordinary"), paired_ratio("gmp_mask_update")
    extra_mask = med["gmp_mask_update"] - med["gmp_ordinary"]
    # one mask update per UPDATE_EVERY updates inside [start, end]
    amortised = (ratio * (UPDATE_EVERY - 1) + mask_ratio) / UPDATE_EVERY

    for name, t in times.items():
        print(f"{name:>16}: median {1e3 * med[name]:9.2f} ms   "
              f"(min {1e3 * min(t):.2f}, max {1e3 * max(t):.2f})")
    min_ratio = min(times["gmp_ordinary"]) / min(times["adam"])  # least disturbed by load
    print(f"gmp/adam, ordinary step: {ratio:.3f} (median of paired ratios; "
          f"{min_ratio:.3f} from the minima) -- "
          f"{'within' if ratio <= 1.05 else 'OVER'} the 5% target")
    print(f"mask-update step: {mask_ratio:.2f}x an adam step "
          f"(+{1e3 * extra_mask:.1f} ms over an ordinary gmp step)")
    print(f"amortised over the pruning window at update_every={UPDATE_EVERY}: "
          f"{100 * (amortised - 1):+.2f}% per update")
    result = {
        "network": args.network, "width": args.width, "params": count_params(params),
        "batch": BATCH, "repeats": repeats, "inner": inner, "device": jax.devices()[0].device_kind,
        "median_s": med, "ratio_ordinary": ratio, "ratio_ordinary_minima": min_ratio,
        "ratio_mask_update": mask_ratio,
        "amortised_ratio": amortised, "times_s": times,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
