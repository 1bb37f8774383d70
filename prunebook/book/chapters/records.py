"""Reading a chapter's results files, and the frames read straight off the records: the §5
measures (one row per run, iteration and measure) and the reruns of lent runs against their
lender's records. Pure functions of records, except :func:`read_folder`, which reads files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from prunebook.config import OfflineConfig, logging_config
from prunebook.config.base import variant_of
from prunebook.sweeps import store

MEASURE_COLUMNS = ["run_id", "game", "width", "sparsity", "seed", "method", "env_steps",
                   "measure", "value"]
RERUN_COLUMNS = ["run", "iterations identical", "final return (lender)", "final return (rerun)",
                 "bit-identical", "device (lender)", "device (rerun)"]


def read_folder(folder: Path, keep) -> list[dict]:
    """The records of `folder` whose run id `keep` accepts. Every file is read and validated,
    so a bad one stops the chapter with its name even if it is not kept."""
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [r for r in (store.read_run(p) for p in paths) if keep(r)]


def companions(configs: Iterable) -> set[str]:
    """Run ids a chapter's runs need besides themselves: an offline run's behaviour DQN (the
    run that logged its dataset, the 1.0 of its normalisation, in the same folder)."""
    return {logging_config(c.game, c.dataset, c.dataset_seed).run_id
            for c in configs if isinstance(c, OfflineConfig)}


def short_version(record: dict) -> str:
    version = str(record.get("code_version", "unknown"))
    return version[:7] + ("-dirty" if version.endswith("-dirty") else "")


def _flatten(measured: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for key, value in measured.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = float(value)
    return out


def measure_rows(records: Iterable[dict]) -> pd.DataFrame:
    """One row per (run, iteration, measure) of `records` that logged the §5 measures (older
    records have none and give no rows); nested measures are named `outer/inner`."""
    rows = []
    for record in records:
        config = record["config"]
        base = {"run_id": record["run_id"], "game": config["game"], "width": config["width"],
                "sparsity": float(config["final_sparsity"]), "seed": config["seed"],
                "method": variant_of(config)}
        for it in record["iterations"]:
            for name, value in _flatten(it.get("measures") or {}).items():
                rows.append({**base, "env_steps": it["env_steps"], "measure": name,
                             "value": value})
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def rerun_table(records: Sequence[dict], sweep: str, lender: str | None) -> pd.DataFrame:
    """Runs of ``sweep`` that rerun a run of ``lender`` (same run id): how many leading
    iterations log the same training return and loss, bit for bit, and the final returns."""
    lent = {r["run_id"]: r for r in records if r["sweep"] == lender}
    rows = []
    for rerun in (r for r in records if r["sweep"] == sweep and r["run_id"] in lent):
        original = lent[rerun["run_id"]]
        pairs = list(zip(original["iterations"], rerun["iterations"], strict=False))
        same = next((i for i, (a, b) in enumerate(pairs) if (a["train_return"], a["loss"])
                     != (b["train_return"], b["loss"])), len(pairs))
        identical = same == len(pairs) == len(original["iterations"])
        rows.append((rerun["run_id"], f"{same} of {len(original['iterations'])}",
                     original["iterations"][-1]["train_return"],
                     rerun["iterations"][-1]["train_return"], identical,
                     short_device(original.get("device", "?")),
                     short_device(rerun.get("device", "?"))))
    return pd.DataFrame(rows, columns=RERUN_COLUMNS).set_index("run")


def short_device(device: str) -> str:
    """A record's `device` as a table cell: "Intel Xeon (family 6, model 167; AVX-512)" for
    "cpu: Intel(R) Xeon(R) Processor (family 6, model 167; AVX-512)". The backend prefix goes
    for CPUs only (a GPU's stays: it says what ran where)."""
    name = device.removeprefix("cpu: ").replace("(R)", "").replace(" Processor", "")
    return " ".join(name.split())
