"""Chapter 0's computations: the paper's pruning schedules, ERK tables, and a tiny GMP run.

Everything here is computed from `prunebook.pruning` and `prunebook.networks`; nothing needs
trained agents or results files, so chapter 0 runs in seconds on any laptop.

Units (dossier §3.3): one agent step = 4 frames (frame skip), one gradient update every 4 agent
steps, so one update = 16 frames. 40M frames = 10M agent steps = 2.5M updates, and the paper
prunes from 20% to 80% of the updates: 500k -> 2M (the 100M-frame schedule: 1.25M -> 5M).
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
import pandas as pd

from prunebook.analysis.styles import COLUMN_IN, FONT_PT
from prunebook.networks import ImpalaCNN, MinAtarCNN
from prunebook.pruning import (
    GMPSchedule,
    apply_masks,
    gmp,
    layer_sparsities,
    sparsity_report,
)
from prunebook.spec import FRAME_SKIP

AGENT_STEPS_PER_UPDATE = 4  # Dopamine's update_period (replay ratio 0.25)
FRAMES_PER_UPDATE = FRAME_SKIP * AGENT_STEPS_PER_UPDATE

# Gradient updates of the 40M- and 100M-frame runs (Fig. 2 and Fig. 10 of the paper).
RUN_UPDATES = {"40M frames": 40_000_000 // FRAMES_PER_UPDATE,
               "100M frames": 100_000_000 // FRAMES_PER_UPDATE}

# Updates of chapter 0's tiny training demo, per preset.
TINY_UPDATES = {"ci": 300, "cpu": 3000, "paper": 10_000}


def layer_name(path: str) -> str:
    """'['params']['QHead_0']['Dense_0']['kernel']' -> 'QHead_0/Dense_0'."""
    keys = re.findall(r"\['([^']+)'\]", path) or [path]
    return "/".join(k for k in keys if k not in ("params", "kernel"))


def figure2_schedules(final_sparsity: float = 0.95) -> dict[str, GMPSchedule]:
    """The paper's two schedules: prune from 20% to 80% of a 40M- or 100M-frame run."""
    return {f"{name} schedule": GMPSchedule.from_run_length(final_sparsity, updates)
            for name, updates in RUN_UPDATES.items()}


def schedule_curve(schedule: GMPSchedule, total_updates: int) -> tuple[np.ndarray, np.ndarray]:
    """The staircase sparsity at every mask-update boundary in [0, total_updates].

    Returns (updates, sparsity); draw it with `step(..., where="post")`.
    """
    updates = np.arange(0, total_updates + 1, schedule.update_every)
    return updates, np.asarray(schedule.sparsity_at(updates))


def schedule_key_values(schedule: GMPSchedule, total_updates: int) -> pd.DataFrame:
    """Start, quarter points and end of the pruning window in updates, agent steps and frames."""
    span = schedule.end_update - schedule.start_update
    points = {"start of pruning": schedule.start_update}
    for q in (1, 2, 3):
        points[f"{25 * q}% of the window"] = schedule.start_update + q * span // 4
    points["end of pruning"] = schedule.end_update
    points["end of training"] = total_updates
    rows = []
    for event, update in points.items():
        rows.append({
            "event": event,
            "update": update,
            "agent steps": update * AGENT_STEPS_PER_UPDATE,
            "frames (M)": update * FRAMES_PER_UPDATE / 1e6,
            "% of training": 100 * update / total_updates,
            "sparsity": float(schedule.sparsity_at(update)),
        })
    return pd.DataFrame(rows).set_index("event")


def plot_schedules(ax, schedules: dict[str, GMPSchedule], total_updates: int) -> None:
    """Sparsity (%) against frames, as the paper's Figure 2."""
    for name, schedule in schedules.items():
        updates, sparsity = schedule_curve(schedule, total_updates)
        ax.step(updates * FRAMES_PER_UPDATE / 1e6, 100 * sparsity, where="post", label=name)
    ax.set_xlabel("frames (millions)")
    ax.set_ylabel("sparsity (%)")
    ax.set_xlim(0, total_updates * FRAMES_PER_UPDATE / 1e6)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")


def impala_param_shapes(width: int, num_actions: int = 18):
    """Shapes of `ImpalaCNN(num_actions, width)`'s parameters, initialised on a (1, 84, 84, 4)
    uint8 observation without allocating them (`jax.eval_shape`)."""
    net = ImpalaCNN(num_actions, width=width)
    obs = jnp.zeros((1, 84, 84, 4), jnp.uint8)
    return jax.eval_shape(net.init, jax.random.key(0), obs)


def _kernels(shapes):
    for path, leaf in jax.tree_util.tree_flatten_with_path(shapes)[0]:
        if len(leaf.shape) > 1:
            yield path, leaf


