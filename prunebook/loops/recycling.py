"""The paper's Fig 12 baselines that fight plasticity loss by re-initialising weights.

* **Reset** (Nikishin et al. 2022, "primacy bias"): the Q output layer is re-initialised now
  and then; the paper resets the last layer.
* **ReDo** (Sokar et al. 2023): every hidden unit whose dormant score (`measures.unit_scores`)
  is <= tau gets fresh incoming weights, a zero bias and zero outgoing weights, so the network's
  output is unchanged at the moment of recycling while the unit can learn again.

Both zero Adam's first and second moments of every re-initialised or zeroed weight, as
Dopamine's ReDo and Reset do, so stale moments do not push fresh weights; Adam's step count and
GMP's masks and count are left alone. Fresh values come from a second `net.init` with a new
key, i.e. from the network's own initial distribution. Both functions are pure and jittable.

Supported networks are chains: top-level `Conv_k` layers (in k order), then the non-dueling,
non-noisy `QHead_0` (`Dense_0` hidden, `Dense_1` output), as the MinAtar and Nature CNNs are.
Anything else (Impala's residual stacks, dueling or noisy heads) raises a ValueError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from prunebook import measures

Path = tuple[str, ...]
_CONV = re.compile(r"Conv_(\d+)")
_DENSE = re.compile(r"Dense_(\d+)")


def output_layer_path(params: Any) -> Path:
    """Path of the Q output layer in `params`: the last Dense of a two-layer `QHead_0`."""
    head = params.get("params", {}).get("QHead_0") if isinstance(params, Mapping) else None
    names = sorted(head, key=str) if isinstance(head, Mapping) else []
    if names != ["Dense_0", "Dense_1"] or not all(_is_plain_layer(head[n]) for n in names):
        raise ValueError("only a plain QHead_0 (Dense_0 hidden, Dense_1 output) is supported; "
                         f"got QHead_0 layers {names} (dueling and noisy heads are not)")
    return ("params", "QHead_0", "Dense_1")


def reset_output_layer(params: Any, fresh_params: Any, opt_state: Any) -> tuple[Any, Any]:
    """Reset baseline: the output layer takes `fresh_params`' values, its Adam moments 0."""
    flat, fresh = _leaves(params), _leaves(fresh_params)
    new, changed = {}, {}
    for leaf in ("kernel", "bias"):
        path = output_layer_path(params) + (leaf,)
        _check_same_shape(flat, fresh, path)
        new[path] = fresh[path]
        changed[path] = jnp.ones(flat[path].shape, bool)
    return _replace_leaves(params, new), _zero_moments(opt_state, params, changed)


def recycle_dormant(params: Any, opt_state: Any, activations: Mapping[str, jax.Array],
                    fresh_params: Any, tau: float | jax.Array) -> tuple[Any, Any, jax.Array]:
    """ReDo: recycle every hidden unit with score <= tau; returns the number recycled too.

    `activations` is `measures.hidden_activations`' dict (its order does not matter: the chain
    is read from `params`). Unit u of a layer gets kernel[..., u] from `fresh_params` and
    bias[u] = 0, and the next layer's inputs fed by u are zeroed: kernel[:, :, u, :] of a conv,
    rows r with r % units == u of a dense (the NHWC flatten puts channel c at r % C == c). If a
    unit and one feeding it are both recycled, the weight between them is zero (outgoing
    zeros are applied after every incoming reset, as Dopamine's recycler does).
    """
    chain = _chain(params)
    names = {"/".join(path[1:]): path for path in chain[:-1]}
    if set(activations) != set(names):
        raise ValueError(f"activations must cover exactly the hidden layers {sorted(names)}, "
                         f"got {sorted(activations)}")
    flat, fresh = _leaves(params), _leaves(fresh_params)
    new, changed = {}, {}

    def edit(path, mask, value):  # value where mask, the current entry elsewhere
        new[path] = jnp.where(mask, value, new.get(path, flat[path]))
        changed[path] = changed[path] | mask if path in changed else mask

    total = jnp.zeros((), jnp.int32)
    outgoing = []
    for layer, following in zip(chain[:-1], chain[1:], strict=True):
        act = activations["/".join(layer[1:])]
        kernel, bias, out_kernel = layer + ("kernel",), layer + ("bias",), following + ("kernel",)
        units = flat[kernel].shape[-1]
        if act.shape[-1] != units:
            raise ValueError(f"{'/'.join(layer)}: {units} units but activations {act.shape}")
        _check_same_shape(flat, fresh, kernel)
        dormant = measures.unit_scores(act) <= tau  # (units,)
        edit(kernel, jnp.broadcast_to(dormant, flat[kernel].shape), fresh[kernel])
        edit(bias, dormant, jnp.zeros_like(flat[bias]))
        outgoing.append((out_kernel, _fed_by(dormant, flat[out_kernel].shape, act.shape,
                                             following)))
        total = total + dormant.sum(dtype=jnp.int32)
    for out_kernel, fed in outgoing:  # after every incoming reset: zero outgoing wins
        edit(out_kernel, fed, jnp.zeros_like(flat[out_kernel]))
    return _replace_leaves(params, new), _zero_moments(opt_state, params, changed), total


