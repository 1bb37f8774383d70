"""Gradual magnitude pruning: the schedule (paper Eq. 1 with jaxpruner's `+1`), ERK allocation
against the dossier's §3.4 table, layer-wise top-k, and the `gmp` optax wrapper trained on a
tiny regression task (zeros stay zero, no regrowth, per-layer targets reached, dense == Adam,
jit == eager, vmap == separate runs).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from prunebook.networks import ImpalaCNN
from prunebook.pruning import (
    GMPSchedule,
    GMPState,
    apply_masks,
    erk_sparsities,
    gmp,
    layer_sparsities,
    sparsity_report,
    topk_mask,
    uniform_sparsities,
)

# ==========================================================================================
# Schedule
# ==========================================================================================

SCHEDULE = GMPSchedule(final_sparsity=0.95, start_update=20, end_update=80, update_every=10)


def eq1(t, final, start, end, power=3):
    """Paper Eq. 1 (float64), in the paper's own indexing (no +1)."""
    t = np.asarray(t, np.float64)
    progress = np.clip((t - start) / (end - start), 0.0, 1.0)
    return final * (1.0 - (1.0 - progress) ** power)


def test_target_at_hand_computed_values():
    # jaxpruner's progress = clip(t + 1 - start, 0, end - start) / (end - start)  (dossier §3.2)
    cases = {
        0: 0.0,
        19: 0.0,  # before start
        20: 0.95 * (1 - (59 / 60) ** 3),  # = 0.0467..., the first update already prunes a bit
        49: 0.95 * (1 - 0.5 ** 3),  # progress 30/60
        78: 0.95 * (1 - (1 / 60) ** 3),
        79: 0.95,  # progress reaches 1 one update before end_update
        80: 0.95,
        10_000: 0.95,
    }
    for t, expected in cases.items():
        assert float(SCHEDULE.target_at(t)) == pytest.approx(expected, abs=1e-6), t
        assert float(SCHEDULE.fraction_at(t)) == pytest.approx(expected / 0.95, abs=1e-6), t
    assert float(SCHEDULE.target_at(20)) == pytest.approx(0.0467, abs=5e-5)


def test_target_at_is_eq1_shifted_by_one():
    t = np.arange(-5, 200)
    expected = eq1(t + 1, 0.95, 20, 80)
    np.testing.assert_allclose(SCHEDULE.target_at(jnp.asarray(t)), expected, atol=1e-6)
    np.testing.assert_allclose(jax.jit(SCHEDULE.target_at)(jnp.asarray(t)), expected, atol=1e-6)
    np.testing.assert_allclose(jax.jit(SCHEDULE.fraction_at)(jnp.asarray(t)), expected / 0.95,
                               atol=1e-6)
    # and with another power / sparsity / window
    other = GMPSchedule(0.5, start_update=3, end_update=17, update_every=2, power=2)
    np.testing.assert_allclose(other.target_at(jnp.asarray(t)), eq1(t + 1, 0.5, 3, 17, power=2),
                               atol=1e-6)


def staircase_by_definition(schedule, t):
    """The sparsity of the masks in force at update t: the target at the latest mask-update
    step <= t (masks are recomputed at that step), 0 if there was none."""
    updates = [u for u in range(t + 1) if bool(schedule.is_mask_update(u))]
    return float(schedule.target_at(updates[-1])) if updates else 0.0


@pytest.mark.parametrize("schedule", [
    SCHEDULE,
    GMPSchedule(0.9, start_update=15, end_update=60, update_every=10),  # start off the grid
    GMPSchedule(0.8, start_update=0, end_update=7, update_every=1),
])
def test_sparsity_at_is_a_staircase(schedule):
    ts = np.arange(0, schedule.end_update + 3 * schedule.update_every)
    eager = np.array([float(schedule.sparsity_at(int(t))) for t in ts])
    jitted = np.asarray(jax.jit(schedule.sparsity_at)(jnp.asarray(ts)))
    np.testing.assert_array_equal(eager, jitted)
    expected = np.array([staircase_by_definition(schedule, int(t)) for t in ts])
    np.testing.assert_allclose(eager, expected, atol=1e-7)

    assert np.all(eager[ts < schedule.start_update] == 0.0)
    assert np.all(np.diff(eager) >= 0)
    changes = ts[1:][np.diff(eager) != 0]  # updates at which the sparsity changes
    assert len(changes) > 0
    assert np.all(changes % schedule.update_every == 0)
    assert np.all((changes >= schedule.start_update) & (changes <= schedule.end_update))
    # end_update is on the grid in all three schedules, so the final sparsity is reached there
    assert schedule.end_update % schedule.update_every == 0
    np.testing.assert_allclose(eager[ts >= schedule.end_update], schedule.final_sparsity,
                               atol=1e-6)


