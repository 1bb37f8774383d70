"""Gradual magnitude pruning (GMP) as an optax wrapper, exactly as the paper ran it.

The paper (Eq. 1) prunes with Zhu & Gupta's polynomial schedule through JaxPruner. We
re-implement the ~150 lines it needs (dossier §3.2, §6.1: jaxpruner is not on PyPI and calls
the removed `jax.tree_map`):

* `GMPSchedule`     -- jaxpruner's `PolynomialSchedule`: progress counted from `update + 1`,
                       masks recomputed only every `update_every` updates inside [start, end].
* `erk_sparsities`  -- `sparsity_distributions.erk` (Erdos-Renyi-Kernel per-layer targets).
* `topk_mask`       -- layer-wise magnitude top-k (`mask_calculator`), deterministic ties.
* `gmp(inner, ...)` -- `BaseUpdater.wrap_optax`: masks and the update counter live in the
                       optimizer state; `apply_masks` is `post_gradient_update`.
* `fixed_masks`     -- the same state with masks fixed from step 0 (chapter 6's controls:
                       `random_masks` for static random sparsity, a donor's final masks for
                       the lottery ticket).

Every kernel (ndim > 1: all conv and dense layers, first and last included) is prunable;
biases never are. A dense baseline is `final_sparsity=0` through the same code path.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from prunebook.spec import ALLOCATIONS


@dataclasses.dataclass(frozen=True)
class GMPSchedule:
    """Polynomial sparsity schedule over *gradient updates* (paper Eq. 1)."""

    final_sparsity: float
    start_update: int
    end_update: int
    update_every: int = 1000
    power: int = 3

    def __post_init__(self):
        if not 0.0 <= self.final_sparsity < 1.0:
            raise ValueError(f"final_sparsity must be in [0, 1), got {self.final_sparsity}")
        if self.start_update < 0 or self.end_update <= self.start_update:
            raise ValueError(
                f"need 0 <= start_update < end_update, got {self.start_update}, {self.end_update}")
        if self.update_every <= 0:
            raise ValueError(f"update_every must be positive, got {self.update_every}")
        if self.power <= 0:
            raise ValueError(f"power must be positive, got {self.power}")

    @classmethod
    def from_run_length(cls, final_sparsity: float, total_updates: int, start_frac: float = 0.2,
                        end_frac: float = 0.8, update_every: int = 1000) -> GMPSchedule:
        """The paper's default: prune from 20% to 80% of the run's gradient updates.

        Start and end are rounded to multiples of `update_every` (so the last mask update lands
        exactly on `end_update` and reaches `final_sparsity`, as in the paper's 500k/2M).
        """
        if total_updates <= 0:
            raise ValueError(f"total_updates must be positive, got {total_updates}")
        if not 0.0 <= start_frac < end_frac <= 1.0:
            raise ValueError(f"need 0 <= start_frac < end_frac <= 1, got {start_frac}, {end_frac}")
        every = max(1, min(update_every, int(total_updates * (end_frac - start_frac)) // 4))
        start = int(round(total_updates * start_frac / every)) * every
        end = max(start + every, int(round(total_updates * end_frac / every)) * every)
        return cls(final_sparsity, start, end, every)

    def fraction_at(self, update):
        """Eq. 1 without the staircase, as a fraction of the final value (jittable)."""
        span = self.end_update - self.start_update
        progress = jnp.clip(update + 1 - self.start_update, 0, span) / span
        return 1.0 - (1.0 - progress) ** self.power

    def target_at(self, update):
        return self.final_sparsity * self.fraction_at(update)

    def is_mask_update(self, update):
        return ((update % self.update_every) == 0) & (update >= self.start_update) & (
            update <= self.end_update)

    def sparsity_at(self, update):
        """Sparsity of the masks in force for update `update` (the staircase; jittable).

        Masks are recomputed at `update` when `is_mask_update(update)`, so this is the target
        at the latest mask-update step <= update, and 0 before the first one.
        """
        update = jnp.asarray(update)
        last = jnp.minimum(update, self.end_update)
        last = last - last % self.update_every
        first = -(-self.start_update // self.update_every) * self.update_every
        return jnp.where(update >= first, self.target_at(last), 0.0)


def _prunable(leaf) -> bool:
    return getattr(leaf, "ndim", 0) > 1


def uniform_sparsities(params, sparsity: float):
    """Every kernel gets `sparsity`; biases 0."""
    return jax.tree.map(lambda p: float(sparsity) if _prunable(p) else 0.0, params)


def erk_sparsities(params, sparsity: float, power_scale: float = 1.0):
    """Erdos-Renyi-Kernel allocation (Evci et al. 2020), as jaxpruner's `erk`.

    Density of a kernel is proportional to sum(shape)/prod(shape); layers whose density would
    exceed 1 are made dense and the scale re-solved, so the kept count over all kernels is
    (1 - sparsity) of their total.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    leaves, treedef = jax.tree.flatten(params)
    shapes = {i: tuple(p.shape) for i, p in enumerate(leaves) if _prunable(p)}
    dense: set[int] = set()
    while True:
        divisor, rhs, raw = 0.0, 0.0, {}
        for i, shape in shapes.items():
            n = float(np.prod(shape))
            if i in dense:
                rhs -= n * sparsity
            else:
                rhs += n * (1.0 - sparsity)
                raw[i] = (np.sum(shape) / n) ** power_scale
                divisor += raw[i] * n
        eps = rhs / divisor if divisor > 0 else 0.0
        max_raw = max(raw.values()) if raw else 0.0
        if raw and max_raw * eps > 1.0:
            dense.update(i for i, r in raw.items() if r == max_raw)
        else:
            break
    out = [0.0] * len(leaves)
    for i in shapes:
        out[i] = 0.0 if i in dense else float(1.0 - eps * raw[i])
    return jax.tree.unflatten(treedef, out)


def layer_sparsities(params, sparsity: float, allocation: str = "erk"):
    if allocation == "erk":
        return erk_sparsities(params, sparsity)
    if allocation == "uniform":
        return uniform_sparsities(params, sparsity)
    raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")


def _sortable_uint32(x: jax.Array) -> jax.Array:
    """Map float32 to uint32 so that unsigned integer order equals float order."""
    x = jnp.where(x == 0, 0.0, x).astype(jnp.float32)  # -0.0 and 0.0 are equal scores
    bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
    negative = (bits >> 31) == 1
    return jnp.where(negative, ~bits, bits | jnp.uint32(0x80000000))


def topk_mask(scores: jax.Array, sparsity) -> jax.Array:
    """Keep the `max(1, round(size * (1 - sparsity)))` largest scores of one tensor.

    Ties are broken by flat index (lower index kept first), i.e. exactly the top-k of a stable
    descending sort, which is jaxpruner's rule. Instead of sorting (slow on XLA:CPU), the k-th
    largest value is found bit by bit over the scores' sortable integer keys: 32 counting
    passes, exact for any k, and k may be a traced value.
    """
    flat = _sortable_uint32(scores.reshape(-1))
    num_ones = jnp.maximum(1, jnp.round(flat.size * (1.0 - sparsity))).astype(jnp.int32)

    def bit(i, threshold):
        candidate = threshold | (jnp.uint32(1) << jnp.asarray(31 - i, jnp.uint32))
        enough = (flat >= candidate).sum(dtype=jnp.int32) >= num_ones
        return jnp.where(enough, candidate, threshold)

    kth = jax.lax.fori_loop(0, 32, bit, jnp.uint32(0))  # the k-th largest key
    above = flat > kth
    ties = flat == kth
    tie_rank = jnp.cumsum(ties, dtype=jnp.int32)  # 1-based rank among ties, in index order
    keep = above | (ties & (tie_rank <= num_ones - above.sum(dtype=jnp.int32)))
    return keep.reshape(scores.shape)


class GMPState(NamedTuple):
    count: jax.Array  # gradient updates done so far (the schedule's t)
    masks: Any  # pytree like params, 1.0 = kept (dtype of the param)
    target_sparsities: Any  # pytree like params: per-layer final sparsity (0 for biases)
    inner_state: Any


def gmp(inner: optax.GradientTransformation, schedule: GMPSchedule,
        allocation: str = "erk") -> optax.GradientTransformation:
    """Wrap `inner` so its parameters are pruned by gradual magnitude pruning.

    Masks are recomputed from the *current* (already masked) weights on mask-update steps,
    before the inner update, as jaxpruner does; gradients are not masked (Adam moments of
    pruned weights keep moving, as in jaxpruner's default). Call `apply_masks(params, state)`
    after `optax.apply_updates`. Pruned weights score -1, so they are never regrown.
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")

    def init_fn(params):
        targets = layer_sparsities(params, schedule.final_sparsity, allocation)
        return GMPState(
            count=jnp.zeros([], jnp.int32),
            masks=jax.tree.map(jnp.ones_like, params),
            target_sparsities=jax.tree.map(lambda t: jnp.asarray(t, jnp.float32), targets),
            inner_state=inner.init(params),
        )

    def recompute(masks, params, targets, count):
        fraction = schedule.fraction_at(count)

        def one(mask, param, target):
            if not _prunable(param):
                return mask
            scores = jnp.where(mask > 0, jnp.abs(param), -1.0)
            return topk_mask(scores, target * fraction).astype(mask.dtype)

        return jax.tree.map(one, masks, params, targets)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("gmp needs params in update(); pass them to tx.update")
        masks = jax.lax.cond(
            schedule.is_mask_update(state.count),
            lambda m: recompute(m, params, state.target_sparsities, state.count),
            lambda m: m,
            state.masks,
        )
        updates, inner_state = inner.update(updates, state.inner_state, params)
        return updates, GMPState(state.count + 1, masks, state.target_sparsities, inner_state)

    return optax.GradientTransformation(init_fn, update_fn)


def random_masks(params, sparsity: float, allocation: str, key: jax.Array):
    """Masks with `layer_sparsities` per kernel (ERK by default) whose kept weights are drawn
    uniformly at random: the top-k of uniform scores, so every kernel keeps exactly as many
    weights as GMP's final mask of the same target would. Biases are never masked."""
    targets = layer_sparsities(params, sparsity, allocation)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    masks = [topk_mask(jax.random.uniform(k, p.shape), t).astype(p.dtype) if _prunable(p)
             else jnp.ones_like(p)
             for p, t, k in zip(leaves, jax.tree.leaves(targets), keys, strict=True)]
    return jax.tree.unflatten(treedef, masks)


def fixed_masks(inner: optax.GradientTransformation, masks_for, final_sparsity: float,
                allocation: str = "erk") -> optax.GradientTransformation:
    """Sparse training with masks fixed from step 0 (static random sparsity, lottery tickets).

    `masks_for(params)` gives the masks at `init`; they are never recomputed. The state is
    GMP's `GMPState`, so `apply_masks`, sparsity reports and checkpoints work unchanged, and
    the loop zeroes the initial weights with `apply_masks` before the first step.
    """
    def init_fn(params):
        masks = masks_for(params)
        if jax.tree.structure(masks) != jax.tree.structure(params) or any(
                m.shape != p.shape for m, p in zip(jax.tree.leaves(masks),
                                                    jax.tree.leaves(params), strict=True)):
            raise ValueError("fixed masks do not match the parameters' shapes")
        targets = layer_sparsities(params, final_sparsity, allocation)
        return GMPState(
            count=jnp.zeros([], jnp.int32),
            masks=jax.tree.map(lambda m, p: jnp.asarray(m, p.dtype), masks, params),
            target_sparsities=jax.tree.map(lambda t: jnp.asarray(t, jnp.float32), targets),
            inner_state=inner.init(params))

    def update_fn(updates, state, params=None):
        updates, inner_state = inner.update(updates, state.inner_state, params)
        return updates, GMPState(state.count + 1, state.masks, state.target_sparsities,
                                 inner_state)

    return optax.GradientTransformation(init_fn, update_fn)


def flat_masks(masks) -> dict[str, np.ndarray]:
    """{kernel path: bool mask} of every prunable leaf (what a lottery donor stores)."""
    return {jax.tree_util.keystr(path): np.asarray(leaf) > 0
            for path, leaf in jax.tree_util.tree_flatten_with_path(masks)[0] if _prunable(leaf)}


def masks_from_flat(params, flat: dict[str, np.ndarray]):
    """Masks like `params` from `flat_masks` output (biases all kept); a missing kernel or a
    shape mismatch is a ValueError naming the kernel."""
    def one(path, param):
        if not _prunable(param):
            return jnp.ones_like(param)
        name = jax.tree_util.keystr(path)
        if name not in flat or tuple(flat[name].shape) != tuple(param.shape):
            got = flat[name].shape if name in flat else "nothing"
            raise ValueError(f"mask for {name}: expected shape {param.shape}, got {got}")
        return jnp.asarray(flat[name], param.dtype)

    return jax.tree_util.tree_map_with_path(one, params)


def apply_masks(params, opt_state):
    """Zero pruned weights (jaxpruner's `post_gradient_update`); identity without gmp."""
    if not isinstance(opt_state, GMPState):
        return params
    return jax.tree.map(lambda p, m: p * m, params, opt_state.masks)


def sparsity_report(params) -> dict[str, float]:
    """Fraction of exact zeros per prunable kernel, keyed by its path, plus 'total'."""
    report, zeros, total = {}, 0, 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not _prunable(leaf):
            continue
        z = int((np.asarray(leaf) == 0).sum())
        report[jax.tree_util.keystr(path)] = z / leaf.size
        zeros, total = zeros + z, total + leaf.size
    report["total"] = zeros / max(total, 1)
    return report
