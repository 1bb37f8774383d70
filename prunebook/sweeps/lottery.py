"""Lottery tickets (the paper's §5, Fig 13): a finished GMP run's final masks, kept beside its
results record, and the masks a lottery run of the same sweep starts from.

A lottery run (`mask_method="lottery"`) and its donor (the same config with `mask_method="gmp"`)
share agent, game, width, sparsity and seed, so the donor's initial weights are exactly the
lottery run's (`trainer.init(seed)` draws them from the seed alone); the lottery run masks them
with the donor's final masks and keeps those masks from step 0. A donor stores its masks at
`results/<sweep>/masks/<run_id>.npz` when it finishes, before its results record, so a donor
with a record always has its masks.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import jax
import numpy as np

from prunebook import pruning
from prunebook.config import ConfigError, OfflineConfig, RunConfig
from prunebook.sweeps import store
from prunebook.sweeps.registry import get_sweep


class DonorNotReadyError(RuntimeError):
    """A lottery run's donor has not finished (or its masks are missing or damaged)."""


def donor_config(config: RunConfig) -> RunConfig:
    """The GMP run whose final masks a lottery run keeps."""
    return config.replace(mask_method="gmp")


def masks_path(results_root: Path | str, sweep: str, run_id: str) -> Path:
    return Path(results_root) / sweep / "masks" / f"{run_id}.npz"


def is_donor(config: RunConfig | OfflineConfig, sweep: str) -> bool:
    """Whether a lottery run of the named sweep takes its masks from this run."""
    if config.mask_method != "gmp" or config.final_sparsity <= 0:
        return False
    try:
        planned = get_sweep(sweep).configs()
    except ConfigError:  # an ad-hoc sweep has no lottery runs
        return False
    return any(c.mask_method == "lottery" and donor_config(c).run_id == config.run_id
               for c in planned)


def save_masks(path: Path, flat: dict[str, np.ndarray]) -> None:
    """Write {kernel path: bool mask} atomically, bit-packed (a x5 MinAtar mask is ~80 kB)."""
    buffer = io.BytesIO()
    arrays = {}
    for i, (name, mask) in enumerate(sorted(flat.items())):
        arrays[f"name{i}"] = np.frombuffer(name.encode(), np.uint8)
        arrays[f"shape{i}"] = np.asarray(mask.shape, np.int64)
        arrays[f"bits{i}"] = np.packbits(np.asarray(mask, bool).reshape(-1))
    np.savez_compressed(buffer, count=np.asarray(len(flat)), **arrays)
    store.atomic_write_bytes(Path(path), buffer.getvalue())


def load_masks(path: Path) -> dict[str, np.ndarray]:
    """`save_masks`' dict back; a damaged file is a DonorNotReadyError naming it."""
    try:
        with np.load(path) as data:
            out = {}
            for i in range(int(data["count"])):
                shape = tuple(int(n) for n in data[f"shape{i}"])
                bits = np.unpackbits(data[f"bits{i}"], count=int(np.prod(shape)))
                out[bytes(data[f"name{i}"]).decode()] = bits.astype(bool).reshape(shape)
            return out
    except (OSError, KeyError, ValueError, EOFError) as err:
        raise DonorNotReadyError(f"{path}: damaged lottery masks ({type(err).__name__}: "
                                 f"{err}); delete it and the donor's results file to rerun "
                                 "the donor") from err


def donor_masks(config: RunConfig, sweep: str, results_root: Path | str
                ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(the donor's final masks, the record's `mask_donor` entry) of a lottery run."""
    donor = donor_config(config)
    record_path = store.run_path(Path(results_root), sweep, donor.run_id)
    path = masks_path(results_root, sweep, donor.run_id)
    if not record_path.exists():
        raise DonorNotReadyError(f"{config.run_id}: its donor {donor.run_id} has not finished "
                                 f"({record_path} is missing); run the donor first (the "
                                 "sweep queues donors before lottery runs) and rerun")
    record = store.read_run(record_path)
    if not path.exists():
        raise DonorNotReadyError(f"{config.run_id}: the donor {donor.run_id} finished without "
                                 f"its masks ({path} is missing); delete {record_path} so the "
                                 "donor reruns and stores them")
    return load_masks(path), {"sweep": sweep, "run_id": donor.run_id,
                              "code_version": str(record.get("code_version", "unknown"))}


def donor_of(config: RunConfig | OfflineConfig, sweep: str, results_root: Path | str
             ) -> tuple[dict[str, np.ndarray] | None, dict[str, Any]]:
    """The runner's hook before a run: a lottery run's (donor masks, {"mask_donor": ...} for
    its record); (None, {}) for every other run."""
    if config.mask_method != "lottery":
        return None, {}
    masks, donor = donor_masks(config, sweep, results_root)
    return masks, {"mask_donor": donor}


def after_run(config: RunConfig | OfflineConfig, sweep: str, results_root: Path | str,
              state) -> None:
    """The runner's hook when a run finishes, before its results record: a donor stores its
    final masks (those in its optimiser state)."""
    if is_donor(config, sweep):
        final = pruning.flat_masks(jax.device_get(state.opt_state.masks))
        save_masks(masks_path(results_root, sweep, config.run_id), final)