def test_sparsity_at_never_reaches_final_when_end_is_off_the_grid():
    """jaxpruner semantics: the last mask update is the last multiple of update_every <= end."""
    schedule = GMPSchedule(0.9, start_update=10, end_update=35, update_every=10)
    assert float(schedule.sparsity_at(1000)) == pytest.approx(float(schedule.target_at(30)))
    assert float(schedule.sparsity_at(1000)) < 0.9


def test_is_mask_update():
    ts = np.arange(0, 120)
    expected = [t for t in ts if t % 10 == 0 and 20 <= t <= 80]
    assert [t for t in ts if bool(SCHEDULE.is_mask_update(int(t)))] == expected
    flags = jax.jit(SCHEDULE.is_mask_update)(jnp.asarray(ts))
    assert ts[np.asarray(flags)].tolist() == expected


def test_from_run_length_paper_values():
    schedule = GMPSchedule.from_run_length(0.95, 2_500_000)
    assert (schedule.start_update, schedule.end_update, schedule.update_every) == (
        500_000, 2_000_000, 1000)
    assert schedule.final_sparsity == 0.95
    assert float(schedule.sparsity_at(499_999)) == 0.0
    assert float(schedule.sparsity_at(2_000_000)) == pytest.approx(0.95, abs=1e-6)


@pytest.mark.parametrize("total, update_every", [
    (123_456, 1000), (6_250_000, 1000), (10_000, 1000), (1_000, 1000), (100, 1000), (7, 1)])
def test_from_run_length_rounds_to_the_grid(total, update_every):
    schedule = GMPSchedule.from_run_length(0.9, total, update_every=update_every)
    every = schedule.update_every
    assert 1 <= every <= update_every
    assert schedule.start_update % every == 0 and schedule.end_update % every == 0
    assert schedule.start_update < schedule.end_update
    # within one grid step of 20% / 80% of the run
    assert abs(schedule.start_update - 0.2 * total) <= every
    assert abs(schedule.end_update - 0.8 * total) <= every
    assert float(schedule.sparsity_at(schedule.end_update)) == pytest.approx(0.9, abs=1e-6)
    if total >= 100_000:
        assert every == update_every  # long runs keep the requested mask-update period


def test_from_run_length_specific_rounding():
    s = GMPSchedule.from_run_length(0.95, 123_456)
    assert (s.start_update, s.end_update) == (25_000, 99_000)  # 24,691.2 and 98,764.8 rounded


@pytest.mark.parametrize("kwargs", [
    dict(final_sparsity=1.0, start_update=0, end_update=10),
    dict(final_sparsity=-0.1, start_update=0, end_update=10),
    dict(final_sparsity=0.5, start_update=10, end_update=10),
    dict(final_sparsity=0.5, start_update=10, end_update=5),
    dict(final_sparsity=0.5, start_update=-1, end_update=5),
    dict(final_sparsity=0.5, start_update=0, end_update=10, update_every=0),
    dict(final_sparsity=0.5, start_update=0, end_update=10, update_every=-5),
    dict(final_sparsity=0.5, start_update=0, end_update=10, power=0),
])
def test_schedule_rejects_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        GMPSchedule(**kwargs)


def test_from_run_length_rejects_invalid_arguments():
    with pytest.raises(ValueError):
        GMPSchedule.from_run_length(0.95, 0)
    with pytest.raises(ValueError):
        GMPSchedule.from_run_length(0.95, 1000, start_frac=0.8, end_frac=0.2)
    with pytest.raises(ValueError):
        GMPSchedule.from_run_length(1.0, 1000)


# ==========================================================================================
# ERK / uniform allocation
# ==========================================================================================

def impala_kernels(width):
    obs = jax.ShapeDtypeStruct((1, 84, 84, 4), jnp.uint8)
    return jax.eval_shape(ImpalaCNN(18, width=width).init, jax.random.key(0), obs)


