"""prunebook: reproduce 'In value-based deep RL, a pruned network is a good network', and
prune your own JAX network.

Installed alone (`pip install .` from a checkout of the book; it is not on PyPI) it is the
library: `prunebook.pruning` (re-exported here), `networks`, `agents`, `measures` and
`analysis.stats`. Environments, the book's analysis and the book itself are extras
(`pip install '.[envs]'`, `[analysis]`, `[book]`; see `extras`).
"""

from prunebook.pruning import (
    ALLOCATIONS,
    GMPSchedule,
    GMPState,
    apply_masks,
    apply_masks_nnx,
    check_masked,
    erk_sparsities,
    find_state,
    fixed_masks,
    flat_masks,
    global_topk_masks,
    gmp,
    is_kernel,
    layer_sparsities,
    leaf_name,
    masks_from_flat,
    one_shot_masks,
    random_masks,
    sparsity_report,
    topk_mask,
    uniform_sparsities,
)

__version__ = "0.2.0"

__all__ = [
    "ALLOCATIONS", "GMPSchedule", "GMPState", "__version__", "apply_masks", "apply_masks_nnx",
    "check_masked", "erk_sparsities", "find_state", "fixed_masks", "flat_masks",
    "global_topk_masks", "gmp", "is_kernel", "layer_sparsities", "leaf_name",
    "masks_from_flat", "one_shot_masks", "random_masks", "sparsity_report", "topk_mask",
    "uniform_sparsities",
]