def allocation_table(shapes, sparsities, allocation: str = "erk") -> pd.DataFrame:
    """One row per kernel: its shape, weight count and per-layer sparsity at each final sparsity."""
    columns = {s: jax.tree_util.tree_flatten_with_path(layer_sparsities(shapes, s, allocation))[0]
               for s in sparsities}
    per_path = {s: {jax.tree_util.keystr(p): v for p, v in flat} for s, flat in columns.items()}
    rows = []
    for path, leaf in _kernels(shapes):
        key = jax.tree_util.keystr(path)
        row = {"layer": layer_name(key), "shape": str(tuple(leaf.shape)),
               "weights": int(np.prod(leaf.shape))}
        row.update({f"s={s:g}": per_path[s][key] for s in sparsities})
        rows.append(row)
    return pd.DataFrame(rows).set_index("layer")


def kept_weights(table: pd.DataFrame) -> dict[str, int]:
    """Kernel weights kept by each column of `allocation_table` (per-layer top-k rounding)."""
    out = {"all kernels": int(table["weights"].sum())}
    for col in (c for c in table.columns if c.startswith("s=")):
        kept = np.maximum(1, np.round(table["weights"] * (1.0 - table[col])))
        out[f"kept at {col}"] = int(kept.sum())
    return out


def kept_summary(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per width: all kernel weights, and the kept count at each sparsity, also as a percentage
    of the narrowest network's dense kernel weights (the paper's baseline is the dense x1)."""
    base = min(tables)
    dense_base = kept_weights(tables[base])["all kernels"]
    rows = {}
    for width, table in tables.items():
        kept = kept_weights(table)
        row = {"kernel weights": kept.pop("all kernels")}
        for column, n in kept.items():
            row[column] = n
            row[column.replace("kept", f"% of dense x{base}")] = round(100 * n / dense_base, 1)
        rows[f"x{width}"] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("width")


@dataclasses.dataclass
class TinyRun:
    """A tiny regression network trained with `gmp(optax.adam(...))`.

    measured/scheduled: index = gradient updates done; columns = kernels + 'total'; values =
    fraction of exact zeros after `apply_masks` vs. what the schedule prescribes.
    """

    schedule: GMPSchedule
    targets: dict[str, float]  # final per-layer sparsity (the allocation's targets)
    shapes: dict[str, tuple]
    measured: pd.DataFrame
    scheduled: pd.DataFrame
    loss: np.ndarray  # (num_updates,)
    final_report: dict[str, float]

    def max_gap_weights(self) -> dict[str, float]:
        """Per kernel, the largest |measured - scheduled| sparsity over the run, in weights."""
        return {name: float((self.measured[name] - self.scheduled[name]).abs().max()
                            * np.prod(shape)) for name, shape in self.shapes.items()}


def train_tiny_gmp(final_sparsity: float, num_updates: int, seed: int = 0, width: int = 1,
                   allocation: str = "erk", batch_size: int = 32, num_examples: int = 1024,
                   learning_rate: float = 1e-3, num_records: int = 200) -> TinyRun:
    """Regress random targets from random MinAtar-like {0,1} 10x10x4 inputs with a pruned
    MinAtarCNN, pruning from 20% to 80% of `num_updates`; record the sparsity of every kernel
    `num_records` times. Masks are recomputed every 4 records (2% of the run at the default),
    so the staircase is fine enough to show Eq. 1's shape.

    The task only gives the weights non-trivial magnitudes; the point is that the measured
    sparsity follows `GMPSchedule.sparsity_at` layer by layer.
    """
    num_actions = 4
    rng = np.random.default_rng(seed)
    inputs = jnp.asarray(rng.random((num_examples, 10, 10, 4)) < 0.1, jnp.float32)
    targets = jnp.asarray(rng.standard_normal((num_examples, num_actions)), jnp.float32)
    net = MinAtarCNN(num_actions, width=width)
    every = max(1, num_updates // num_records)  # updates between two records
    schedule = GMPSchedule.from_run_length(final_sparsity, num_updates, update_every=4 * every)
    tx = gmp(optax.adam(learning_rate), schedule, allocation)
    key = jax.random.key(seed)
    key, init_key = jax.random.split(key)
    params = net.init(init_key, inputs[:1])
    opt_state = tx.init(params)

    def loss_fn(params, x, y):
        return jnp.mean((net.apply(params, x).q_values - y) ** 2)

    def one_update(carry, key):
        params, opt_state = carry
        idx = jax.random.randint(key, (batch_size,), 0, num_examples)
        loss, grads = jax.value_and_grad(loss_fn)(params, inputs[idx], targets[idx])
        updates, opt_state = tx.update(grads, opt_state, params)
        params = apply_masks(optax.apply_updates(params, updates), opt_state)
        return (params, opt_state), loss

    @jax.jit
    def run_chunk(params, opt_state, keys):
        (params, opt_state), losses = jax.lax.scan(one_update, (params, opt_state), keys)
        return params, opt_state, losses

    names = {k: layer_name(k) for k in sparsity_report(params) if k != "total"}
    layer_targets = jax.tree_util.tree_flatten_with_path(opt_state.target_sparsities)[0]
    targets_by_name = {layer_name(jax.tree_util.keystr(p)): float(t) for p, t in layer_targets
                       if jax.tree_util.keystr(p) in names}
    shapes = {layer_name(jax.tree_util.keystr(p)): tuple(leaf.shape)
              for p, leaf in jax.tree_util.tree_flatten_with_path(params)[0] if leaf.ndim > 1}

    def record(done):
        report = sparsity_report(params)
        measured = {names[k]: v for k, v in report.items() if k != "total"}
        measured["total"] = report["total"]
        fraction = float(schedule.sparsity_at(done - 1)) / final_sparsity if done and \
            final_sparsity > 0 else 0.0
        scheduled = {name: t * fraction for name, t in targets_by_name.items()}
        scheduled["total"] = final_sparsity * fraction
        return measured, scheduled

    rows_m, rows_s, losses, done = {}, {}, [], 0
    rows_m[0], rows_s[0] = record(0)
    while done < num_updates:
        n = min(every, num_updates - done)
        key, chunk_key = jax.random.split(key)
        params, opt_state, chunk_losses = run_chunk(params, opt_state,
                                                    jax.random.split(chunk_key, n))
        losses.append(np.asarray(chunk_losses))
        done += n
        rows_m[done], rows_s[done] = record(done)
    measured = pd.DataFrame.from_dict(rows_m, orient="index").rename_axis("updates")
    scheduled = pd.DataFrame.from_dict(rows_s, orient="index").rename_axis("updates")
    # `scheduled["total"]` is the uniform staircase; ERK's kept-count matches it up to rounding.
    return TinyRun(schedule, targets_by_name, shapes, measured, scheduled,
                   np.concatenate(losses), sparsity_report(params))


def figure_tiny_run(run: TinyRun, title: str):
    """The tiny run in one figure the book's column wide (text :data:`FONT_PT` and up): left,
    measured sparsity per kernel (thin) over the schedule (wide, pale), the network's total
    dashed on top (the largest kernel's line runs under it); right, the training loss. The
    legend sits under both panels."""
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.6), width_ratios=[1.4, 1])
    ax = axes[0]
    for i, name in enumerate(run.measured.columns):
        color = "black" if name == "total" else f"C{i}"
        target = run.targets.get(name, run.schedule.final_sparsity)
        ax.step(run.scheduled.index, 100 * run.scheduled[name], where="post", color=color,
                linewidth=6, alpha=0.25)
        ax.step(run.measured.index, 100 * run.measured[name], where="post", color=color,
                linewidth=1.2, linestyle=(0, (4, 3)) if name == "total" else "-", zorder=3,
                label=f"{name} (target {100 * target:.1f}%)")
    ax.plot([], [], color="grey", linewidth=6, alpha=0.25, label="schedule (pale band)")
    for edge in (run.schedule.start_update, run.schedule.end_update):
        ax.axvline(edge, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel="gradient updates", ylabel="sparsity (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    axes[1].plot(np.arange(1, run.loss.size + 1), run.loss, linewidth=0.8)
    axes[1].set(yscale="log", xlabel="gradient updates", ylabel="training loss (MSE)")
    axes[1].grid(alpha=0.3)
    for a in axes:
        a.tick_params(labelsize=FONT_PT)
        a.xaxis.label.set_fontsize(FONT_PT)
        a.yaxis.label.set_fontsize(FONT_PT)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, fontsize=FONT_PT)
    fig.suptitle(title, fontsize=FONT_PT + 2)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.33, wspace=0.35)
    return fig


def result_box(run: TinyRun, final_sparsity: float, allocation: str, width: int) -> str:
    """Chapter 0's opening box (Markdown): does the wrapper follow the schedule, in weights?"""
    gaps = run.max_gap_weights()
    worst = max(gaps.values()) if gaps else float("nan")
    total = run.final_report["total"]
    follows = worst < 1 and abs(total - final_sparsity) < 1e-3
    sched = run.schedule
    lines = [
        "**Does our gradual magnitude pruning follow the paper's schedule (Eq. 1, Figure 2) "
        "and its per-layer split?**", "",
        f"**Answer:** {'yes' if follows else 'no'}. In a {len(run.loss):,}-update run of the "
        f"×{width} MinAtar network pruned to {final_sparsity:.0%} ({allocation.upper()} split, "
        f"pruning from update {sched.start_update:,} to {sched.end_update:,}), every layer's "
        f"measured sparsity stayed within {worst:.2f} weights of the schedule over the whole "
        f"run, and the network ended at {total:.4f} total sparsity.", "",
        "**What it is for:** the paper gives no number to reproduce here; this chapter checks "
        "the tool every later chapter uses (same code, `final_sparsity=0` for dense networks).",
    ]
    return "\n".join("> " + line if line else ">" for line in lines) + "\n"