# dossier §3.4: (total kernel weights, kept, first conv, block conv, stack-2 first conv,
#                last block conv, Dense(11*11*32k, 512), final Dense(512, 18))
DOSSIER_ERK = {
    1: (2_089_024, 104_458, 0.1805, 0.7006, 0.7872, 0.8621, 0.9599, 0.0),
    3: (6_829_248, 341_472, 0.2323, 0.8875, 0.9173, 0.9454, 0.9534, 0.0),
    5: (12_343_616, 617_181, 0.2019, 0.9264, 0.9455, 0.9639, 0.9488, 0.0),
}


@pytest.mark.parametrize("width", sorted(DOSSIER_ERK))
def test_erk_matches_dossier_table(width):
    total, kept, *layers = DOSSIER_ERK[width]
    params = impala_kernels(width)
    s = erk_sparsities(params, 0.95)["params"]
    got = [
        s["ImpalaStack_0"]["Conv_0"]["kernel"],
        s["ImpalaStack_0"]["ResidualBlock_0"]["Conv_0"]["kernel"],
        s["ImpalaStack_1"]["Conv_0"]["kernel"],
        s["ImpalaStack_2"]["ResidualBlock_1"]["Conv_1"]["kernel"],
        s["QHead_0"]["Dense_0"]["kernel"],
        s["QHead_0"]["Dense_1"]["kernel"],
    ]
    np.testing.assert_allclose(got, layers, atol=1e-4)  # the dossier rounds to 4 decimals
    assert got[-1] == 0.0  # the (512, 18) output layer stays dense

    leaves = jax.tree.leaves(params)
    sparsities = jax.tree.leaves(erk_sparsities(params, 0.95))
    kernels = [(leaf.size, sp) for leaf, sp in zip(leaves, sparsities, strict=True)
               if leaf.ndim > 1]
    assert sum(n for n, _ in kernels) == total
    assert all(sp == 0.0 for leaf, sp in zip(leaves, sparsities, strict=True) if leaf.ndim == 1)
    # what top-k keeps: within half a weight per kernel of (1 - 0.95) * total ...
    kept_topk = sum(max(1, round(n * (1 - sp))) for n, sp in kernels)
    assert abs(kept_topk - 0.05 * total) <= 0.5 * len(kernels)
    # ... and within 0.01% of the dossier's "kept" column
    assert kept_topk == pytest.approx(kept, rel=1e-4)


def test_erk_two_layers_by_hand():
    # raw densities 20/100 and 200/10000; eps = 0.1 * 10100 / (0.2*100 + 0.02*10000) = 1010/220
    params = {"a": np.zeros((10, 10)), "b": np.zeros((100, 100)), "bias": np.zeros(100)}
    s = erk_sparsities(params, 0.9)
    assert s["a"] == pytest.approx(1 - 0.2 * 1010 / 220, abs=1e-12)
    assert s["b"] == pytest.approx(1 - 0.02 * 1010 / 220, abs=1e-12)
    assert s["bias"] == 0.0


def test_erk_makes_overfull_layers_dense():
    # the (4, 4) layer would need density 0.5 * eps = 24.9 > 1: dense, and eps is re-solved
    params = {"small": np.zeros((4, 4)), "big": np.zeros((1000, 1000))}
    s = erk_sparsities(params, 0.9)
    assert s["small"] == 0.0
    assert s["big"] == pytest.approx(1 - (0.1 * 1_000_016 - 16) / 1_000_000, abs=1e-12)


def random_kernel_tree(rng, num_layers):
    tree = {}
    for i in range(num_layers):
        if rng.random() < 0.5:  # conv (kh, kw, in, out)
            k = int(rng.integers(1, 6))
            shape = (k, k, int(rng.integers(1, 65)), int(rng.integers(1, 129)))
        else:  # dense (in, out)
            shape = (int(rng.integers(1, 3000)), int(rng.integers(1, 600)))
        tree[f"layer{i}"] = {"kernel": np.empty(shape, np.float32),
                             "bias": np.empty(shape[-1:], np.float32)}
    return tree


