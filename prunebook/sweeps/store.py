"""The results store: one small JSON file per finished run, written atomically.

Every reader validates each file (:func:`read_run`): unreadable JSON, a missing field, or a
stored config that is not the run its file name and folder say raise :class:`ResultsFileError`
naming the file and the problem. Extra fields (a per-iteration ``measures`` dict, new config
fields) are ignored.

A results file carries its full config, per-iteration statistics, wall-clock, code version and
device, so every figure can be re-created from `results/` alone (STYLE.md lesson 9). Files are
only ever written whole (temp file + fsync + rename): a crash never leaves a partial result.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from prunebook.config.base import run_id_of, variant_of
from prunebook.extras import missing_extra

try:
    import pandas as pd
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error

SCHEMA = 1
RUN_COLUMNS = ["run_id", "sweep", "agent", "suite", "game", "width", "sparsity", "seed",
               "preset", "method"]
"""`method`: "" for the paper's dense and GMP runs, else the control or baseline
(`prunebook.config.base.variant_of`)."""
ITERATION_COLUMNS = ["iteration", "env_steps", "gradient_updates", "train_return",
                     "eval_return"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def run_record(config_dict: dict[str, Any], run_id: str, sweep: str, iterations: list,
               wall_clock_s: float, version: str | None = None, device: str | None = None,
               **extra: Any) -> dict[str, Any]:
    """A finished run's results record (the one builder: the runner (local and Ray executors),
    the vmap executor and the dataset logger). `version` and `device` (what made the run)
    default to this checkout's code version and this machine."""
    return {"run_id": run_id, "sweep": sweep, "config": config_dict, "iterations": iterations,
            "wall_clock_s": round(wall_clock_s, 2),
            "code_version": version if version is not None else code_version(),
            "device": device if device is not None else device_description(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}


def write_run(path: Path, record: dict[str, Any]) -> None:
    missing = {"run_id", "sweep", "config", "iterations"} - set(record)
    if missing:
        raise ValueError(f"results record is missing {sorted(missing)}")
    record = {"schema": SCHEMA, **record}
    data = json.dumps(json_safe(record), indent=1, sort_keys=True).encode()
    atomic_write_bytes(path, data)


CONFIG_FIELDS = ("agent", "suite", "game", "width", "final_sparsity", "seed", "preset")
"""Config fields every reader needs (a run's identity); other fields may come and go."""
ITERATION_FIELDS = ("iteration", "train_return")


class ResultsFileError(ValueError):
    """A results file that cannot be used: unreadable, missing a field, or not the run its
    name and folder say. The message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem


def config_run_id(config: dict[str, Any]) -> str:
    """The run id a stored config implies (`RunConfig.run_id`'s formula, on the dict, so that
    fields added to configs later do not stop old files from being read)."""
    return run_id_of(config)


def _file_run_id(path: Path) -> str:
    # results/<sweep>/<run_id>.json, or a cached copy <sweep>/<run_id>.result.json
    return path.name.removesuffix(".json").removesuffix(".result")


def check_record(record: Any, path: Path | str) -> dict[str, Any]:
    """``record`` if it is a usable results record stored at ``path``, else ResultsFileError:
    schema, required fields, and run id / sweep agreeing with the file name and folder."""
    path = Path(path)
    if not isinstance(record, dict):
        raise ResultsFileError(path, f"not a results record (a JSON {type(record).__name__})")
    if record.get("schema") != SCHEMA:
        raise ResultsFileError(path, f"unknown results schema {record.get('schema')!r}")
    missing = [k for k in ("run_id", "sweep", "config", "iterations") if k not in record]
    if missing:
        raise ResultsFileError(path, f"missing field(s) {missing}")
    config, iterations = record["config"], record["iterations"]
    if not isinstance(config, dict) or (lacking := [k for k in CONFIG_FIELDS if k not in config]):
        raise ResultsFileError(path, f"config is missing field(s) "
                               f"{lacking if isinstance(config, dict) else list(CONFIG_FIELDS)}")
    if not isinstance(iterations, list) or not all(isinstance(i, dict) for i in iterations):
        raise ResultsFileError(path, "iterations is not a list of records")
    for i, it in enumerate(iterations):
        if lacking := [k for k in ITERATION_FIELDS if k not in it]:
            raise ResultsFileError(path, f"iteration {i} is missing field(s) {lacking}")
    try:
        implied = config_run_id(config)
    except (TypeError, ValueError) as err:
        raise ResultsFileError(path, f"config has malformed identity fields ({err})") from err
    if record["run_id"] != _file_run_id(path):
        raise ResultsFileError(path, f"run_id {record['run_id']!r} does not match the file name")
    if implied != record["run_id"]:
        raise ResultsFileError(path, f"stored config is run {implied!r}, not {record['run_id']!r}")
    if record["sweep"] != path.parent.name:
        raise ResultsFileError(path, f"sweep {record['sweep']!r} does not match its folder "
                               f"{path.parent.name!r}")
    return record


def read_run(path: Path) -> dict[str, Any]:
    """A validated results record (:func:`check_record`); ResultsFileError names the file."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsFileError(path, f"unreadable ({type(err).__name__}: {err})") from err
    return check_record(record, path)


def scan(results_root: Path | str, sweep: str | None = None
         ) -> tuple[dict[Path, dict[str, Any]], dict[Path, str]]:
    """Every results file under ``results_root`` (one sweep's folder if given), each read once,
    split into the valid ones with their records and the bad ones with their problem (what
    `prunebook status` lists)."""
    good, bad = {}, {}
    for path in iter_result_files(Path(results_root)):
        if sweep is not None and path.parent.name != sweep:
            continue
        try:
            good[path] = read_run(path)
        except ResultsFileError as err:
            bad[path] = err.problem
    return good, bad


def run_path(results_root: Path, sweep: str, run_id: str) -> Path:
    return Path(results_root) / sweep / f"{run_id}.json"


def code_version(repo: Path | None = None) -> str:
    """The git commit of the code (with '-dirty' when the tree has changes), or 'unknown'."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True, timeout=10).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_description() -> str:
    """Backend and device; on a CPU also its family, model and widest vector instructions,
    because XLA's CPU kernels round differently on different CPUs (chapter 6's rerun check:
    the same code gave other floats on another machine)."""
    import platform

    import jax

    device = jax.devices()[0]
    name = getattr(device, "device_kind", "") or platform.processor()
    if jax.default_backend() == "cpu":
        name = cpu_description() or name
    return f"{jax.default_backend()}: {name}"


def cpu_description(cpuinfo: str | None = None) -> str:
    """``"<model name> (family F, model M; AVX-512)"`` from /proc/cpuinfo's first processor;
    empty where there is no /proc/cpuinfo."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return ""
    fields = {}
    for line in cpuinfo.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    isa = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"),
                                          ("avx", "AVX")) if flag in flags), "no AVX")
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, "
            f"model {fields.get('model', '?')}; {isa})")


