"""Magnitude pruning for any JAX network, as an optax wrapper (`gmp`), exactly as the paper
ran it (Zhu & Gupta's schedule through jaxpruner, re-implemented: jaxpruner is not on PyPI)::

    tx = gmp(optax.adam(1e-3), GMPSchedule(0.9, start_update=1_000, end_update=8_000,
                                           update_every=500), allocation="erk")
    opt_state = tx.init(params)
    ...
    updates, opt_state = tx.update(grads, opt_state, params)
    params = apply_masks(optax.apply_updates(params, updates), opt_state)

* `schedule`: `GMPSchedule` (paper Eq. 1, jaxpruner's `PolynomialSchedule`) and
  `GMPSchedule.one_shot`.
* `allocation`: what may be pruned (`prunable` filter, `overrides`, `batch_ndim`) and how much
  per layer (`uniform`, `erk` with `erk_power_scale`, `global`).
* `topk`: exact magnitude top-k with jaxpruner's tie rule, per member, or global.
* `wrapper`: `gmp`, `fixed_masks`, `random_masks`, `one_shot_masks`; masks and the update
  counter live in the optimizer state (`GMPState`).
* `state`: `apply_masks` (finds the state anywhere in the optimizer state), `apply_masks_nnx`,
  `check_masked`, `flat_masks` / `masks_from_flat`, `sparsity_report`.

A dense baseline is `final_sparsity=0` through the same code path.
"""

from prunebook.pruning.allocation import (
    ALLOCATIONS,
    erk_sparsities,
    is_kernel,
    layer_sparsities,
    leaf_name,
    uniform_sparsities,
)
from prunebook.pruning.schedule import GMPSchedule
from prunebook.pruning.state import (
    apply_masks,
    apply_masks_nnx,
    check_masked,
    find_state,
    flat_masks,
    masks_from_flat,
    sparsity_report,
)
from prunebook.pruning.topk import global_topk_masks, topk_mask
from prunebook.pruning.wrapper import (
    GMPState,
    fixed_masks,
    gmp,
    one_shot_masks,
    random_masks,
)

__all__ = [
    "ALLOCATIONS", "GMPSchedule", "GMPState", "apply_masks", "apply_masks_nnx", "check_masked",
    "erk_sparsities", "find_state", "fixed_masks", "flat_masks", "global_topk_masks", "gmp",
    "is_kernel", "layer_sparsities", "leaf_name", "masks_from_flat", "one_shot_masks",
    "random_masks", "sparsity_report", "topk_mask", "uniform_sparsities",
]