@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_erk_invariant_on_random_shapes(sparsity, rng):
    for _ in range(5):
        tree = random_kernel_tree(rng, int(rng.integers(2, 10)))
        s = erk_sparsities(tree, sparsity)
        kernels = [(v["kernel"].shape, s[k]["kernel"]) for k, v in tree.items()]
        assert all(s[k]["bias"] == 0.0 for k in tree)
        sizes = np.array([np.prod(shape) for shape, _ in kernels], np.float64)
        sp = np.array([x for _, x in kernels])
        assert np.all((sp >= 0.0) & (sp < 1.0))
        # Σ (1 - s_l) N_l = (1 - s) Σ N_l
        np.testing.assert_allclose(((1 - sp) * sizes).sum(), (1 - sparsity) * sizes.sum(),
                                   rtol=1e-9)
        # density ∝ sum(shape) / prod(shape): a denser-by-ERK layer is never sparser
        raw = np.array([np.sum(shape) / np.prod(shape) for shape, _ in kernels])
        order = np.argsort(raw)
        assert np.all(np.diff(sp[order]) <= 1e-12)
        # layers not made dense have density exactly proportional to their raw density
        free = sp > 0
        if free.sum() >= 2:
            ratio = (1 - sp[free]) / raw[free]
            np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)


def test_uniform_gives_s_to_every_kernel():
    params = impala_kernels(1)
    s = uniform_sparsities(params, 0.95)
    for leaf, sp in zip(jax.tree.leaves(params), jax.tree.leaves(s), strict=True):
        assert sp == (0.95 if leaf.ndim > 1 else 0.0)
    assert jax.tree.leaves(layer_sparsities(params, 0.9, "uniform")) == jax.tree.leaves(
        uniform_sparsities(params, 0.9))
    assert jax.tree.leaves(layer_sparsities(params, 0.9, "erk")) == jax.tree.leaves(
        erk_sparsities(params, 0.9))


def test_allocation_rejects_bad_arguments():
    params = {"w": np.zeros((3, 3))}
    with pytest.raises(ValueError, match="allocation"):
        layer_sparsities(params, 0.9, "erdos")
    with pytest.raises(ValueError, match="allocation"):
        gmp(optax.adam(1e-3), SCHEDULE, allocation="random")
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError):
            erk_sparsities(params, bad)


# ==========================================================================================
# top-k masks
# ==========================================================================================

TOPK = jax.jit(topk_mask)  # compiled once per shape; the sparsity is a traced argument


def expected_kept(size, sparsity):
    exact = size * (1.0 - sparsity)
    # keep the test well posed: float32 vs float64 must not disagree on the rounding
    assert abs(exact - np.floor(exact) - 0.5) > 1e-3, (size, sparsity)
    return max(1, round(exact))


def reference_topk(scores, sparsity):
    """jaxpruner's rule by brute force: the first k of a stable descending sort.

    XLA (CPU and GPU) treats subnormal floats as zero (denormals-are-zero), so they tie with 0
    here too; weights that small never matter for pruning."""
    flat = scores.reshape(-1)
    flat = np.where(np.abs(flat) < np.finfo(np.float32).tiny, np.float32(0), flat)
    k = max(1, int(np.round(np.float32(flat.size) * (np.float32(1) - np.float32(sparsity)))))
    keep = np.zeros(flat.size, bool)
    keep[np.argsort(-flat, kind="stable")[:k]] = True
    return keep.reshape(scores.shape)


@pytest.mark.parametrize("shape", [(7,), (5, 14), (3, 3, 4, 8)])
def test_topk_keeps_the_largest(shape, rng):
    scores = rng.normal(size=shape).astype(np.float32)  # continuous: no ties
    for sparsity in (0.0, 0.3, 0.9, 0.99, 0.999):
        mask = np.asarray(TOPK(scores, sparsity))
        assert mask.shape == shape and mask.dtype == np.bool_
        assert mask.sum() == expected_kept(scores.size, sparsity), sparsity
        if not mask.all():
            assert scores[mask].min() > scores[~mask].max()


@pytest.mark.parametrize("shape", [(7,), (5, 14), (3, 3, 4, 8)])
def test_topk_matches_a_stable_sort(shape, rng):
    """Many ties, negative scores, the gmp scores (-1 = already pruned) and float extremes."""
    special = np.array([-1.0, 0.0, -0.0, 1e-40, 1e-30, 3e38, np.inf, -np.inf, -3e38, 0.5, 2.0],
                       np.float32)
    for trial in range(20):
        if trial % 2:
            scores = rng.integers(-3, 4, size=shape).astype(np.float32)  # heavy ties
        else:
            scores = rng.choice(special, size=shape)
        sparsity = float(rng.uniform(0.0, 1.0))
        np.testing.assert_array_equal(TOPK(scores, sparsity), reference_topk(scores, sparsity),
                                      err_msg=f"{scores}, {sparsity}")


