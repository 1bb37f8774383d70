"""Fault injection for the tests (not part of the library)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any


class KillOnce:
    """Fault injection: SIGKILL the worker once per run after iteration `after_iteration`.

    A marker file `<marker_dir>/<run_id>.killed` records that the kill happened, so the retry
    runs through, with the killed process's id and XLA flags (JSON). Checks that a killed task
    is retried and resumes from its checkpoint.
    """

    def __init__(self, marker_dir: str | Path, after_iteration: int = 1):
        self.marker_dir = str(marker_dir)
        self.after_iteration = after_iteration

    def __call__(self, event: dict[str, Any]) -> None:
        if event["iteration"] != self.after_iteration:
            return
        marker = Path(self.marker_dir) / f"{event['run_id']}.killed"
        if marker.exists():
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"pid": os.getpid(),
                                      "XLA_FLAGS": os.environ.get("XLA_FLAGS")}))
        os.kill(os.getpid(), signal.SIGKILL)


def stop_after(iterations: int, config, sweep: str, results_root, checkpoint_root,
               trainer=None) -> list[dict[str, Any]]:
    """Interrupt a run by consuming only `iterations` of its iterations: closing the run's
    generator checkpoints them (`prunebook.sweeps.runner.advance`). Returns their entries."""
    import contextlib
    import itertools

    from prunebook.sweeps import runner

    run = runner.start_run(config, sweep, results_root, checkpoint_root, trainer)
    with contextlib.closing(runner.advance(run)) as steps:
        return [entry for _, entry in itertools.islice(steps, iterations)]
