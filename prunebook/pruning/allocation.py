"""What may be pruned and how much per layer: the prunable filter, per-layer overrides, stacked
(batched) parameters, and the uniform / ERK / global allocations.

A leaf's *name* is its path's keys joined by "/" (`"params/Dense_0/kernel"`; an NNX
`Variable`'s trailing `value` is dropped). Filters are called as `prunable(name, leaf)`, with
`leaf` one member's shape (leading `batch_ndim` axes removed) so a stacked bias stays a
bias. The default, `is_kernel`, prunes every leaf of 2 or more dimensions (all dense and conv
kernels, first and output layers included) and never a bias or a scale.

ERK (Evci et al. 2020) gives a kernel a density proportional to sum(shape) / prod(shape), so
small layers (a Q-network's (512, 18) output, a first conv) are kept denser and large ones
pruned harder; a layer whose density would exceed 1 is made *fully dense* and the others are
pruned harder to keep the overall count. At 90% sparsity a small output layer is often dense.
Pass `allocation="uniform"` (jaxpruner's default) for the same sparsity in every kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from prunebook.pruning.schedule import check_integer, check_sparsity

ALLOCATIONS = ("erk", "uniform", "global")
Filter = Callable[[str, Any], bool]


def leaf_name(path) -> str:
    """"params/Dense_0/kernel" for a key path (dict keys, attributes, sequence indices)."""
    keys = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                keys.append(str(getattr(key, attr)))
                break
        else:
            keys.append(str(key))
    if len(keys) > 1 and keys[-1] == "value" and type(path[-1]).__name__ == "GetAttrKey":
        keys = keys[:-1]  # an NNX Variable's payload
    return "/".join(keys)


def is_kernel(name: str, leaf) -> bool:
    """The default filter: every leaf with 2 or more dimensions (never a bias)."""
    return len(getattr(leaf, "shape", ())) > 1


class MemberShape:
    """One member's view of a stacked leaf: `.shape` and `.ndim` without the batch axes."""

    def __init__(self, leaf, batch_ndim: int):
        self.shape = tuple(np.shape(leaf))[batch_ndim:]
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape))
        self.dtype = getattr(leaf, "dtype", None)


def normalise_overrides(overrides) -> dict[str, float]:
    """{leaf name: sparsity}; keys may be names, key tuples or `jax.tree_util.keystr` strings."""
    out = {}
    for key, value in dict(overrides or {}).items():
        if isinstance(key, tuple):
            name = "/".join(str(k) for k in key)
        elif key.startswith("["):
            name = "/".join(k.strip("'\"") for k in key[1:-1].split("]["))
        else:
            name = key
        out[name] = check_sparsity(f"overrides[{key!r}]", value)
    return out


def selection(params, prunable: Filter = is_kernel, overrides=None, batch_ndim: int = 0):
    """[(name, member shape, prunable?)] per leaf of `params`, in `jax.tree.leaves` order.

    A leaf named in `overrides` is prunable whatever the filter says; an override naming no
    leaf is an error (a typo must not leave a layer dense)."""
    check_integer("batch_ndim", batch_ndim)
    overrides = normalise_overrides(overrides)
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name, member = leaf_name(path), MemberShape(leaf, batch_ndim)
        out.append((name, member, name in overrides or bool(prunable(name, member))))
    unknown = set(overrides) - {name for name, _, _ in out}
    if unknown:
        raise ValueError(f"overrides name no parameter: {sorted(unknown)}; parameters are "
                         f"{[name for name, _, _ in out]}")
    return out


def erk_densities(shapes: Mapping[Any, tuple], sparsity: float, power_scale: float = 1.0):
    """{key: sparsity} of Erdos-Renyi-Kernel over `shapes`: density ∝ (sum/prod)**power_scale,
    layers that would exceed density 1 made dense and the scale re-solved, so the kept count
    over all the layers is (1 - sparsity) of their total. `power_scale < 1` flattens ERK
    towards uniform (0 is uniform)."""
    dense: set = set()
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
    return {i: 0.0 if i in dense else float(1.0 - eps * raw[i]) for i in shapes}


def layer_sparsities(params, sparsity: float, allocation: str = "erk", *,
                     prunable: Filter = is_kernel, overrides=None, batch_ndim: int = 0,
                     erk_power_scale: float = 1.0):
    """Per-leaf target sparsity, a pytree like `params` of floats (0 for leaves not pruned).

    `allocation`: "erk" (the paper's, the default here), "uniform" (`sparsity` in every
    prunable leaf; jaxpruner's default) or "global" (`sparsity` over all prunable leaves
    together: the per-layer split is decided by one magnitude threshold, `gmp` does it).
    Leaves in `overrides` get their own sparsity and are left out of the allocation, as
    jaxpruner's `custom_sparsity_map`."""
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    sparsity = check_sparsity("sparsity", sparsity)
    chosen = selection(params, prunable, overrides, batch_ndim)
    overrides = normalise_overrides(overrides)
    free = {i: member.shape for i, (name, member, ok) in enumerate(chosen)
            if ok and name not in overrides}
    if allocation == "erk":
        targets = erk_densities(free, sparsity, erk_power_scale)
    else:
        targets = dict.fromkeys(free, sparsity)
    out = [overrides.get(name, targets.get(i, 0.0)) for i, (name, _, _) in enumerate(chosen)]
    return jax.tree.unflatten(jax.tree.structure(params), out)


def uniform_sparsities(params, sparsity: float, **selection_kwargs):
    """Every prunable leaf gets `sparsity`; the others 0."""
    return layer_sparsities(params, sparsity, "uniform", **selection_kwargs)


def erk_sparsities(params, sparsity: float, power_scale: float = 1.0, **selection_kwargs):
    """Erdos-Renyi-Kernel allocation (jaxpruner's `erk`, with `erk_power_scale`)."""
    return layer_sparsities(params, sparsity, "erk", erk_power_scale=power_scale,
                            **selection_kwargs)