def iter_result_files(results_root: Path):
    root = Path(results_root)
    if not root.exists():
        return
    yield from sorted(root.glob("*/*.json"))


def load_runs(results_root: Path | str = "results", sweep: str | None = None) -> pd.DataFrame:
    """One row per (run, iteration); columns RUN_COLUMNS + ITERATION_COLUMNS. Every file is
    validated first: a bad one raises ResultsFileError naming it (never a silent skip)."""
    return runs_frame(read_run(path) for path in iter_result_files(Path(results_root))
                      if sweep is None or path.parent.name == sweep)


def runs_frame(records) -> pd.DataFrame:
    """`load_runs`' frame of records already read (a reader that needs the records themselves
    too reads each file once)."""
    rows = []
    for record in records:
        config = record["config"]
        base = {"run_id": record["run_id"], "sweep": record["sweep"], "agent": config["agent"],
                "suite": config["suite"], "game": config["game"], "width": config["width"],
                "sparsity": config["final_sparsity"], "seed": config["seed"],
                "preset": config["preset"], "method": variant_of(config)}
        for it in record["iterations"]:
            row = dict(base)
            for column in ITERATION_COLUMNS:
                value = it.get(column)
                row[column] = float("nan") if value is None else value
            rows.append(row)
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS + ITERATION_COLUMNS)
    return frame.astype({"train_return": float, "eval_return": float})


def final_scores(runs: pd.DataFrame, last_iterations: int = 1,
                 column: str = "train_return") -> pd.DataFrame:
    """One row per run: `score` = mean of `column` over its last `last_iterations` iterations.

    The paper reports the IQM "after 40M frames" (the last iteration); averaging a few last
    iterations trades a little bias for less noise at our scale, and the notebooks say which.
    """
    if last_iterations < 1:
        raise ValueError(f"last_iterations must be >= 1, got {last_iterations}")
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS + ["score"])
    # a run is (sweep, run_id): two sweeps may hold runs of the same name (chapter 4's logging
    # DQN runs and chapters 1-3's dense x1 DQN runs), which must not be pooled
    keys = ["sweep", "run_id"]
    ordered = runs.sort_values("iteration")
    tail = ordered.groupby(keys, sort=False).tail(last_iterations)
    scores = tail.groupby(keys)[column].mean().rename("score")
    meta = runs.drop_duplicates(keys).set_index(keys)[[c for c in RUN_COLUMNS if c not in keys]]
    return meta.join(scores).reset_index()[RUN_COLUMNS + ["score"]]
