"""Agent steps/s of the Atari loop (DQN), and where the time goes: env, act, replay, update.

Run: ``.venv/bin/python benchmarks/atari_throughput.py [--updates 300] [--warmup 1000]
[--nets nature:1 impala:1 impala:3 impala:5] [--game Pong]``. Not a test: timings depend on the
machine and its load (the load average is printed). Each network is timed in two phases of
the real loop (`prunebook.loops.atari`, paper preset, 95% GMP):

* warm-up: ``--warmup`` agent steps of act + env + replay add, no updates;
* training: ``4 x --updates`` agent steps with one update per 4 steps (replay ratio 0.25),
  after one untimed update that compiles.

Training-phase steps/s is the number that sets a run's cost: a paper run is 10M agent steps,
2.5M updates. The script ends with the GPU-hours of the paper's sweeps under stated
assumptions (the paper: one run ~ 2 days on a P100).
"""

from __future__ import annotations

import argparse
import os
import time

import jax

from prunebook.config import paper_config
from prunebook.loops import atari as atari_loop
from prunebook.sweeps import store

PAPER_AGENT_STEPS = 10_000_000
P100_HOURS_PER_RUN = 48.0  # dossier §1: "each took approximately 2 days" (Tesla P100)


def time_network(network: str, width: int, updates: int, warmup: int, game: str) -> dict:
    block = 4
    config = paper_config(
        "dqn", game=game, network=network, width=width, iteration_env_steps=block,
        num_env_steps=warmup + block * (updates + 2), min_replay_history=warmup,
        replay_capacity=max(10_000, 2 * (warmup + block * updates)),
        target_update_period=8 * block)
    trainer = atari_loop.make_atari_trainer(config)
    state = trainer.init(0)

    def run_blocks(n: int) -> tuple[float, dict]:
        before = dict(state.timers)
        start = time.perf_counter()
        for _ in range(n):
            trainer.run_iteration(state)
        seconds = time.perf_counter() - start
        return seconds, {k: state.timers[k] - before[k] for k in before}

    trainer.run_iteration(state)  # compiles act
    warm_s, warm_t = run_blocks(warmup // block - 1)
    trainer.run_iteration(state)  # first update: compiles it
    train_s, train_t = run_blocks(updates)
    steps = block * updates
    return {
        "net": f"{network} w{width}",
        "warmup_steps_per_s": (warmup - block) / warm_s,
        "steps_per_s": steps / train_s,
        "ms_per_update": 1e3 * train_t["update"] / updates,
        "fractions": {k: v / train_s for k, v in train_t.items()},
        "other": 1.0 - sum(train_t.values()) / train_s,
        "warm_fractions": {k: v / warm_s for k, v in warm_t.items()},
    }


def sweep_cost_table(hours_per_run: float) -> list[tuple[str, int, float]]:
    """Runs and GPU-hours of the paper's online sweeps (15 games x 5 seeds each)."""
    cells = 15 * 5
    rows = [
        ("Fig 1: DQN+Rainbow, Impala w1-5, dense vs 95%", 2 * 5 * 2 * cells),
        ("Fig 1 at widths {1,3,5} only", 2 * 3 * 2 * cells),
        ("Fig 3: DQN Impala w3, 90% + 99% (0/95% shared)", 2 * cells),
        ("Fig 4: DQN+Rainbow, Nature w1/3/5, dense vs 95%", 2 * 3 * 2 * cells),
        ("Fig 20: IQN, Impala w1/3, 0/90/95/99%", 2 * 4 * cells),
    ]
    return [(name, runs, runs * hours_per_run) for name, runs in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=1000, help="agent steps before updates")
    parser.add_argument("--nets", nargs="+", default=["nature:1", "impala:1", "impala:3",
                                                      "impala:5"])
    parser.add_argument("--game", default="Pong")
    args = parser.parse_args()
    device = store.device_description()
    print(f"device: {device}; jax backend: {jax.default_backend()}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{args.game}, DQN, 95% GMP, batch 32, update every 4 steps; {args.updates} timed "
          f"updates, {args.warmup} warm-up steps\n")
    header = (f"{'net':10s} {'warm-up st/s':>12s} {'train st/s':>10s} {'ms/update':>9s} "
              f"{'env':>5s} {'act':>5s} {'replay':>6s} {'update':>6s} {'other':>5s} "
              f"{'10M steps':>10s}")
    print(header)
    rows = []
    for spec in args.nets:
        network, width = spec.split(":")
        row = time_network(network, int(width), args.updates, args.warmup, args.game)
        rows.append(row)
        f = row["fractions"]
        days = PAPER_AGENT_STEPS / row["steps_per_s"] / 86_400
        print(f"{row['net']:10s} {row['warmup_steps_per_s']:12.0f} {row['steps_per_s']:10.1f} "
              f"{row['ms_per_update']:9.1f} {f['env']:5.0%} {f['act']:5.0%} {f['replay']:6.0%} "
              f"{f['update']:6.0%} {row['other']:5.0%} {days:8.1f} d", flush=True)
    print(f"\n(all numbers above: {device})")
    print(f"\nPaper sweep cost at {P100_HOURS_PER_RUN:.0f} GPU-hours per run (P100, paper §4.1):")
    for name, runs, hours in sweep_cost_table(P100_HOURS_PER_RUN):
        print(f"  {name:50s} {runs:5d} runs {hours:9,.0f} GPU-h")


if __name__ == "__main__":
    main()