def test_topk_without_jit_and_with_python_sparsity(rng):
    scores = rng.normal(size=(6, 50)).astype(np.float32)
    mask = topk_mask(jnp.asarray(scores), 0.95)
    np.testing.assert_array_equal(mask, TOPK(scores, jnp.float32(0.95)))
    assert int(mask.sum()) == expected_kept(300, 0.95)


def test_topk_ties_keep_lower_flat_indices():
    np.testing.assert_array_equal(TOPK(np.ones(10, np.float32), 0.7), np.arange(10) < 3)
    scores = np.asarray([1.0, 3.0, 3.0, 0.0, 3.0, 3.0], np.float32)
    np.testing.assert_array_equal(TOPK(scores, 0.5), [0, 1, 1, 0, 1, 0])
    # flat (row-major) order for a matrix
    grid = np.asarray([[2.0, 5.0, 5.0], [5.0, 5.0, 1.0]], np.float32)
    np.testing.assert_array_equal(TOPK(grid, 0.5), [[0, 1, 1], [1, 0, 0]])
    # ties straddling the threshold are cut by index, not all kept (jaxpruner keeps exactly k)
    np.testing.assert_array_equal(TOPK(np.zeros((2, 4), np.float32), 0.625),
                                  [[1, 1, 1, 0], [0, 0, 0, 0]])


def test_topk_extremes():
    scores = np.asarray([-1.0, -1.0, 0.0, -3.0], np.float32)
    assert bool(TOPK(scores, 0.0).all())  # s = 0 keeps everything, negative scores too
    np.testing.assert_array_equal(TOPK(scores, 0.99), [0, 0, 1, 0])  # at least one is kept
    np.testing.assert_array_equal(TOPK(scores, 0.5), [1, 0, 1, 0])  # 0.0 and the first -1.0


# ==========================================================================================
# gmp: the optax wrapper on a tiny regression problem
# ==========================================================================================

class TinyNet(nn.Module):
    """Conv (3,3,2,8) -> Dense (128, 32) -> Dense (32, 1): three kernels ERK treats differently
    (the (32, 1) output layer becomes dense at 90%)."""

    @nn.compact
    def __call__(self, x):  # (batch, 6, 6, 2)
        x = nn.relu(nn.Conv(8, (3, 3), padding="VALID")(x))
        x = nn.relu(nn.Dense(32)(x.reshape(x.shape[0], -1)))
        return nn.Dense(1)(x)[:, 0]  # (batch,)


NET = TinyNet()
PARAM_SHAPES = jax.eval_shape(NET.init, jax.random.key(0),
                              jax.ShapeDtypeStruct((1, 6, 6, 2), jnp.float32))


def seed_problem(seed, n=32):
    """Initial params and a regression data set for one seed, drawn with NumPy.

    (Flax's threefry-based initialisers take seconds to compile on CPU; these tests are about
    the optimizer wrapper.)"""
    rng = np.random.default_rng(seed)
    params = jax.tree.map(
        lambda s: rng.normal(0.0, 1 / np.sqrt(np.prod(s.shape[:-1])) if s.ndim > 1 else 0.1,
                             s.shape).astype(np.float32), PARAM_SHAPES)
    x = rng.normal(size=(n, 6, 6, 2)).astype(np.float32)
    y = np.tanh(np.einsum("nijc,ijc->n", x, rng.normal(size=(6, 6, 2))) / 4).astype(np.float32)
    return params, x, y


def loss_fn(params, x, y):
    return jnp.mean((NET.apply(params, x) - y) ** 2)


def make_run(tx, num_steps):
    """(params, x, y) -> (per-step params, per-step masks, final opt_state): full-batch training
    with `apply_masks` after every update, as an agent does it."""

    def run(params, x, y):
        def body(carry, _):
            params, opt_state = carry
            grads = jax.grad(loss_fn)(params, x, y)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            pruned = isinstance(opt_state, GMPState)
            params = apply_masks(params, opt_state) if pruned else params
            masks = opt_state.masks if pruned else None
            return (params, opt_state), (params, masks)

        (_, opt_state), (params_hist, masks_hist) = jax.lax.scan(
            body, (params, tx.init(params)), length=num_steps)
        return params_hist, masks_hist, opt_state

    return run


def kernel_paths(tree, stacked=False):
    """{path: array} for the kernels (ndim > 1, or > 2 for per-step stacks)."""
    return {jax.tree_util.keystr(p): np.asarray(v)
            for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]
            if np.ndim(v) > 1 + stacked}


