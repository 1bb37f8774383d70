"""Checkpoints written before the training core was rewritten (commit 69adddf: one agent shape,
a run as a generator, a typed trainer) resume under this code: sweeps in progress keep their
partial runs.

* The payload of a ci state (every array's shape and dtype, in order) is 69adddf's, for DQN,
  Rainbow and IQN (`fixtures/ckpt_layout_69adddf.json`, written by 69adddf's code).
* A real 69adddf run resumes to its uninterrupted record (to the bit on the CPU model that
  wrote it, an AMD EPYC; elsewhere floats to 1e-5): `fixtures/ckpt_69adddf/` holds a tiny
  ci run's checkpoint after 2 of its 4 iterations, as 69adddf's runner wrote it (xz-compressed
  here, decompressed byte for byte), and the same run's uninterrupted record, both written by
  69adddf's code (`make_old_checkpoint.py` there). `PRUNEBOOK_OLD_CHECKPOINT` names another
  folder of the same layout (`ck/<sweep>/*.ckpt.npz[.xz]`, `full/<sweep>/*.json`).
"""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path

import pytest

from prunebook.config import config_from_dict
from prunebook.loops import minatar as minatar_loop
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.sweeps import checkpoints, runner, store

HERE = Path(__file__).parent
LAYOUT = HERE / "fixtures" / "ckpt_layout_69adddf.json"
OLD = Path(os.environ.get("PRUNEBOOK_OLD_CHECKPOINT", HERE / "fixtures" / "ckpt_69adddf"))


def _strip(record):
    return [{k: v for k, v in it.items() if k not in TIMING_KEYS} for it in record["iterations"]]


def _assert_same_log(ours, theirs, same_cpu: bool, where="iterations"):
    """Equal to the bit on the CPU model that wrote `theirs`; on another model XLA may sum in
    another order (AVX-512 against AVX2), so floats agree to 1e-5 and the rest exactly."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), where
        for key in theirs:
            _assert_same_log(ours[key], theirs[key], same_cpu, f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _assert_same_log(a, b, same_cpu, f"{where}[{i}]")
    elif isinstance(theirs, float) and not same_cpu:
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-12), where
    else:
        assert ours == theirs, where


@pytest.mark.parametrize("agent", ["dqn", "rainbow", "iqn"])
def test_a_ci_states_checkpoint_payload_is_69adddfs(agent):
    want = json.loads(LAYOUT.read_text())[agent]
    config = config_from_dict(want["config"])
    trainer = minatar_loop.make_trainer(config)
    arrays = trainer.to_arrays(trainer.init(config.seed))
    assert [[list(a.shape), str(a.dtype)] for a in arrays] == want["arrays"]
    assert trainer.from_arrays(trainer.init(config.seed), arrays) is not None


def test_a_69adddf_checkpoint_resumes_to_the_uninterrupted_record(tmp_path):
    [full_path] = (OLD / "full").glob("*/*.json")
    full = store.read_run(full_path)
    config = config_from_dict(full["config"])
    [old_ckpt] = (OLD / "ck").glob("*/*.ckpt.npz*")
    sweep = old_ckpt.parent.name
    ckpt = checkpoints.checkpoint_path(tmp_path / "ck", sweep, config.run_id)
    ckpt.parent.mkdir(parents=True)
    data = old_ckpt.read_bytes()  # the fixture stays as 69adddf wrote it
    ckpt.write_bytes(lzma.decompress(data) if old_ckpt.suffix == ".xz" else data)
    assert len(checkpoints.checkpoint_meta(ckpt)["iterations"]) == 2
    resumed = runner.run_one(config, sweep, tmp_path / "r", tmp_path / "ck")
    record = store.read_run(resumed)
    _assert_same_log(_strip(record), _strip(full), record["device"] == full["device"])
    assert not ckpt.exists()
    # the record says that two code versions trained it, and which one cannot be named
    assert record["code_versions"] == [
        {"from_iteration": 0, "code_version": runner.UNKNOWN_VERSION},
        {"from_iteration": 2, "code_version": record["code_version"]}]
