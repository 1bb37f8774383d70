"""Pruning as an optax wrapper: `gmp` (gradual magnitude pruning) and `fixed_masks`.

Masks, the update counter and the per-leaf targets live in the optimizer state (`GMPState`),
so the wrapper can sit anywhere in an optax chain and any agent gets pruning by swapping its
optimizer. The parameters are masked by one explicit call after each update,
`apply_masks(params, opt_state)` (jaxpruner's `post_gradient_update`), which finds the state
wherever it is and raises when there is none; see `prunebook.pruning.state` for why.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from prunebook.pruning.allocation import (
    ALLOCATIONS,
    Filter,
    is_kernel,
    layer_sparsities,
    normalise_overrides,
    selection,
)
from prunebook.pruning.control import run_if
from prunebook.pruning.schedule import GMPSchedule, check_sparsity
from prunebook.pruning.topk import batched_topk_mask, global_topk_masks


class GMPState(NamedTuple):
    """The pruning wrapper's optimizer state: everything pruning needs lives here, so a
    checkpoint of the train state holds it and any agent gets pruning by swapping its optimizer.

    ``count``: gradient updates done so far, the schedule's clock (when to recompute masks and
    at what sparsity). ``masks``: the current 0/1 masks, a pytree like the params, applied by
    `apply_masks` after each update. ``target_sparsities``: each leaf's final sparsity, fixed at
    init by the allocation, so the schedule scales one number per leaf. ``inner_state``: the
    wrapped optimizer's own state (e.g. Adam's moments).
    """

    count: jax.Array  # gradient updates done so far (the schedule's t)
    masks: Any  # pytree like params, 1.0 = kept (dtype of the param)
    target_sparsities: Any  # pytree like params: per-leaf final sparsity (0 if not pruned)
    inner_state: Any


def check_inner(inner) -> None:
    if not (callable(getattr(inner, "init", None)) and callable(getattr(inner, "update", None))):
        raise TypeError(f"inner must be an optax.GradientTransformation (e.g. optax.adam(1e-3)),"
                        f" got {type(inner).__name__}")


def check_allocation(allocation: str) -> None:
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")


def masks_from_scores(scores: list, targets: list, chosen: list, allocation: str, sparsity,
                      overrides: dict, batch_ndim: int) -> list:
    """Boolean keep-masks (None for leaves not pruned) from per-leaf scores: top-k per leaf
    at its target, or one global top-k over the leaves the allocation shares."""
    out = [None] * len(scores)
    pooled = [i for i, (name, _, ok) in enumerate(chosen)
              if ok and allocation == "global" and name not in overrides]
    for i, (_, _, ok) in enumerate(chosen):
        if ok and i not in pooled:
            out[i] = batched_topk_mask(scores[i], targets[i], batch_ndim)
    if pooled:
        for i, keep in zip(pooled, global_topk_masks([scores[i] for i in pooled], sparsity,
                                                     batch_ndim), strict=True):
            out[i] = keep
    return out


def gmp(inner: optax.GradientTransformation, schedule: GMPSchedule, allocation: str = "erk",
        *, prunable: Filter = is_kernel, overrides=None, batch_ndim: int = 0,
        erk_power_scale: float = 1.0) -> optax.GradientTransformation:
    """Wrap `inner` so its parameters are pruned by gradual magnitude pruning.

    On mask-update steps of `schedule`, before the inner update, each prunable leaf keeps its
    largest-magnitude weights among those still kept (pruned weights are never regrown) at
    `target * schedule.fraction_at(count)`. Gradients are not masked (Adam moments of pruned
    weights keep moving, as in jaxpruner's default). After `optax.apply_updates`, call
    `apply_masks(params, opt_state)`.

    * `allocation`: "erk" (the paper's; small layers kept denser, possibly fully dense),
      "uniform" (jaxpruner's default) or "global" (one magnitude top-k over all prunable
      leaves).
    * `prunable`: `prunable(name, leaf) -> bool`, leaf names like "params/Dense_0/kernel";
      default every leaf with 2+ dims of a member, never a bias.
    * `overrides`: {leaf name: final sparsity} taken out of the allocation (jaxpruner's
      `custom_sparsity_map`); an unknown name is an error.
    * `batch_ndim`: leading axes that stack independent members (e.g. an ensemble or
      `vmap`-ed seeds): top-k and allocation are per member, a stacked bias is still a bias.
    * `erk_power_scale`: ERK's exponent on sum(shape)/prod(shape); < 1 is closer to uniform.
    """
    check_inner(inner)
    if not isinstance(schedule, GMPSchedule):
        raise TypeError(f"schedule must be a GMPSchedule, got {type(schedule).__name__} "
                        f"{schedule!r}")
    check_allocation(allocation)
    select = dict(prunable=prunable, overrides=overrides, batch_ndim=batch_ndim)
    named_overrides = normalise_overrides(overrides)

    def init_fn(params):
        targets = layer_sparsities(params, schedule.final_sparsity, allocation,
                                   erk_power_scale=erk_power_scale, **select)
        return GMPState(
            count=jnp.zeros([], jnp.int32),
            masks=jax.tree.map(jnp.ones_like, params),
            target_sparsities=jax.tree.map(lambda t: jnp.asarray(t, jnp.float32), targets),
            inner_state=inner.init(params),
        )

    def recompute(masks, params, targets, count):
        fraction = schedule.fraction_at(count)
        chosen = selection(params, **select)
        mask_leaves, treedef = jax.tree.flatten(masks)
        scores = [jnp.where(m > 0, jnp.abs(p), -1.0) if ok else None for m, p, (_, _, ok)
                  in zip(mask_leaves, jax.tree.leaves(params), chosen, strict=True)]
        keep = masks_from_scores(scores, [t * fraction for t in jax.tree.leaves(targets)],
                                 chosen, allocation, schedule.final_sparsity * fraction,
                                 named_overrides, batch_ndim)
        return jax.tree.unflatten(treedef, [m if k is None else k.astype(m.dtype)
                                            for m, k in zip(mask_leaves, keep, strict=True)])

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("gmp needs params in update(); pass them to tx.update")
        masks = run_if(schedule.is_mask_update(state.count),
                       lambda m: recompute(m, params, state.target_sparsities, state.count),
                       state.masks)
        updates, inner_state = inner.update(updates, state.inner_state, params)
        return updates, GMPState(state.count + 1, masks, state.target_sparsities, inner_state)

    return optax.GradientTransformation(init_fn, update_fn)


def random_masks(params, sparsity: float, allocation: str = "erk", key: jax.Array | None = None,
                 *, prunable: Filter = is_kernel, overrides=None, batch_ndim: int = 0,
                 erk_power_scale: float = 1.0):
    """Masks with `layer_sparsities(params, sparsity, allocation)` per prunable leaf (ERK by
    default) whose kept weights are drawn uniformly at random with `key` (required): the
    top-k of uniform scores, so every leaf keeps exactly as many weights as GMP's final mask
    of the same target would. Leaves not pruned (biases) are all ones."""
    if key is None:
        raise TypeError("random_masks needs a PRNG key: random_masks(params, s, 'erk', key)")
    check_allocation(allocation)
    select = dict(prunable=prunable, overrides=overrides, batch_ndim=batch_ndim)
    targets = layer_sparsities(params, sparsity, allocation, erk_power_scale=erk_power_scale,
                               **select)
    leaves, treedef = jax.tree.flatten(params)
    chosen = selection(params, **select)
    keys = jax.random.split(key, len(leaves))
    scores = [jax.random.uniform(k, p.shape) if ok else None
              for p, k, (_, _, ok) in zip(leaves, keys, chosen, strict=True)]
    keep = masks_from_scores(scores, jax.tree.leaves(targets), chosen, allocation, sparsity,
                             normalise_overrides(overrides), batch_ndim)
    return jax.tree.unflatten(treedef, [jnp.ones_like(p) if k is None else k.astype(p.dtype)
                                        for p, k in zip(leaves, keep, strict=True)])


def one_shot_masks(params, sparsity: float, allocation: str = "erk", *,
                   prunable: Filter = is_kernel, overrides=None, batch_ndim: int = 0,
                   erk_power_scale: float = 1.0):
    """Magnitude masks of `params` now, at `sparsity` (jaxpruner's `instant_sparsify`): prune
    a trained network in one shot, or take a lottery ticket's masks. Multiply to apply:
    `jax.tree.map(lambda p, m: p * m, params, masks)`."""
    check_allocation(allocation)
    check_sparsity("sparsity", sparsity)
    select = dict(prunable=prunable, overrides=overrides, batch_ndim=batch_ndim)
    targets = layer_sparsities(params, sparsity, allocation, erk_power_scale=erk_power_scale,
                               **select)
    leaves, treedef = jax.tree.flatten(params)
    chosen = selection(params, **select)
    scores = [jnp.abs(p) if ok else None for p, (_, _, ok) in zip(leaves, chosen, strict=True)]
    keep = masks_from_scores(scores, jax.tree.leaves(targets), chosen, allocation, sparsity,
                             normalise_overrides(overrides), batch_ndim)
    return jax.tree.unflatten(treedef, [jnp.ones_like(p) if k is None else k.astype(p.dtype)
                                        for p, k in zip(leaves, keep, strict=True)])


def fixed_masks(inner: optax.GradientTransformation, masks_for, final_sparsity: float,
                allocation: str = "erk", *, prunable: Filter = is_kernel, overrides=None,
                batch_ndim: int = 0, erk_power_scale: float = 1.0
                ) -> optax.GradientTransformation:
    """Sparse training with masks fixed from step 0 (static random sparsity, lottery tickets).

    `masks_for(params)` gives the masks at `init` (e.g. `random_masks`, `one_shot_masks` or
    `masks_from_flat` of saved masks); they are never recomputed. The state is GMP's
    `GMPState`, so `apply_masks`, reports and checkpoints work unchanged; call
    `apply_masks(params, opt_state)` once after `init` to zero the pruned initial weights.
    `final_sparsity` and `allocation` only fill `target_sparsities` (what the masks were
    drawn for).
    """
    check_inner(inner)
    check_allocation(allocation)
    if not callable(masks_for):
        raise TypeError("masks_for must be a function params -> masks")
    select = dict(prunable=prunable, overrides=overrides, batch_ndim=batch_ndim)

    def init_fn(params):
        masks = masks_for(params)
        if jax.tree.structure(masks) != jax.tree.structure(params) or any(
                m.shape != p.shape for m, p in zip(jax.tree.leaves(masks),
                                                    jax.tree.leaves(params), strict=True)):
            raise ValueError("fixed masks do not match the parameters' shapes")
        targets = layer_sparsities(params, final_sparsity, allocation,
                                   erk_power_scale=erk_power_scale, **select)
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