def by_path(tree):
    """{path: float} for a pytree of scalars (e.g. the per-layer target sparsities)."""
    return {jax.tree_util.keystr(p): float(v)
            for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


ERK_SCHEDULE = GMPSchedule(0.9, start_update=10, end_update=40, update_every=5)
NUM_STEPS = 55
# Adam's eps as large as Dopamine's (1.5e-4), so that float rounding in near-zero gradients is
# not amplified into lr-sized differences (that matters for the vmap comparison)
RUN_ERK = jax.jit(make_run(gmp(optax.adam(1e-2, eps=1e-4), ERK_SCHEDULE), NUM_STEPS))


@pytest.fixture(scope="module")
def erk_run():
    return jax.device_get(RUN_ERK(*seed_problem(3)))


def test_pruned_weights_stay_exactly_zero(erk_run):
    params_hist, masks_hist, _ = erk_run
    for p, m in zip(jax.tree.leaves(params_hist), jax.tree.leaves(masks_hist), strict=True):
        assert p.shape == m.shape and p.shape[0] == NUM_STEPS
        assert np.all(p[m == 0] == 0.0)  # every step, every pruned coordinate
        assert np.all((m == 0) | (m == 1))
    # and pruning did happen (at the end 90% of kernel weights are zero)
    assert sparsity_report(jax.tree.map(lambda p: p[-1], params_hist))["total"] > 0.85


def test_no_regrowth(erk_run):
    _, masks_hist, _ = erk_run
    for m in jax.tree.leaves(masks_hist):
        assert np.all(np.diff(m, axis=0) <= 0)  # mask at step t + 1 <= mask at step t


def test_masks_change_only_on_mask_update_steps(erk_run):
    _, masks_hist, _ = erk_run
    # masks_hist[t] is the mask after the update made with count t
    changed = np.zeros(NUM_STEPS, bool)
    for m in kernel_paths(masks_hist, stacked=True).values():
        before = np.concatenate([np.ones_like(m[:1]), m[:-1]])
        changed |= (m != before).reshape(NUM_STEPS, -1).any(axis=1)
    is_update = np.array([bool(ERK_SCHEDULE.is_mask_update(t)) for t in range(NUM_STEPS)])
    assert np.all(changed <= is_update)
    assert changed.sum() == is_update.sum() == 7  # 10, 15, ..., 40: each one prunes more


def test_per_layer_sparsity_follows_the_staircase(erk_run):
    _, masks_hist, opt_state = erk_run
    targets = by_path(opt_state.target_sparsities)
    updates = [u for u in range(NUM_STEPS) if bool(ERK_SCHEDULE.is_mask_update(u))]
    for path, m in kernel_paths(masks_hist, stacked=True).items():
        size = m[0].size
        for t in range(NUM_STEPS):
            # latest mask update <= t; its per-layer sparsity is target * fraction_at(update)
            last = max([u for u in updates if u <= t], default=None)
            s = 0.0 if last is None else targets[path] * float(ERK_SCHEDULE.fraction_at(last))
            zeros = size - int(m[t].sum())
            assert abs(zeros - (size - max(1, round(size * (1 - s))))) <= 1, (path, t)


def test_erk_targets_reached_after_end(erk_run):
    params_hist, _, opt_state = erk_run
    params = jax.tree.map(lambda p: p[-1], params_hist)
    expected = erk_sparsities(params, 0.9)
    report = sparsity_report(params)
    sizes = {path: p.size for path, p in kernel_paths(params).items()}
    stored = by_path(opt_state.target_sparsities)
    for path, target in by_path(expected).items():
        assert stored[path] == pytest.approx(target, abs=1e-6)
        if path in sizes:
            assert abs(report[path] - target) <= 1.0 / sizes[path], path
    assert report["['params']['Dense_1']['kernel']"] == 0.0  # ERK keeps the (32, 1) layer dense
    assert 0.7 < report["['params']['Conv_0']['kernel']"] < 0.8
    assert report["['params']['Dense_0']['kernel']"] > 0.9
    assert abs(report["total"] - 0.9) <= len(sizes) / sum(sizes.values())
    assert int(opt_state.count) == NUM_STEPS


def test_masks_keep_the_largest_magnitudes(erk_run):
    """At a mask update, the kept weights are the largest |w| among the previously kept ones."""
    params_hist, masks_hist, _ = erk_run
    params = kernel_paths(params_hist, stacked=True)
    masks = kernel_paths(masks_hist, stacked=True)
    pruned_some = False
    for t in (15, 25, 40):  # mask-update steps; masks are computed from the params before t
        for path in params:
            w, before, after = np.abs(params[path][t - 1]), masks[path][t - 1], masks[path][t]
            newly_pruned = (before == 1) & (after == 0)
            if newly_pruned.any():
                pruned_some = True
                assert w[after == 1].min() >= w[newly_pruned].max(), (path, t)
    assert pruned_some


def test_gradients_of_pruned_weights_are_not_masked(erk_run):
    """jaxpruner's default (dossier §3.2): Adam moments of pruned weights keep moving."""
    _, masks_hist, opt_state = erk_run
    mu = kernel_paths(opt_state.inner_state[0].mu)
    for path, m in kernel_paths(masks_hist, stacked=True).items():
        if (m[-1] == 0).any():
            assert np.abs(mu[path][m[-1] == 0]).max() > 0


def test_uniform_allocation_reaches_s_per_kernel():
    schedule = GMPSchedule(0.8, start_update=0, end_update=10, update_every=5)
    run = jax.jit(make_run(gmp(optax.adam(1e-2), schedule, allocation="uniform"), 12))
    params_hist, _, opt_state = jax.device_get(run(*seed_problem(0)))
    params = jax.tree.map(lambda p: p[-1], params_hist)
    report = sparsity_report(params)
    for path, p in kernel_paths(params).items():
        assert report[path] == (p.size - max(1, round(p.size * 0.2))) / p.size, path
    for stored, p in zip(jax.tree.leaves(opt_state.target_sparsities), jax.tree.leaves(params),
                         strict=True):
        assert float(stored) == pytest.approx(0.8 if p.ndim > 1 else 0.0)


def test_dense_gmp_is_adam_bit_for_bit():
    num_steps = 60
    adam = optax.adam(1e-2)
    dense = gmp(optax.adam(1e-2), GMPSchedule(0.0, start_update=5, end_update=45, update_every=5))
    problem = seed_problem(7)
    params_adam, _, _ = jax.device_get(jax.jit(make_run(adam, num_steps))(*problem))
    params_gmp, masks, _ = jax.device_get(jax.jit(make_run(dense, num_steps))(*problem))
    assert all(np.all(m == 1) for m in jax.tree.leaves(masks))
    for a, b in zip(jax.tree.leaves(params_adam), jax.tree.leaves(params_gmp), strict=True):
        np.testing.assert_array_equal(a, b)  # every step, bit for bit
    kernel = jax.tree.leaves(params_adam)[1]
    assert kernel.ndim == 5 and not np.allclose(kernel[0], kernel[-1])  # the params did train


@pytest.mark.parametrize("mode", ["eager", "disable_jit"])
def test_jit_and_eager_agree(mode, rng):
    """The wrapper alone (update + apply_masks) without jit vs jitted, on synthetic gradients."""
    params = {"a": rng.normal(size=(4, 6)).astype(np.float32),
              "b": rng.normal(size=(6, 3)).astype(np.float32),
              "c": np.zeros(3, np.float32)}
    grads = [jax.tree.map(lambda p: rng.normal(size=p.shape).astype(np.float32), params)
             for _ in range(3)]  # eager updates recompile their lax.cond each call: keep it short
    tx = gmp(optax.adam(1e-1), GMPSchedule(0.7, start_update=0, end_update=2, update_every=1))

    def update(params, state, g):
        updates, state = tx.update(g, state, params)
        return apply_masks(optax.apply_updates(params, updates), state), state

    jitted = jax.jit(update)
    p_eager = p_jit = params
    s_eager = s_jit = tx.init(params)
    for g in grads:
        if mode == "disable_jit":
            with jax.disable_jit():
                p_eager, s_eager = update(p_eager, s_eager, g)
        else:
            p_eager, s_eager = update(p_eager, s_eager, g)
        p_jit, s_jit = jitted(p_jit, s_jit, g)
        for a, b in zip(jax.tree.leaves(s_eager.masks), jax.tree.leaves(s_jit.masks),
                        strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(jax.tree.leaves(p_eager), jax.tree.leaves(p_jit), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # XLA fuses Adam differently
    report = sparsity_report(p_jit)  # ERK at 70%: (4, 6) keeps round(6.63), (6, 3) round(5.97)
    assert report["['a']"] == pytest.approx(17 / 24) and report["['b']"] == pytest.approx(12 / 18)


def test_topk_mask_under_disable_jit():
    """Regression: fori_loop hands a Python int to the bit loop when jit is disabled."""
    scores = jnp.asarray([0.3, 0.1, 0.4, 0.2])
    expected = np.asarray(TOPK(scores, 0.5))
    np.testing.assert_array_equal(expected, [True, False, True, False])
    with jax.disable_jit():
        got = topk_mask(scores, 0.5)
    np.testing.assert_array_equal(got, expected)


def test_vmap_over_seeds_equals_separate_runs():
    seeds = (0, 1, 2)
    problems = [seed_problem(s) for s in seeds]
    batch = jax.tree.map(lambda *xs: np.stack(xs), *problems)  # leading axis = seed
    batched = jax.device_get(jax.jit(jax.vmap(RUN_ERK))(*batch))
    for i, problem in enumerate(problems):
        params_hist, masks_hist, state = jax.device_get(RUN_ERK(*problem))
        for a, b in zip(jax.tree.leaves(masks_hist), jax.tree.leaves(batched[1]), strict=True):
            np.testing.assert_array_equal(a, b[i])  # identical masks at every step
        for a, b in zip(jax.tree.leaves(params_hist), jax.tree.leaves(batched[0]), strict=True):
            np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-5)
        assert int(batched[2].count[i]) == int(state.count) == NUM_STEPS
    # the seeds differ, so the test would notice one run replicated across the batch
    final_masks = kernel_paths(jax.tree.map(lambda m: m[:, -1], batched[1]), stacked=True)
    assert not np.array_equal(*list(final_masks.values())[0][:2])


# ==========================================================================================
# helpers: apply_masks, sparsity_report, state
# ==========================================================================================

def test_apply_masks_raises_without_a_pruning_state():
    params = {"w": jnp.asarray([[0.0, 1.5], [-2.0, 3.0]]), "b": jnp.ones(2)}
    for tx in (optax.adam(1e-3), optax.sgd(0.1), optax.chain(optax.clip(1.0), optax.adam(1.0))):
        with pytest.raises(ValueError, match="pruning state"):
            apply_masks(params, tx.init(params))


def test_apply_masks_multiplies_by_the_masks():
    params = {"w": jnp.asarray([[0.5, 1.5], [-2.0, 3.0]]), "b": jnp.ones(2)}
    state = gmp(optax.adam(1e-3), SCHEDULE).init(params)
    state = state._replace(masks={"w": jnp.asarray([[1.0, 0.0], [0.0, 1.0]]), "b": jnp.ones(2)})
    out = apply_masks(params, state)
    np.testing.assert_array_equal(out["w"], [[0.5, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(out["b"], [1.0, 1.0])


def test_gmp_init_state():
    params, _, _ = seed_problem(0)
    state = gmp(optax.adam(1e-3), ERK_SCHEDULE).init(params)
    assert isinstance(state, GMPState) and int(state.count) == 0
    assert all(np.all(np.asarray(m) == 1) for m in jax.tree.leaves(state.masks))
    for a, b in zip(jax.tree.leaves(state.target_sparsities),
                    jax.tree.leaves(erk_sparsities(params, 0.9)), strict=True):
        assert float(a) == pytest.approx(b, abs=1e-7)


def test_gmp_requires_params():
    params = {"w": jnp.ones((3, 3))}
    tx = gmp(optax.adam(1e-3), SCHEDULE)
    with pytest.raises(ValueError, match="params"):
        tx.update(params, tx.init(params))


def test_sparsity_report_on_a_hand_made_tree():
    tree = {
        "conv": {"kernel": np.array([[[[0.0, 1.0]]], [[[0.0, 0.0]]]]),  # (2,1,1,2): 3 of 4 zero
                 "bias": np.zeros(2)},  # ignored: never prunable
        "dense": {"kernel": np.array([[1.0, -0.0, 2.0], [3.0, 4.0, 5.0]])},  # 1 of 6 zero
        "scalar": np.float32(0.0),
    }
    report = sparsity_report(tree)
    assert set(report) == {"['conv']['kernel']", "['dense']['kernel']", "total"}
    assert report["['conv']['kernel']"] == 0.75
    assert report["['dense']['kernel']"] == pytest.approx(1 / 6)
    assert report["total"] == pytest.approx(4 / 10)
    assert sparsity_report({"b": np.zeros(3)}) == {"total": 0.0}
