"""Quick start: prune a Flax network with prunebook (needs only `pip install prunebook`).

Gradual magnitude pruning to 90% sparsity of a small MLP regressor, `gmp` inside an optax
chain, then the per-layer report. `make package-check` runs this file against the wheel.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import prunebook


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(64)(x))
        x = nn.relu(nn.Dense(64)(x))
        return nn.Dense(1)(x)


x = jax.random.normal(jax.random.key(0), (256, 8))
y = jnp.sin(x.sum(axis=1, keepdims=True))
model = MLP()
params = model.init(jax.random.key(1), x)

# prune from update 100 to 400, new masks every 50 updates, the same 90% in every kernel
schedule = prunebook.GMPSchedule(0.9, start_update=100, end_update=400, update_every=50)
tx = optax.chain(optax.clip_by_global_norm(1.0),
                 prunebook.gmp(optax.adam(1e-2), schedule, allocation="uniform"))
opt_state = tx.init(params)


@jax.jit
def step(params, opt_state):
    loss, grads = jax.value_and_grad(lambda p: ((model.apply(p, x) - y) ** 2).mean())(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = prunebook.apply_masks(optax.apply_updates(params, updates), opt_state)
    return params, opt_state, loss


for _ in range(500):
    params, opt_state, loss = step(params, opt_state)

report = prunebook.sparsity_report(params)
for layer, sparsity in report.items():
    print(f"{layer:40s} {sparsity:.3f}")
print(f"final loss {float(loss):.4f}")
assert abs(report["total"] - 0.9) < 0.01, report
