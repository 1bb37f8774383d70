"""Many runs as one program: `vmap` over seeds and sparsities of one network shape (for GPUs).

On a GPU, the per-run networks are far too small to fill the device, so the big win is to
batch runs: runs that differ only in seed and final sparsity have identical shapes (a dense
network is a pruned one with all-ones masks; the per-layer targets live in the optimizer
state), so one jitted `vmap` of the training iteration runs them all. On CPU this is slower
than one single-threaded process per core (measured, notes §3), so the local default stays
`LocalExecutor`. Each run still gets its own checkpoint and results file, so a batched sweep
resumes (and can be finished unbatched) like any other.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp

from prunebook.config import RunConfig
from prunebook.loops import minatar as minatar_loop
from prunebook.loops.trainer import iteration_entry
from prunebook.sweeps import checkpoints, lottery, runner, store


def group_key(config: RunConfig):
    """Configs with the same key share one program: everything but seed and sparsity."""
    return config.replace(seed=0, final_sparsity=0.0)


def run_group(configs: Sequence[RunConfig], sweep: str, results_root: Path,
              checkpoint_root: Path, on_event=None) -> None:
    """Train `configs` (same `group_key`) together; resumes when all are at one iteration."""
    if any(c.suite != "minatar" or c.agent not in ("dqn", "rainbow", "iqn") for c in configs):
        raise ValueError("the vmap executor batches the jitted MinAtar loop only; run Atari and "
                         "offline sweeps with the local or ray executor")
    # lottery tickets and their donors pass masks between runs (`sweeps.lottery`): one by one
    linked = [c for c in configs if c.mask_method == "lottery" or lottery.is_donor(c, sweep)]
    for config in linked:
        runner.run_one(config, sweep, results_root, checkpoint_root)
    todo = [c for c in configs if c not in linked
            and not checkpoints.restore_finished(c, sweep, results_root, checkpoint_root)]
    if not todo:
        return
    trainers = [minatar_loop.make_trainer(c) for c in todo]  # per-config init (targets, keys)
    states, logs, walls = [], [], []
    for config, trainer in zip(todo, trainers, strict=True):
        state = trainer.init(config.seed)
        loaded = checkpoints.load_checkpoint(
            checkpoints.checkpoint_path(checkpoint_root, sweep, config.run_id))
        if loaded is None:
            states.append(state), logs.append([]), walls.append(0.0)
        else:
            arrays, meta = loaded
            states.append(trainer.from_arrays(state, arrays))
            logs.append(meta["iterations"]), walls.append(meta["wall_s"])
    if len({len(log) for log in logs}) > 1:  # members at different points: finish one by one
        for config in todo:
            runner.run_one(config, sweep, results_root, checkpoint_root)
        return
    batched = trainers[0].run_iteration_batched
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    lead = todo[0]
    while len(logs[0]) < lead.num_iterations:
        start = time.perf_counter()
        stacked = jax.block_until_ready(batched(stacked))
        share = (time.perf_counter() - start) / len(todo)  # each member's part of the batch
        for i, config in enumerate(todo):
            state = jax.tree.map(lambda x, i=i: x[i], stacked)
            # the step `loops.trainer.train` takes after every iteration, per member
            entry = iteration_entry(trainers[i], state, len(logs[i]), share)
            logs[i].append(entry)
            walls[i] += entry["wall_s"]
            ckpt = checkpoints.checkpoint_path(checkpoint_root, sweep, config.run_id)
            if len(logs[i]) < config.num_iterations:
                checkpoints.save_checkpoint(ckpt, trainers[i].to_arrays(state), {
                    "config": config.to_dict(), "iterations": logs[i], "wall_s": walls[i]})
            else:
                record = store.run_record(
                    config.to_dict(), config.run_id, sweep, logs[i], walls[i],
                    device=store.device_description() + f" (vmap x{len(todo)})")
                checkpoints.write_finished(record, results_root, checkpoint_root)
            if on_event:
                on_event("progress", {"run_id": config.run_id, "iteration": len(logs[i]),
                                      "units": config.iteration_units,
                                      "seconds": entry["wall_s"]})


class VmapExecutor:
    """Runs each group of same-shape configs as one vmapped program in this process."""

    num_workers = 1

    def __init__(self, max_group: int = 64):
        self.max_group = max_group

    def run(self, configs, sweep, results_root, checkpoint_root, on_event):
        groups: dict = {}
        for config in configs:
            groups.setdefault(group_key(config), []).append(config)
        for members in groups.values():
            for start in itertools.count(0, self.max_group):
                chunk = members[start:start + self.max_group]
                if not chunk:
                    break
                run_group(chunk, sweep, Path(results_root), Path(checkpoint_root), on_event)
                for config in chunk:
                    on_event("finished", {"run_id": config.run_id, "status": "done"})
