"""The pruning library's API as a user meets it: masks reach the parameters wherever `gmp`
sits in the optimizer, bad arguments fail when the wrapper is built, NNX and Equinox work, and
jaxpruner's selection controls (filter, overrides, stacked members, global top-k, one-shot,
ERK's power scale) each against a hand-computed case."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from prunebook.pruning import (
    GMPSchedule,
    apply_masks,
    apply_masks_nnx,
    check_masked,
    erk_sparsities,
    find_state,
    fixed_masks,
    gmp,
    layer_sparsities,
    one_shot_masks,
    random_masks,
    sparsity_report,
    uniform_sparsities,
)

ONE_SHOT = GMPSchedule.one_shot(0.75, at_update=0)  # prune 75% at the first update


def toy_params():
    # kernel magnitudes 1..8 and 1..4: the kept ones are known by hand
    return {"a": {"kernel": jnp.arange(1.0, 9.0).reshape(2, 4), "bias": jnp.ones(4)},
            "b": {"kernel": -jnp.arange(1.0, 5.0).reshape(4, 1), "bias": jnp.ones(1)}}


def train(tx, params, steps=3):
    state = tx.init(params)
    grads = jax.tree.map(jnp.zeros_like, params)  # zero gradients: only the masks act

    @jax.jit
    def step(params, state):
        updates, state = tx.update(grads, state, params)
        return apply_masks(optax.apply_updates(params, updates), state), state

    for _ in range(steps):
        params, state = step(params, state)
    return params, state


WRAPPERS = {
    "plain": lambda inner: inner,
    "chain_before": lambda inner: optax.chain(optax.clip_by_global_norm(1.0), inner),
    "chain_after": lambda inner: optax.chain(inner, optax.scale(0.5)),
    "multi_steps": lambda inner: optax.MultiSteps(inner, every_k_schedule=1),
    "masked": lambda inner: optax.masked(inner, {"a": {"kernel": True, "bias": True},
                                                 "b": {"kernel": False, "bias": False}}),
}


@pytest.mark.parametrize("wrap", WRAPPERS, ids=str)
def test_masks_reach_the_params_wherever_gmp_sits(wrap):
    tx = WRAPPERS[wrap](gmp(optax.sgd(0.1), ONE_SHOT, "uniform"))
    params, state = train(tx, toy_params())
    # uniform 75%: a keeps round(8 * 0.25) = 2 (the 7 and 8), b keeps 1 (the -4)
    np.testing.assert_array_equal(params["a"]["kernel"], [[0, 0, 0, 0], [0, 0, 7, 8]])
    np.testing.assert_array_equal(params["a"]["bias"], np.ones(4))
    if wrap != "masked":  # optax.masked hands gmp only the `a` subtree
        np.testing.assert_array_equal(params["b"]["kernel"], [[0], [0], [0], [-4]])
    check_masked(params, state)


def test_masks_reach_the_params_through_inject_hyperparams():
    tx = optax.inject_hyperparams(
        lambda learning_rate: gmp(optax.sgd(learning_rate), ONE_SHOT, "uniform"))(0.1)
    params, state = train(tx, toy_params())
    assert sparsity_report(params)["total"] == pytest.approx(9 / 12)
    assert int(find_state(state).count) == 3


def test_apply_masks_refuses_two_pruning_states_and_foreign_masks():
    params = toy_params()
    two = optax.chain(gmp(optax.sgd(0.1), ONE_SHOT), gmp(optax.sgd(0.1), ONE_SHOT))
    with pytest.raises(ValueError, match="found 2"):
        apply_masks(params, two.init(params))
    state = gmp(optax.sgd(0.1), ONE_SHOT).init({"other": jnp.ones((2, 2))})
    with pytest.raises(ValueError, match="do not match"):
        apply_masks(params, state)


def test_a_forgotten_apply_masks_is_caught():
    params = toy_params()
    tx = gmp(optax.sgd(0.1), ONE_SHOT, "uniform")
    state = tx.init(params)
    updates, state = tx.update(jax.tree.map(jnp.zeros_like, params), state, params)
    params = optax.apply_updates(params, updates)  # apply_masks forgotten
    with pytest.raises(ValueError, match="apply_masks"):
        check_masked(params, state)
    check_masked(apply_masks(params, state), state)


@pytest.mark.parametrize("kwargs, error", [
    (dict(start_update=10.0, end_update=20), TypeError),
    (dict(start_update=10, end_update=20, update_every=2.5), TypeError),
    (dict(start_update=True, end_update=20), TypeError),
    (dict(start_update=10, end_update=20, update_every=50), ValueError),  # no update inside
    (dict(start_update=11, end_update=19, update_every=10), ValueError),
])
def test_schedule_counts_are_integers_and_the_window_holds_a_mask_update(kwargs, error):
    with pytest.raises(error):
        GMPSchedule(0.5, **kwargs)
    with pytest.raises(TypeError):
        GMPSchedule.from_run_length(0.9, 1e6)


def test_wrong_types_fail_when_the_wrapper_is_built():
    with pytest.raises(TypeError, match="GradientTransformation"):
        gmp(object(), ONE_SHOT)
    with pytest.raises(TypeError, match="GMPSchedule"):
        gmp(optax.adam(1e-3), 0.9)
    with pytest.raises(TypeError, match="key"):
        random_masks(toy_params(), 0.5, "erk")
    with pytest.raises(TypeError, match="GradientTransformation"):
        fixed_masks(lambda x: x, lambda p: p, 0.5)


def test_nnx_model_through_nnx_optimizer():
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(4, 16, rngs=rngs)
            self.out = nnx.Linear(16, 2, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.relu(self.hidden(x)))

    model = Net(nnx.Rngs(0))
    tx = gmp(optax.adam(1e-2), GMPSchedule(0.5, start_update=0, end_update=4, update_every=2),
             "uniform")
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x, y = jnp.ones((8, 4)), jnp.zeros((8, 2))

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda m: ((m(x) - y) ** 2).mean())(model)
        optimizer.update(model, grads)
        apply_masks_nnx(model, optimizer)

    for _ in range(6):
        step(model, optimizer)
    report = sparsity_report(nnx.state(model, nnx.Param))
    assert report["['hidden']['kernel'].value"] == 0.5  # 32 of 64
    assert report["['out']['kernel'].value"] == 0.5  # 16 of 32
    assert float(model.hidden.bias[...][0]) != 0.0


def test_an_equinox_model_prunes_as_the_same_arrays_in_a_dict():
    """An Equinox module's arrays (`eqx.filter`) hold non-array leaves as None and name their
    layers by attribute and index; neither may change what is pruned."""
    model = eqx.nn.MLP(4, 2, 16, 1, key=jax.random.key(0))  # layers: (16, 4), (2, 16)
    params, static = eqx.partition(model, eqx.is_array)
    as_dict = {"hidden": {"weight": model.layers[0].weight, "bias": model.layers[0].bias},
               "out": {"weight": model.layers[1].weight, "bias": model.layers[1].bias}}
    x = jax.random.normal(jax.random.key(1), (8, 4))
    y = jnp.sin(x[:, :2])
    schedule = GMPSchedule(0.5, start_update=0, end_update=4, update_every=2)
    overrides = {"eqx": {"layers/0/weight": 0.75}, "dict": {"hidden/weight": 0.75}}

    def loss_eqx(p):
        return ((jax.vmap(eqx.combine(p, static))(x) - y) ** 2).mean()

    def loss_dict(p):
        hidden = jax.nn.relu(x @ p["hidden"]["weight"].T + p["hidden"]["bias"][None])
        return ((hidden @ p["out"]["weight"].T + p["out"]["bias"][None] - y) ** 2).mean()

    def fit(params, loss, kind):
        tx = gmp(optax.adam(1e-2), schedule, "uniform", overrides=overrides[kind])
        state = tx.init(params)
        for _ in range(6):
            updates, state = tx.update(jax.grad(loss)(params), state, params)
            params = apply_masks(optax.apply_updates(params, updates), state)
        return params

    pruned, pruned_dict = fit(params, loss_eqx, "eqx"), fit(as_dict, loss_dict, "dict")
    report = sparsity_report(pruned)
    assert report[".layers[0].weight"] == 0.75  # 48 of 64, the override
    assert report[".layers[1].weight"] == 0.5  # 16 of 32
    for layer, name in ((0, "hidden"), (1, "out")):  # the same masks; values up to rounding
        for leaf in ("weight", "bias"):  # (the two forward passes sum in different orders)
            ours, theirs = getattr(pruned.layers[layer], leaf), pruned_dict[name][leaf]
            np.testing.assert_array_equal(ours == 0, theirs == 0)
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert bool(jnp.all(pruned.layers[0].bias != 0))
    assert eqx.combine(pruned, static)(x[0]).shape == (2,)


# ---- jaxpruner's selection controls, each against a hand-computed case --------------------

def test_prunable_filter_chooses_the_leaves():
    params = toy_params()
    only_a = lambda name, leaf: name == "a/kernel"
    targets = layer_sparsities(params, 0.75, "uniform", prunable=only_a)
    assert targets == {"a": {"kernel": 0.75, "bias": 0.0}, "b": {"kernel": 0.0, "bias": 0.0}}
    pruned, _ = train(gmp(optax.sgd(0.1), ONE_SHOT, "uniform", prunable=only_a), params)
    np.testing.assert_array_equal(pruned["b"]["kernel"], params["b"]["kernel"])
    assert sparsity_report(pruned)["['a']['kernel']"] == 0.75


def test_per_layer_overrides():
    params = toy_params()
    targets = layer_sparsities(params, 0.75, "uniform", overrides={"b/kernel": 0.5})
    assert targets["a"]["kernel"] == 0.75 and targets["b"]["kernel"] == 0.5
    # keys may also be tuples or keystr paths
    assert layer_sparsities(params, 0.75, "uniform", overrides={("b", "kernel"): 0.5}) == \
        layer_sparsities(params, 0.75, "uniform", overrides={"['b']['kernel']": 0.5})
    pruned, _ = train(gmp(optax.sgd(0.1), ONE_SHOT, "uniform", overrides={"b/kernel": 0.5}),
                      params)
    np.testing.assert_array_equal(pruned["b"]["kernel"], [[0], [0], [-3], [-4]])
    # ERK leaves an overridden layer out of its solve: with only `a` left, a gets exactly 0.75
    assert erk_sparsities(params, 0.75, overrides={"b/kernel": 0.0})["a"]["kernel"] == \
        pytest.approx(0.75)
    with pytest.raises(ValueError, match="name no parameter"):
        layer_sparsities(params, 0.5, overrides={"c/kernel": 0.5})


def test_stacked_members_prune_per_member_and_never_biases():
    # two members stacked on axis 0; member 1's magnitudes are reversed
    kernel = jnp.stack([jnp.arange(1.0, 5.0).reshape(2, 2), jnp.arange(4.0, 0.0, -1).reshape(2, 2)])
    params = {"kernel": kernel, "bias": jnp.ones((2, 3))}
    masks = one_shot_masks(params, 0.5, "uniform", batch_ndim=1)
    np.testing.assert_array_equal(masks["kernel"], [[[0, 0], [1, 1]], [[1, 1], [0, 0]]])
    np.testing.assert_array_equal(masks["bias"], np.ones((2, 3)))  # the (2, 3) bias stays
    pruned, _ = train(gmp(optax.sgd(0.1), GMPSchedule.one_shot(0.5, 0), "uniform",
                          batch_ndim=1), params)
    np.testing.assert_array_equal(pruned["kernel"], kernel * masks["kernel"])
    # the report of a stacked tree counts kernels only: 4 zeros of 8, not 4 of 14
    assert sparsity_report(pruned, batch_ndim=1) == {"['kernel']": 0.5, "total": 0.5}


def test_sparsity_report_on_a_batched_tree_at_ninety_percent():
    kernel = np.ones((3, 10, 10), np.float32)
    kernel[:, :9] = 0.0  # 90% of each member
    tree = {"kernel": kernel, "bias": np.ones((3, 10), np.float32)}
    assert sparsity_report(tree, batch_ndim=1)["total"] == pytest.approx(0.9)


def test_global_magnitude_topk():
    params = {"a": jnp.asarray([[1.0, 2.0], [3.0, 4.0]]),
              "b": jnp.asarray([[0.5, -5.0], [6.0, 0.1]])}
    masks = one_shot_masks(params, 0.5, "global")  # keep the 4 largest of 8: 6, 5, 4, 3
    np.testing.assert_array_equal(masks["a"], [[0, 0], [1, 1]])
    np.testing.assert_array_equal(masks["b"], [[0, 1], [1, 0]])
    pruned, _ = train(gmp(optax.sgd(0.1), GMPSchedule.one_shot(0.5, 0), "global"), params)
    np.testing.assert_array_equal(pruned["b"], [[0, -5], [6, 0]])
    # stacked: one threshold per member
    stacked = jax.tree.map(lambda p: jnp.stack([p, -p[::-1]]), params)
    got = one_shot_masks(stacked, 0.5, "global", batch_ndim=1)
    np.testing.assert_array_equal(got["a"][1], [[1, 1], [0, 0]])


def test_one_shot_schedule():
    schedule = GMPSchedule.one_shot(0.75, at_update=3)
    assert [bool(schedule.is_mask_update(t)) for t in range(6)] == [0, 0, 0, 1, 0, 0]
    assert [float(schedule.sparsity_at(t)) for t in range(6)] == [0, 0, 0, 0.75, 0.75, 0.75]
    tx = gmp(optax.sgd(0.1), schedule, "uniform")
    params, _ = train(tx, toy_params(), steps=3)
    assert sparsity_report(params)["total"] == 0.0  # not yet
    params, _ = train(tx, toy_params(), steps=4)
    assert sparsity_report(params)["total"] == 0.75
    masks = one_shot_masks(toy_params(), 0.75, "uniform")
    np.testing.assert_array_equal(masks["a"]["kernel"], [[0, 0, 0, 0], [0, 0, 1, 1]])


def test_erk_power_scale():
    params = {"small": np.zeros((10, 10)), "big": np.zeros((100, 100))}
    # power 0.5: raw densities sqrt(0.2) and sqrt(0.02), eps = 0.1 * 10100 / (sum raw * n)
    raw = {"small": 0.2 ** 0.5, "big": 0.02 ** 0.5}
    eps = 0.1 * 10_100 / (raw["small"] * 100 + raw["big"] * 10_000)
    got = erk_sparsities(params, 0.9, power_scale=0.5)
    for name in raw:
        assert got[name] == pytest.approx(1 - eps * raw[name], abs=1e-12)
    # power 0 is uniform; the wrappers take it as erk_power_scale
    assert erk_sparsities(params, 0.9, power_scale=0.0) == pytest.approx(
        uniform_sparsities(params, 0.9))
    state = gmp(optax.sgd(0.1), GMPSchedule.one_shot(0.9, 0), "erk",
                erk_power_scale=0.5).init(params)
    assert float(state.target_sparsities["big"]) == pytest.approx(got["big"], abs=1e-6)


def test_erk_makes_a_small_output_layer_dense_and_uniform_does_not():
    params = {"hidden": np.zeros((1000, 512)), "out": np.zeros((512, 6))}
    assert erk_sparsities(params, 0.9)["out"] == 0.0
    assert uniform_sparsities(params, 0.9)["out"] == 0.9


def test_lottery_ticket_from_saved_masks_and_static_random():
    params = toy_params()
    ticket = one_shot_masks(params, 0.75, "uniform")
    tx = fixed_masks(optax.sgd(0.1), lambda p: ticket, 0.75, "uniform")
    state = tx.init(params)
    start = apply_masks(params, state)
    np.testing.assert_array_equal(start["a"]["kernel"], [[0, 0, 0, 0], [0, 0, 7, 8]])
    masks = random_masks(params, 0.75, "uniform", jax.random.key(0))
    assert int(masks["a"]["kernel"].sum()) == 2 and int(masks["b"]["kernel"].sum()) == 1
