"""Fault injection for the tests (not part of the library)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any


class KillOnce:
    """Fault injection: SIGKILL the worker once per run after iteration `after_iteration`.

    A marker file `<marker_dir>/<run_id>.killed` records that the kill happened, so the retry
    runs through. Checks that a killed task is retried and resumes from its checkpoint.
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
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
