"""Time the Atari env (random actions) and the frame-once replay (add + sample of 32).

Run: ``.venv/bin/python benchmarks/atari_env_speed.py [num_steps]``. Not a test (timings depend
on the machine). One agent step = 4 emulator frames.
"""

import sys
import time

import numpy as np

from prunebook.envs.atari import make_atari
from prunebook.replay.frames import ImageReplay, PrioritizedImageReplay


def env_speed(game: str, num_steps: int, **options) -> float:
    env = make_atari(game, seed=0, **options)
    rng = np.random.default_rng(0)
    env.reset()
    start = time.perf_counter()
    for _ in range(num_steps):
        result = env.step(int(rng.integers(env.num_actions)))
        if result.terminated or result.truncated:
            env.reset()
    return num_steps / (time.perf_counter() - start)


def replay_speed(replay, num_steps: int, batch_size: int = 32) -> tuple[float, float]:
    """Agent steps/s of ``add`` alone, and of ``add`` + one ``sample`` per step."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(64, 84, 84), dtype=np.uint8)
    for t in range(2_000):  # warm-up history with episodes of ~500 steps
        replay.add(frames[t % 64], t % 6, 0.0, t % 500 == 499)
    start = time.perf_counter()
    for t in range(num_steps):
        replay.add(frames[t % 64], t % 6, 1.0, t % 500 == 499)
    add_rate = num_steps / (time.perf_counter() - start)
    start = time.perf_counter()
    for t in range(num_steps):
        replay.add(frames[t % 64], t % 6, 1.0, t % 500 == 499)
        batch = replay.sample(batch_size, rng)
        if isinstance(replay, PrioritizedImageReplay):
            replay.update_priorities(batch["indices"], rng.uniform(size=batch_size))
    return add_rate, num_steps / (time.perf_counter() - start)


def main() -> None:
    num_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    for game in ("Pong", "Breakout"):
        rate = env_speed(game, num_steps)
        print(
            f"{game:9s} sticky, random actions: {rate:7.0f} agent steps/s ({4 * rate:.0f} frames/s)"
        )
    rate = env_speed("Breakout", num_steps, sticky_actions=False, terminal_on_life_loss=True)
    print(f"Breakout  DER settings (no sticky, life loss): {rate:7.0f} agent steps/s")
    for name, replay in [
        ("uniform", ImageReplay(100_000, update_horizon=1)),
        ("prioritized n=3", PrioritizedImageReplay(100_000, update_horizon=3)),
        ("prioritized n=10", PrioritizedImageReplay(100_000, update_horizon=10)),
    ]:
        add_rate, rate = replay_speed(replay, num_steps)
        print(
            f"replay {name:17s} (100k capacity): add {add_rate:7.0f}/s, "
            f"add + sample(32){' + update' if 'prio' in name else ''} {rate:6.0f}/s"
        )


if __name__ == "__main__":
    main()