def _fed_by(dormant: jax.Array, shape: tuple[int, ...], act_shape: tuple[int, ...],
            layer: Path) -> jax.Array:
    """Boolean mask over the next kernel: the entries whose input is a dormant unit."""
    units = dormant.shape[0]
    if len(shape) == 4 and shape[2] == units:  # conv (kh, kw, in, out)
        return jnp.broadcast_to(dormant[None, None, :, None], shape)
    if len(shape) == 2 and shape[0] == math.prod(act_shape[1:]):  # dense after a flatten
        rows = dormant[jnp.arange(shape[0]) % units]  # NHWC: input r comes from channel r % C
        return jnp.broadcast_to(rows[:, None], shape)
    raise ValueError(f"{'/'.join(layer)}: kernel {shape} is not fed by activations {act_shape}")


def _chain(params: Any) -> list[Path]:
    """Layer paths in call order, output layer last; ValueError unless a supported chain."""
    output = output_layer_path(params)
    body = params["params"]
    convs = [name for name in body if name != "QHead_0"]
    if not all(_CONV.fullmatch(str(n)) and _is_plain_layer(body[n]) for n in convs):
        raise ValueError(f"only top-level Conv_k layers before QHead_0 are supported, got "
                         f"{sorted(map(str, convs))} (e.g. Impala's residual stacks are not)")
    convs.sort(key=lambda n: int(_CONV.fullmatch(n).group(1)))
    return [("params", n) for n in convs] + [("params", "QHead_0", "Dense_0"), output]


def _is_plain_layer(layer: Any) -> bool:
    """A layer with exactly a kernel and a bias (Conv, Dense or PatchConv)."""
    return isinstance(layer, Mapping) and sorted(layer) == ["bias", "kernel"]


def _names(path) -> Path:
    return tuple(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _leaves(tree: Any) -> dict[Path, Any]:
    return {_names(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def _check_same_shape(flat: dict, fresh: dict, path: Path) -> None:
    if path not in fresh or fresh[path].shape != flat[path].shape:
        raise ValueError(f"fresh_params lacks {'/'.join(path)} of shape {flat[path].shape}")


def _replace_leaves(tree: Any, new: dict[Path, Any]) -> Any:
    """`tree` with the leaves named in `new` replaced; every other leaf is the same object."""
    return jax.tree_util.tree_map_with_path(lambda p, x: new.get(_names(p), x), tree)


def _zero_moments(opt_state: Any, params: Any, changed: dict[Path, jax.Array]) -> Any:
    """Zero Adam's mu and nu where `changed` (a bool mask per params leaf) holds."""
    found = []

    def zero(moments):
        if set(_leaves(moments)) != set(_leaves(params)):
            raise ValueError("Adam's moments are not shaped like params")
        return jax.tree_util.tree_map_with_path(
            lambda p, m: jnp.where(changed[n], jnp.zeros_like(m), m)
            if (n := _names(p)) in changed else m, moments)

    def fix(state):
        if not isinstance(state, optax.ScaleByAdamState):
            return state
        found.append(state)
        return state._replace(mu=zero(state.mu), nu=zero(state.nu))

    new_state = jax.tree.map(fix, opt_state,
                             is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState))
    if not found:
        raise ValueError("no optax.ScaleByAdamState found in opt_state")
    return new_state
