"""`run_if`: lax.cond's values, without its pass-through copy (prunebook.pruning.control)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax

from prunebook.pruning import GMPSchedule, apply_masks, gmp
from prunebook.pruning.control import run_if

MASK_SHAPE = (384, 96)  # a shape nothing else in the compiled loop has


def test_run_if_gives_lax_conds_values_under_jit_and_vmap():
    def double(tree):
        return jax.tree.map(lambda x: 2 * x + 1, tree)

    operand = {"a": jnp.arange(6.0).reshape(2, 3), "n": jnp.array(7, jnp.int32)}
    for pred in (True, False):
        got = jax.jit(run_if, static_argnums=1)(pred, double, operand)
        want = jax.lax.cond(pred, double, lambda x: x, operand)
        jax.tree.map(np.testing.assert_array_equal, got, want)

    # a batched predicate that holds for some members: each member as if alone
    preds = jnp.array([True, False, True, False])
    stacked = jax.tree.map(lambda x: jnp.stack([x + i for i in range(4)]), operand)
    got = jax.vmap(lambda p, x: run_if(p, double, x))(preds, stacked)
    for i in range(4):
        member = jax.tree.map(lambda x, i=i: x[i], stacked)
        want = double(member) if bool(preds[i]) else member
        jax.tree.map(lambda g, w, i=i: np.testing.assert_array_equal(g[i], w), got, want)


def test_run_if_runs_its_body_only_when_some_member_needs_it():
    """Under vmap, lax.cond with a batched predicate computes both branches on every call;
    run_if must not (GMP's top-k would then run on every update of a vmapped sweep)."""
    executions = []

    def body(x):
        def host(v):
            executions.append(v.copy())
            return v
        return jax.pure_callback(host, jax.ShapeDtypeStruct(x.shape, x.dtype), x,
                                 vmap_method="expand_dims") + 1

    step = jax.jit(jax.vmap(lambda p, x: run_if(p, body, x)))
    x = jnp.zeros((3, 2))
    np.testing.assert_array_equal(step(jnp.array([False] * 3), x), x)
    assert executions == []
    out = step(jnp.array([True, False, False]), x)
    np.testing.assert_array_equal(out, [[1, 1], [0, 0], [0, 0]])
    assert len(executions) == 1


def _copies_of_mask_shape(compiled_text: str) -> int:
    shape = ",".join(map(str, MASK_SHAPE))
    return len(re.findall(rf"= f32\[{shape}\]\S* copy\(", compiled_text))


def test_a_scan_of_gmp_updates_copies_no_mask_per_update():
    """The point of run_if: compile 60 gmp updates in a lax.scan, each behind a warm-up
    lax.cond as in the MinAtar loop, and count the copies of arrays of the mask's shape
    inside the loop. The mask update written with lax.cond put two there (its pass-through
    branch and its output), copied on every update; run_if none."""
    params = {"w": jnp.ones(MASK_SHAPE), "b": jnp.ones(MASK_SHAPE[1:])}
    tx = gmp(optax.adam(1e-3), GMPSchedule(0.9, start_update=10, end_update=40,
                                           update_every=10), allocation="uniform")

    def update(carry, grads):
        params, opt_state = carry
        updates, opt_state = tx.update(grads, opt_state, params)
        return apply_masks(optax.apply_updates(params, updates), opt_state), opt_state

    def step(carry, inputs):
        grads, warm = inputs
        return jax.lax.cond(warm, lambda c: update(c, grads), lambda c: c, carry), None

    def train(params, opt_state, grads, warm):
        return jax.lax.scan(step, (params, opt_state), (grads, warm))[0]

    grads = jax.tree.map(lambda p: jnp.ones((60, *p.shape)), params)
    args = (params, tx.init(params), grads, jnp.arange(60) >= 10)
    text = jax.jit(train).lower(*args).compile().as_text()
    loop_computations = [c for c in text.split("\n\n") if "ENTRY" not in c]
    assert len(loop_computations) > 10  # the split found the computations
    assert sum(_copies_of_mask_shape(c) for c in loop_computations) == 0, (
        "a copy of a mask-shaped array inside the compiled loop: the mask update is copying "
        "its pass-through operand again")
    # and the masks were still updated: 90% pruned at the end of the window
    _, opt_state = jax.jit(train)(*args)
    assert abs(float(1 - opt_state.masks["w"].mean()) - 0.9) < 1 / opt_state.masks["w"].size


def test_a_gmp_update_can_still_be_differentiated():
    """run_if is a while_loop, which reverse mode cannot differentiate through a carry with a
    tangent; the masks have none (they come from a comparison), so a meta-gradient through a
    gmp step still works. Hand-computed: one-shot 50% at update 0 keeps w's 6 largest of
    (1..12)/7, the bias is not pruned; after one SGD step with all-ones gradients,
    d/dlr sum(p**2) = -2 * (sum over kept w of (w - lr) + sum over b of (1 - lr))."""
    params = {"w": jnp.arange(1.0, 13.0).reshape(3, 4) / 7, "b": jnp.ones(4)}

    def loss_after_one_step(lr):
        tx = gmp(optax.sgd(lr), GMPSchedule.one_shot(0.5, at_update=0), allocation="uniform")
        opt_state = tx.init(params)
        updates, opt_state = tx.update(jax.tree.map(jnp.ones_like, params), opt_state, params)
        new = apply_masks(optax.apply_updates(params, updates), opt_state)
        return sum(jnp.sum(x ** 2) for x in jax.tree.leaves(new))

    lr = 0.1
    kept = np.arange(7.0, 13.0) / 7
    want = -2 * (np.sum(kept - lr) + 4 * (1 - lr))
    np.testing.assert_allclose(jax.grad(loss_after_one_step)(lr), want, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(jax.grad(loss_after_one_step))(lr), want, rtol=1e-5)


def _copied_shapes(computation: str) -> list[str]:
    return re.findall(r"= f32\[([\d,]*)\]\S* copy\(", computation)


def test_the_minatar_loop_copies_no_network_on_updates_that_keep_the_target():
    """The target network syncs every `target_update_period` agent steps. Written with
    lax.cond, the branch that keeps the old target copied the whole network on every other
    update (at x5 a 2.6 MB kernel among it); with run_if no conditional branch of the compiled
    iteration copies every array of the network."""
    from prunebook.config import preset_config
    from prunebook.loops import minatar as minatar_loop

    config = preset_config("ci", "dqn", game="Breakout", width=1)
    trainer = minatar_loop.make_trainer(config)
    state = trainer.init(0)
    network = sorted(",".join(map(str, leaf.shape)) for leaf in jax.tree.leaves(state.params))
    text = trainer.run_iteration.lower(state).compile().as_text()
    computations = dict(re.findall(r"^(?:ENTRY )?%([\w.\-]+) (.*?)^\}", text, re.M | re.S))
    branches = {name for names in re.findall(r"branch_computations=\{([^}]*)\}", text)
                for name in re.findall(r"%?([\w.\-]+)", names)}
    assert branches and branches <= set(computations)  # the parse found the branches
    whole_copies = [name for name in branches
                    if sorted(_copied_shapes(computations[name])) == network]
    assert not whole_copies, (f"conditional branches {whole_copies} copy the whole network: "
                              "the target sync is a lax.cond again")
