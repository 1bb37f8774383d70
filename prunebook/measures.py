"""The paper's §5 measures of a value network (its Fig 11): what pruning changes inside it.

Computed after every iteration on one batch of replay transitions drawn with a key fixed by
the run's seed (:func:`measures_key`), outside the training state, so logging them changes no
training result:

* **dormant neurons** (Sokar et al. 2023, ReDo): a hidden unit's score is its mean |activation|
  over the batch divided by the mean of that over its layer; the unit is dormant when the
  score is <= tau. Stored per layer and overall for tau = 0 (dead units) and tau = 0.1 (ReDo's
  threshold). Activations are the ReLU of each hidden Conv/Dense output; a conv unit is a
  channel, averaged over positions too.
* **srank** of the penultimate features (Kumar et al. 2021): the smallest k whose top-k singular
  values hold 1 - delta of their sum, delta = 0.01.
* the **L2 norm** of the online parameters (pruned weights are exact zeros and add nothing);
* the **mean and variance of Q** over the batch's states and all actions, and the **variance
  of the TD target** y = R + gamma^n (1 - done) max_a' Qbar(s', a') (Q of distributional
  agents is the expected value), whatever action selection the agent's own loss uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from prunebook import networks
from prunebook.replay.jittable import Batch

DORMANT_TAUS = (0.0, 0.1)
SRANK_DELTA = 0.01
BATCH_SIZE = 256  # transitions per measurement
_KEY_TAG = 0x5E5  # folds the measurement key out of the run's seed, apart from training keys
_LAYERS = (nn.Dense, nn.Conv, networks.PatchConv, networks.NoisyDense)


def measures_key(seed: int) -> jax.Array:
    """The fixed key a run's measurement batches are drawn with (same every iteration)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), _KEY_TAG)


def unit_scores(activation: jax.Array) -> jax.Array:
    """ReDo's score per unit (last axis) of one layer's activations (batch, ..., units)."""
    per_unit = jnp.abs(activation).reshape(-1, activation.shape[-1]).mean(axis=0)  # (units,)
    layer_mean = per_unit.mean()
    return jnp.where(layer_mean > 0, per_unit / jnp.where(layer_mean > 0, layer_mean, 1.0), 0.0)


def dormant_fractions(activations: dict[str, jax.Array], tau: float) -> dict[str, jax.Array]:
    """Fraction of dormant units (score <= tau) per layer and over all units ("overall")."""
    out, dormant, units = {}, 0, 0
    for name, activation in activations.items():
        is_dormant = unit_scores(activation) <= tau
        out[name] = is_dormant.mean()
        dormant = dormant + is_dormant.sum()
        units += is_dormant.shape[0]
    out["overall"] = dormant / units
    return out


def srank(features: jax.Array, delta: float = SRANK_DELTA) -> jax.Array:
    """Effective rank of a feature matrix (n, d): min k with sum_{i<=k} s_i >= (1-delta) sum s."""
    singular = jnp.linalg.svd(features.reshape(-1, features.shape[-1]), compute_uv=False)
    cumulative = jnp.cumsum(singular) / jnp.maximum(singular.sum(), 1e-12)
    return (cumulative < 1.0 - delta).sum() + 1


def l2_norm(params: Any) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(params)))


def _is_layer(module: nn.Module, method: str) -> bool:
    return method == "__call__" and isinstance(module, _LAYERS)


def hidden_activations(apply: Callable[..., Any], params: Any, obs: jax.Array,
                       num_output_layers: int = 1) -> tuple[Any, dict[str, jax.Array]]:
    """(network output, {layer path: ReLU(output)}) of every hidden layer, in call order.

    `apply(params, obs, **flax_kwargs)` runs the network; the last `num_output_layers` layers
    (the Q / logit outputs; 2 for a dueling head) are not hidden and are left out.
    """
    out, variables = apply(params, obs, capture_intermediates=_is_layer,
                           mutable=["intermediates"])
    flat = traverse_util.flatten_dict(variables["intermediates"])
    layers = {"/".join(path[:-1]): value[0] for path, value in flat.items()}
    names = list(layers)[: len(layers) - num_output_layers]
    return out, {name: nn.relu(layers[name]) for name in names}


def make_measure(apply: Callable[..., Any], num_output_layers: int = 1):
    """(params, target_params, batch, key) -> the measures as a dict of scalar arrays.

    `apply(params, obs, key, **flax_kwargs)` returns an output with `q_values` (B, A); the key
    is for networks that sample (IQN's quantile fractions) and may be ignored.
    """

    def measure(params, target_params, batch: Batch, key: jax.Array) -> dict[str, Any]:
        online_key, target_key = jax.random.split(key)
        out, activations = hidden_activations(
            lambda p, o, **kw: apply(p, o, online_key, **kw), params, batch.obs,
            num_output_layers)
        q_values = out.q_values  # (B, A)
        next_q = apply(target_params, batch.next_obs, target_key).q_values  # (B, A)
        targets = batch.returns + batch.discounts * next_q.max(axis=1)  # (B,)
        penultimate = list(activations.values())[-1]
        result: dict[str, Any] = {
            f"dormant_tau{tau:g}": dormant_fractions(activations, tau) for tau in DORMANT_TAUS}
        result.update(srank=srank(penultimate), param_norm=l2_norm(params),
                      q_mean=q_values.mean(), q_var=q_values.var(),
                      td_target_var=targets.var())
        return result

    return measure


def to_record(measured: dict[str, Any]) -> dict[str, Any]:
    """Host copy of measured values as plain JSON numbers (srank an int)."""
    host = jax.device_get(measured)

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        number = np.asarray(value)
        return int(number) if np.issubdtype(number.dtype, np.integer) else float(number)

    return plain(host)
