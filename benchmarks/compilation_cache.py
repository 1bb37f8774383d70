"""What JAX's persistent compilation cache saves per run (`prunebook.loops.compilation_cache`).

Trains the same tiny `ci` DQN run (Breakout, 95%, a new seed each time, a new trainer each
time, as a sweep worker does) `repeats` times without the cache, then `repeats` times with it
in a fresh folder (the first of those compiles and stores, the others load), in one
single-threaded process, and prints each run's seconds and the ratio of a cached run to an
uncached one. Not a test: the seconds depend on the machine and on what else it runs.

Run: ``.venv/bin/python benchmarks/compilation_cache.py [repeats]``
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import jax

from prunebook.config import ci_config
from prunebook.loops.compilation_cache import use_compilation_cache
from prunebook.loops.minatar import make_trainer
from prunebook.sweeps import runner, store
from prunebook.sweeps.local import SINGLE_THREAD_XLA


def timed_runs(repeats: int, work: Path, first_seed: int) -> list[float]:
    seconds = []
    for seed in range(first_seed, first_seed + repeats):
        config = ci_config("dqn", game="Breakout", final_sparsity=0.95, seed=seed)
        start = time.perf_counter()
        runner.run_one(config, "bench", work / f"r{seed}", work / f"c{seed}",
                       trainer=make_trainer(config))
        seconds.append(time.perf_counter() - start)
    return seconds


def main(repeats: int = 3) -> None:
    if repeats < 2:
        raise SystemExit(f"repeats={repeats}: needs >= 2 (the first cached run only stores)")
    # as a sweep worker: XLA reads the flags when the first computation makes its backend
    os.environ.setdefault("XLA_FLAGS", SINGLE_THREAD_XLA)
    jax.config.update("jax_compilation_cache_dir", None)  # a configured cache would be used
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        timed_runs(1, work, 100)  # warm-up: imports, the environment's own jitted functions
        without = timed_runs(repeats, work, 0)
        use_compilation_cache(work / "jax", min_compile_seconds=1.0)
        with_cache = timed_runs(repeats, work, repeats)
    print(f"ci DQN run, Breakout, 95%, one single-threaded process: {store.device_description()}")
    print("without the cache: " + ", ".join(f"{s:.1f} s" for s in without))
    print("with the cache:    " + ", ".join(f"{s:.1f} s" for s in with_cache)
          + "  (the first compiles and stores)")
    hits = with_cache[1:]
    ratio = (sum(hits) / len(hits)) / (sum(without) / len(without))
    print(f"a run whose program is in the cache takes {ratio:.2f}x an uncached run")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
