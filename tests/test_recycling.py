"""Reset and ReDo against hand-built cases: exactly the right entries change, nothing else."""

import flax.traverse_util as tu
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from prunebook import measures, networks, pruning
from prunebook.loops.recycling import output_layer_path, recycle_dormant, reset_output_layer

ACTIONS = 6
CONV, HIDDEN, OUT = ("params", "Conv_0"), ("params", "QHead_0", "Dense_0"), (
    "params", "QHead_0", "Dense_1")
DEAD_CHANNELS = [3, 11]  # conv channels with zero activations on every input
DEAD_UNIT, WEAK_UNIT = 100, 7  # Dense_0 units: always zero / score about 0.05
OPTIMIZERS = {
    "gmp_adam": lambda: pruning.gmp(optax.adam(1e-3), pruning.GMPSchedule(0.5, 1, 10, 2)),
    "adam": lambda: optax.adam(1e-3),
    "adamw": lambda: optax.adamw(1e-3, weight_decay=0.1),
}


def _apply(net):
    return lambda p, o, **kw: net.apply(p, o, **kw)


def _flat(tree) -> dict:
    return {k: np.array(v) for k, v in tu.flatten_dict(tree).items()}


def _same(a, b) -> bool:
    """Bit-identical: same dtype, shape and bytes (so -0.0 != 0.0 and no tolerance)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _adam_states(opt_state) -> list:
    is_adam = lambda s: isinstance(s, optax.ScaleByAdamState)
    return [s for s in jax.tree.leaves(opt_state, is_leaf=is_adam) if is_adam(s)]


def _setup(rng, key, optimizer="gmp_adam"):
    """A MinAtar net after a few Adam steps on random gradients (so every moment is nonzero)."""
    net = networks.make_network("minatar", ACTIONS, width=1)
    obs = jnp.asarray(rng.random((64, 10, 10, 4)) < 0.3, jnp.float32)
    init_key, fresh_key, grad_key = jax.random.split(key, 3)
    params, fresh = net.init(init_key, obs), net.init(fresh_key, obs)
    tx = OPTIMIZERS[optimizer]()
    state = tx.init(params)
    for step_key in jax.random.split(grad_key, 3):
        leaves, treedef = jax.tree.flatten(params)
        grads = treedef.unflatten([jax.random.normal(k, x.shape) for k, x in zip(
            jax.random.split(step_key, len(leaves)), leaves, strict=True)])
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return net, obs, params, fresh, state


def _hand_built(rng, key, optimizer="gmp_adam"):
    """Dead conv channels, one dead and one weak (score ~0.05) Dense_0 unit, the rest alive."""
    net, obs, params, fresh, state = _setup(rng, key, optimizer)
    p = _flat(params)
    p[CONV + ("bias",)][:] = 1.0  # no conv channel is dormant by chance
    p[CONV + ("kernel",)][..., DEAD_CHANNELS] = 0.0
    p[CONV + ("bias",)][DEAD_CHANNELS] = -1.0
    p[HIDDEN + ("bias",)][:] = 10.0  # far above the pre-activation spread: none dormant
    p[HIDDEN + ("kernel",)][:, DEAD_UNIT] = 0.0
    p[HIDDEN + ("bias",)][DEAD_UNIT] = -1.0
    _, acts = measures.hidden_activations(_apply(net), tu.unflatten_dict(p), obs)
    means = np.abs(np.asarray(acts["QHead_0/Dense_0"])).mean(axis=0)  # (units,)
    others, n = means.sum() - means[WEAK_UNIT], means.shape[0]
    scale = 0.05 * others / (means[WEAK_UNIT] * (n - 0.05))  # relu(s z) = s relu(z), s > 0
    p[HIDDEN + ("kernel",)][:, WEAK_UNIT] *= scale
    p[HIDDEN + ("bias",)][WEAK_UNIT] *= scale
    params = jax.tree.map(jnp.asarray, tu.unflatten_dict(p))
    return net, obs, params, fresh, state


def _np_dormant(act, tau) -> list[int]:
    """ReDo's score computed here in NumPy: mean |a| per unit over the layer's mean."""
    means = np.abs(np.asarray(act)).reshape(-1, act.shape[-1]).mean(axis=0)
    return np.flatnonzero(means / means.mean() <= tau).tolist()


def _expected(params, fresh, conv_units, hidden_units):
    """(params, changed masks) ReDo must give, built from the dormant sets by hand."""
    want, fresh, changed = _flat(params), _flat(fresh), {}
    for path, x in want.items():
        changed[path] = np.zeros(x.shape, bool)
    # NHWC flatten: input row of (h, w, c) -> the rows fed by channel c, found by position
    rows = np.arange(8 * 8 * 16).reshape(8, 8, 16)[:, :, conv_units].ravel()
    layers = ((CONV, conv_units), (HIDDEN, hidden_units))
    for layer, units in layers:  # fresh incoming weights and zero biases first ...
        k, b = layer + ("kernel",), layer + ("bias",)
        want[k][..., units] = fresh[k][..., units]
        want[b][units] = 0.0
        changed[k][..., units] = changed[b][units] = True
    for layer, units in layers:  # ... then zero outgoing weights, which win (as Dopamine's)
        nxt = (HIDDEN if layer == CONV else OUT) + ("kernel",)
        fed = rows if layer == CONV else units
        want[nxt][fed, :] = 0.0
        changed[nxt][fed, :] = True
    return want, changed


def _assert_moments(old_state, new_state, changed):
    """mu, nu zero exactly where changed (and were not zero before), bit-identical elsewhere."""
    olds, news = _adam_states(old_state), _adam_states(new_state)
    assert len(olds) == len(news) == 1
    for old, new in zip(olds, news, strict=True):
        assert _same(old.count, new.count)
        for moment in ("mu", "nu"):
            before, after = _flat(getattr(old, moment)), _flat(getattr(new, moment))
            for path, mask in changed.items():
                assert np.all(before[path][mask] != 0), (moment, path)
                assert _same(after[path], np.where(mask, np.float32(0), before[path])), path


def _assert_rest_of_state(old_state, new_state):
    if isinstance(old_state, pruning.GMPState):
        for field in ("count", "masks", "target_sparsities"):
            old, new = getattr(old_state, field), getattr(new_state, field)
            pairs = zip(jax.tree.leaves(old), jax.tree.leaves(new), strict=True)
            assert all(_same(a, b) for a, b in pairs), field


def test_output_layer_path_and_unsupported_heads(key):
    obs = jnp.zeros((1, 10, 10, 4))
    params = networks.make_network("minatar", ACTIONS).init(key, obs)
    assert output_layer_path(params) == OUT
    for kwargs in ({"dueling": True}, {"noisy": True}):
        other = networks.make_network("minatar", ACTIONS, **kwargs).init(key, obs)
        with pytest.raises(ValueError, match="QHead_0"):
            output_layer_path(other)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("jit", [False, True])
def test_reset_replaces_only_the_output_layer_and_its_moments(rng, key, optimizer, jit):
    _, _, params, fresh, state = _setup(rng, key, optimizer)
    reset = jax.jit(reset_output_layer) if jit else reset_output_layer
    new_params, new_state = reset(params, fresh, state)
    before, after, fresh_flat = _flat(params), _flat(new_params), _flat(fresh)
    assert set(after) == set(before)
    for path, x in before.items():
        is_out = path[:3] == OUT
        assert not is_out or not np.array_equal(x, fresh_flat[path])  # a reset is visible
        assert _same(after[path], fresh_flat[path] if is_out else x), path
    _assert_moments(state, new_state, {p: np.full(x.shape, p[:3] == OUT)
                                       for p, x in before.items()})
    _assert_rest_of_state(state, new_state)


@pytest.mark.parametrize("optimizer", ["gmp_adam", "adamw"])
@pytest.mark.parametrize("tau", [0.1, 0.0])
def test_redo_recycles_exactly_the_dormant_units(rng, key, optimizer, tau):
    net, obs, params, fresh, state = _hand_built(rng, key, optimizer)
    _, acts = measures.hidden_activations(_apply(net), params, obs)
    conv_units, hidden_units = (_np_dormant(acts[name], tau)
                                for name in ("Conv_0", "QHead_0/Dense_0"))
    assert conv_units == DEAD_CHANNELS  # the hand-built case is what it claims to be
    assert hidden_units == ([WEAK_UNIT, DEAD_UNIT] if tau else [DEAD_UNIT])
    new_params, new_state, num = recycle_dormant(params, state, acts, fresh, tau)
    assert num.dtype == jnp.int32 and int(num) == len(conv_units) + len(hidden_units)
    want, changed = _expected(params, fresh, conv_units, hidden_units)
    after = _flat(new_params)
    assert set(after) == set(want)
    for path in want:
        assert _same(after[path], want[path]), path
    _assert_moments(state, new_state, changed)
    _assert_rest_of_state(state, new_state)


def test_recycled_units_do_not_reach_the_q_values(rng, key):
    net, obs, params, fresh, state = _hand_built(rng, key)
    q = lambda p: np.asarray(net.apply(p, obs).q_values)
    _, acts = measures.hidden_activations(_apply(net), params, obs)
    # dead units contributed nothing, so recycling only them leaves Q as it was
    dead_only, _, _ = recycle_dormant(params, state, acts, fresh, 0.0)
    np.testing.assert_allclose(q(dead_only), q(params), rtol=1e-6, atol=1e-6)
    # a plain net and a high tau: many units of both layers go (some feeding others), and
    # whatever they compute now, Q ignores it
    net, obs, params, fresh, state = _setup(rng, key)
    _, acts = measures.hidden_activations(_apply(net), params, obs)
    recycled, _, num = recycle_dormant(params, state, acts, fresh, 0.6)
    conv_units = _np_dormant(acts["Conv_0"], 0.6)
    hidden_units = _np_dormant(acts["QHead_0/Dense_0"], 0.6)
    assert len(conv_units) > 2 and len(hidden_units) > 2 and int(num) > 4
    alive = [c for c in range(16) if c not in conv_units][0]

    def perturb(p, conv, hidden):
        p = _flat(p)
        for layer, units in ((CONV, conv), (HIDDEN, hidden)):
            p[layer + ("kernel",)][..., units] += rng.normal(
                size=p[layer + ("kernel",)][..., units].shape).astype(np.float32)
            p[layer + ("bias",)][units] += 1.0
        return tu.unflatten_dict(p)

    base = q(recycled)
    np.testing.assert_allclose(q(perturb(recycled, conv_units, hidden_units)), base,
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(q(perturb(recycled, [alive], [])), base, rtol=1e-3, atol=1e-3)


def test_jit_matches_eager(rng, key):
    net, obs, params, fresh, state = _hand_built(rng, key)
    _, acts = measures.hidden_activations(_apply(net), params, obs)
    eager = recycle_dormant(params, state, acts, fresh, 0.1)
    jitted = jax.jit(recycle_dormant)(params, state, acts, fresh, 0.1)
    assert int(eager[2]) == int(jitted[2]) == 4
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        assert _same(a, b)


def test_unsupported_inputs_fail_clearly(rng, key):
    net, obs, params, fresh, state = _setup(rng, key)
    _, acts = measures.hidden_activations(_apply(net), params, obs)
    with pytest.raises(ValueError, match="hidden layers"):
        recycle_dormant(params, state, {"Conv_0": acts["Conv_0"]}, fresh, 0.1)
    with pytest.raises(ValueError, match="ScaleByAdamState"):
        recycle_dormant(params, optax.sgd(0.1).init(params), acts, fresh, 0.1)
    with pytest.raises(ValueError, match="fresh_params"):
        reset_output_layer(params, networks.make_network("minatar", ACTIONS + 1).init(key, obs),
                           state)
    impala = networks.make_network("impala", ACTIONS)
    small = jnp.zeros((2, 12, 12, 4))
    impala_params = impala.init(key, small)
    _, impala_acts = measures.hidden_activations(_apply(impala), impala_params, small)
    with pytest.raises(ValueError, match="Conv_k"):
        recycle_dormant(impala_params, optax.adam(1e-3).init(impala_params), impala_acts,
                        impala_params, 0.1)
