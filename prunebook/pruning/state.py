"""Reading the pruning state back: applying masks, saving and loading them, and reports.

Why an explicit `apply_masks` call rather than a wrapper that masks through its updates: an
update `u' = (p + u) * m - p` is not bit-for-bit `(p + u) * m` once added back in floating
point, and any transformation placed after `gmp` in a chain (a learning-rate scale, a
`MultiSteps` accumulator) would change it again, so masked weights could drift from zero.
Multiplying the parameters after the update is exact wherever `gmp` sits. To make the call
impossible to misuse silently, `apply_masks` searches the whole optimizer state (inside
`optax.chain`, `MultiSteps`, `inject_hyperparams`, `masked`, `nnx.Optimizer`), matches masks
to parameters by path, and raises when it finds no pruning state, several, or masks that
name no parameter. `check_masked` catches a forgotten call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from prunebook.pruning.allocation import Filter, MemberShape, is_kernel, leaf_name
from prunebook.pruning.wrapper import GMPState


def find_state(opt_state) -> GMPState:
    """The one `GMPState` anywhere in `opt_state`; a ValueError if there is none or several."""
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, GMPState))
             if isinstance(s, GMPState)]
    if len(found) != 1:
        raise ValueError(
            f"expected one pruning state (from gmp or fixed_masks) in the optimizer state, "
            f"found {len(found)}: build the optimizer with prunebook.pruning.gmp(...) "
            "(inside optax.chain, MultiSteps, inject_hyperparams... is fine) and pass its "
            "state")
    return found[0]


def apply_masks(params, opt_state):
    """Zero pruned weights (jaxpruner's `post_gradient_update`): call it after every
    `optax.apply_updates` (and once after `init` for `fixed_masks`).

    `opt_state` is any optimizer state holding one `gmp` / `fixed_masks` state, however deep.
    Masks are matched to `params` by path, so a `gmp` under `optax.masked` (masks for part of
    the tree) works. Raises a ValueError when there is no pruning state or a mask has no
    parameter."""
    masks = find_state(opt_state).masks
    if jax.tree.structure(masks) == jax.tree.structure(params):
        return jax.tree.map(lambda p, m: p * m, params, masks)
    by_path = {jax.tree_util.keystr(path): m
               for path, m in jax.tree_util.tree_flatten_with_path(masks)[0]}
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    unused = set(by_path) - {jax.tree_util.keystr(path) for path, _ in flat}
    if unused or not by_path:
        raise ValueError(f"the pruning masks do not match the parameters: no parameter at "
                         f"{sorted(unused)[:3]}; pass the params the optimizer was built on")
    out = [p * by_path[k] if (k := jax.tree_util.keystr(path)) in by_path else p
           for path, p in flat]
    return jax.tree.unflatten(treedef, out)


def apply_masks_nnx(model: nnx.Module, optimizer: nnx.Optimizer) -> None:
    """The NNX path: after `optimizer.update(model, grads)`, zero the pruned weights of
    `model` in place (inside or outside `nnx.jit`)."""
    params = nnx.state(model, optimizer.wrt)
    nnx.update(model, apply_masks(params, optimizer.opt_state))


def check_masked(params, opt_state) -> None:
    """Raise if a weight the masks prune is not zero (a forgotten `apply_masks`). Eager."""
    masks = find_state(opt_state).masks
    by_path = {jax.tree_util.keystr(path): np.asarray(m)
               for path, m in jax.tree_util.tree_flatten_with_path(masks)[0]}
    for path, p in jax.tree_util.tree_flatten_with_path(params)[0]:
        mask = by_path.get(jax.tree_util.keystr(path))
        if mask is not None and np.any(np.asarray(p)[mask == 0] != 0):
            raise ValueError(f"{leaf_name(path)} has non-zero pruned weights: call "
                             "apply_masks(params, opt_state) after every update")


def flat_masks(masks) -> dict[str, np.ndarray]:
    """{kernel path: bool mask} of every leaf with 2+ dims (what a lottery donor stores)."""
    return {jax.tree_util.keystr(path): np.asarray(leaf) > 0
            for path, leaf in jax.tree_util.tree_flatten_with_path(masks)[0] if is_kernel(
                "", leaf)}


def masks_from_flat(params, flat: dict[str, np.ndarray]):
    """Masks like `params` from `flat_masks` output (other leaves all kept); a missing kernel
    or a shape mismatch is a ValueError naming the kernel."""
    def one(path, param):
        if not is_kernel("", param):
            return jnp.ones_like(param)
        name = jax.tree_util.keystr(path)
        if name not in flat or tuple(flat[name].shape) != tuple(param.shape):
            got = flat[name].shape if name in flat else "nothing"
            raise ValueError(f"mask for {name}: expected shape {param.shape}, got {got}")
        return jnp.asarray(flat[name], param.dtype)

    return jax.tree_util.tree_map_with_path(one, params)


def sparsity_report(params, *, prunable: Filter = is_kernel,
                    batch_ndim: int = 0) -> dict[str, float]:
    """Fraction of exact zeros per prunable leaf, keyed by its `keystr` path, plus 'total'
    (zeros over all prunable weights). For stacked members pass `batch_ndim` so stacked
    biases are not counted as kernels; a leaf's fraction is then over all its members."""
    report, zeros, total = {}, 0, 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not prunable(leaf_name(path), MemberShape(leaf, batch_ndim)):
            continue
        z = int((np.asarray(leaf) == 0).sum())
        report[jax.tree_util.keystr(path)] = z / leaf.size
        zeros, total = zeros + z, total + leaf.size
    report["total"] = zeros / max(total, 1)
    return report
