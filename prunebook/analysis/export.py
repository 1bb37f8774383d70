"""A sweep's per-run scores as files a reader can download (`prunebook export`, `make claims`).

Two files per sweep, both made from the validated records in ``results/<sweep>/``:

* ``<sweep>_runs.csv`` (or ``_runs.npz``, one array per column): one row per finished run with
  its configuration (agent, game, width, sparsity, method, seed, preset), its final return (the
  last iteration's, what the verdicts use) and the mean of its last 3 iterations, the normalised
  final score, the code version that made it and the machine it ran on (the CPU model matters:
  chapter 6 found that the same code and seed give other floats on another CPU).
* ``<sweep>_rliable.npz``: rliable's input, one ``(runs, games)`` array of normalised final
  scores per configuration, keyed by :func:`config_key`; games in alphabetical order (the
  sweep's games: :func:`games_of`); a game keeps its lowest seeds, as many as every game has.
  ``dict(np.load(path))`` gives the ``score_dict`` that ``rliable.library`` takes.

The normalised score holds the reference runs' mean fixed (``normalization.normalize_frame``);
the book's intervals resample them too, so use these arrays for point estimates and your own
analyses, and the chapters for the book's intervals. Files are byte-for-byte the same for the
same records (no dates inside), so the committed copies can be checked.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from prunebook.analysis import normalization
from prunebook.sweeps import store

FORMATS = ("csv", "npz")
LAST_ITERATIONS = 3
COLUMNS = ["sweep", "run_id", "agent", "game", "width", "sparsity", "method", "seed", "preset",
           "final_return", "last3_return", "normalized", "code_version", "cpu"]
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build date in the file


def _records(results_root: Path) -> list[dict]:
    return [store.read_run(p) for p in store.iter_result_files(results_root)]


def runs_table(results_root: str | Path, sweep: str) -> pd.DataFrame:
    """One row per finished run of ``sweep`` (:data:`COLUMNS`), sorted by configuration."""
    records = _records(Path(results_root))
    runs = store.runs_frame(records)
    if not len(runs[runs["sweep"] == sweep]):
        raise ValueError(f"no finished runs of sweep {sweep!r} in {results_root}")
    final = store.final_scores(runs)  # every sweep: a sweep may borrow another's reference
    last3 = store.final_scores(runs, last_iterations=LAST_ITERATIONS)
    final = final.merge(last3[["sweep", "run_id", "score"]].rename(
        columns={"score": "last3_return"}), on=["sweep", "run_id"], validate="one_to_one")
    final = normalization.normalize_frame(final)
    made = {(r["sweep"], r["run_id"]): (r.get("code_version", ""), r.get("device", ""))
            for r in records}
    final["code_version"] = [made[k][0] for k in zip(final["sweep"], final["run_id"], strict=True)]
    final["cpu"] = [made[k][1] for k in zip(final["sweep"], final["run_id"], strict=True)]
    out = final[final["sweep"] == sweep].rename(columns={"score": "final_return"})
    out = out.sort_values(["agent", "method", "width", "sparsity", "game", "seed"])
    return out[COLUMNS].reset_index(drop=True)


def config_key(agent: str, width: int, sparsity: float, method: str = "") -> str:
    """``"dqn_w5_s0.95"``; a control or baseline adds its name (``"dqn_w5_s0.95_lottery"``)."""
    return f"{agent}_w{width}_s{sparsity:g}" + (f"_{method}" if method else "")


def games_of(table: pd.DataFrame) -> list[str]:
    return sorted(table["game"].unique())


def score_arrays(table: pd.DataFrame, value: str = "normalized") -> dict[str, np.ndarray]:
    """``{config_key: (runs, games)}`` over every game of the table; a configuration without a
    finished run on some game (a sweep in progress) is left out."""
    games = games_of(table)
    out = {}
    for (agent, method, width, sparsity), rows in table.groupby(
            ["agent", "method", "width", "sparsity"], sort=True):
        if set(rows.loc[rows[value].notna(), "game"]) >= set(games):
            out[config_key(agent, int(width), float(sparsity), method)] = (
                normalization.score_matrix(rows, value, games))
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez``'s format (``np.load`` reads it) without the write time inside."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            array = io.BytesIO()
            np.lib.format.write_array(array, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, array.getvalue())
    return buf.getvalue()


def _column_arrays(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: (table[c].to_numpy() if pd.api.types.is_numeric_dtype(table[c])
                else table[c].astype(str).to_numpy(dtype=str)) for c in table.columns}


def export(results_root: str | Path, sweep: str, out_dir: str | Path,
           formats: Iterable[str] = ("csv",)) -> list[Path]:
    """Write ``sweep``'s per-run table (in each of ``formats``) and its rliable arrays into
    ``out_dir``; returns the paths written."""
    formats = list(formats)
    if bad := [f for f in formats if f not in FORMATS]:
        raise ValueError(f"unknown format(s) {bad}: choose from {list(FORMATS)}")
    table = runs_table(results_root, sweep)
    out = Path(out_dir)
    written = []
    if "csv" in formats:
        written.append(out / f"{sweep}_runs.csv")
        store.atomic_write_bytes(written[-1], table.to_csv(index=False, lineterminator="\n",
                                                           float_format="%.6g").encode())
    if "npz" in formats:
        written.append(out / f"{sweep}_runs.npz")
        store.atomic_write_bytes(written[-1], npz_bytes(_column_arrays(table)))
    written.append(out / f"{sweep}_rliable.npz")
    store.atomic_write_bytes(written[-1], npz_bytes(score_arrays(table)))
    return written
