"""Magnitude top-k masks: per tensor, per member of stacked tensors, and global over many."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sortable_uint32(x: jax.Array) -> jax.Array:
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
    flat = sortable_uint32(scores.reshape(-1))
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


def batched_topk_mask(scores: jax.Array, sparsity, batch_ndim: int = 0) -> jax.Array:
    """`topk_mask` of each member of a stack: the leading `batch_ndim` axes index members."""
    if batch_ndim == 0:
        return topk_mask(scores, sparsity)
    batch = scores.shape[:batch_ndim]
    members = scores.reshape((-1, *scores.shape[batch_ndim:]))
    keep = jax.vmap(topk_mask, in_axes=(0, None))(members, sparsity)
    return keep.reshape(batch + scores.shape[batch_ndim:])


def global_topk_masks(scores: list[jax.Array], sparsity, batch_ndim: int = 0) -> list[jax.Array]:
    """One magnitude threshold over several tensors (per member when stacked): the kept
    weights are the `(1 - sparsity)` largest scores of all of them together."""
    batch = scores[0].shape[:batch_ndim]
    flat = jnp.concatenate([s.reshape(batch + (-1,)) for s in scores], axis=-1)
    keep = batched_topk_mask(flat, sparsity, batch_ndim)
    out, offset = [], 0
    for s in scores:
        size = s[(0,) * batch_ndim].size
        out.append(keep[..., offset:offset + size].reshape(s.shape))
        offset += size
    return out
