"""Time the stratified bootstrap at the paper's scale: 50,000 reps, 5 configs x 15 games x 5 runs.

Run: ``.venv/bin/python benchmarks/stats_speed.py``. Not a test (timings depend on the machine).
"""

import time

import numpy as np

from prunebook.analysis import stats


def main() -> None:
    rng = np.random.default_rng(0)
    scores = {f"config{i}": rng.gamma(2.0, 1.0, size=(5, 15)) for i in range(5)}
    for metric in ("iqm", "mean", "median", "optimality_gap"):
        start = time.perf_counter()
        stats.interval_estimates(scores, metric, rng=np.random.default_rng(1), reps=50_000)
        print(f"interval_estimates({metric}): 50k reps x 5 configs x 15 tasks x 5 runs: "
              f"{time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    stats.iqm_ratio(scores["config0"], scores["config1"], rng=np.random.default_rng(2))
    print(f"iqm_ratio: 50k reps: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
