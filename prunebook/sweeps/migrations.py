"""Documented corrections of committed results records: each touches one false field only.

**sticky_actions (2026-12-01).** Until the `std` preset wired gymnax's `StickyActionWrapper`
into MinAtar (`prunebook.envs.minatar`), `RunConfig.sticky_actions` defaulted to True and
MinAtar configs had to keep it, although no MinAtar environment applied sticky actions: 143
of `online_cpu`'s records said `"sticky_actions": true` for runs that had none. Every record
made before that change lacks the §5 measures (they were added in the same change), so a
MinAtar record with sticky actions and no measures is one of those and is set to False. The
rest of the file stays byte for byte as it was (checked before writing).

Run once over `results/`: ``python -m prunebook.sweeps.migrations results``.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

from prunebook.sweeps import store

_STICKY_TRUE = '  "sticky_actions": true,'
_STICKY_FALSE = '  "sticky_actions": false,'


def claims_unapplied_sticky_actions(record: dict) -> bool:
    """A MinAtar record from before sticky actions existed there that says they were on."""
    config = record.get("config", {})
    made_before = not any("measures" in it for it in record.get("iterations", []))
    return config.get("suite") == "minatar" and config.get("sticky_actions") is True \
        and made_before


def correct_sticky_actions(text: str) -> str | None:
    """The corrected file text, or None when the record needs no correction.

    Raises ValueError if the rewrite would change anything but that one line.
    """
    record = json.loads(text)
    if not claims_unapplied_sticky_actions(record):
        return None
    record["config"]["sticky_actions"] = False
    new = json.dumps(record, indent=1, sort_keys=True)
    changed = [line for line in difflib.unified_diff(text.splitlines(), new.splitlines(),
                                                     lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    if sorted(changed) != sorted([f"-{_STICKY_TRUE}", f"+{_STICKY_FALSE}"]):
        raise ValueError(f"correcting sticky_actions would change more than that field: "
                         f"{changed[:4]}")
    return new


def migrate_tree(results_root: Path | str) -> list[Path]:
    """Correct every record under `results_root` that needs it; returns the files changed."""
    changed = []
    for path in sorted(Path(results_root).glob("*/*.json")):
        text = path.read_text()
        new = correct_sticky_actions(text)
        if new is not None:
            store.atomic_write_bytes(path, new.encode())
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m prunebook.sweeps.migrations RESULTS_ROOT")
    done = migrate_tree(sys.argv[1])
    print(f"sticky_actions corrected in {len(done)} records")
