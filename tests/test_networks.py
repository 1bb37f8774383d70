"""Networks: parameter counts against the dossier (§2.4), output shapes and values of every head,
PatchConv == nn.Conv, width validation and Atari input scaling.

Large networks are only traced (`jax.eval_shape`), never run, so width 5 costs nothing.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunebook.networks import (
    ImpalaCNN,
    MinAtarCNN,
    NatureCNN,
    PatchConv,
    QNetworkOutput,
    count_params,
    make_network,
)

ATARI_OBS = jax.ShapeDtypeStruct((1, 84, 84, 4), jnp.uint8)
NUM_ACTIONS = 18


def shape_params(net, obs=ATARI_OBS):
    return jax.eval_shape(net.init, jax.random.key(0), obs)


def random_params(net, obs, rng):
    """Parameters of `net`'s shapes drawn with NumPy (fan-in scaled normal kernels, small biases).

    Cheaper than `net.init`, whose threefry-based initialisers take seconds to compile on CPU;
    these tests are about the forward computation, not the initialisers."""
    def draw(leaf):
        scale = 1.0 / np.sqrt(np.prod(leaf.shape[:-1])) if leaf.ndim > 1 else 0.1
        return jnp.asarray(rng.normal(0.0, scale, leaf.shape), jnp.float32)
    return jax.tree.map(draw, shape_params(net, obs))


# --- parameter counts (dossier §2.4 table, |A| = 18, all params incl. biases) --------------

@pytest.mark.parametrize("width, expected", [
    (1, 2_089_954), (2, 4_363_698), (3, 6_830_978), (4, 9_491_794), (5, 12_346_146)])
def test_impala_param_count(width, expected):
    assert count_params(shape_params(ImpalaCNN(NUM_ACTIONS, width=width))) == expected


@pytest.mark.parametrize("width, expected", [(2, 8_338_354), (3, 18_745_218)])
def test_impala_scale_dense_param_count(width, expected):
    net = ImpalaCNN(NUM_ACTIONS, width=width, scale_dense=True)
    assert count_params(shape_params(net)) == expected


@pytest.mark.parametrize("width, expected", [(1, 4_363_698), (3, 15_394_034)])
def test_impala_wide_stacks_param_count(width, expected):
    net = ImpalaCNN(NUM_ACTIONS, width=width, stack_sizes=(32, 64, 64))
    assert count_params(shape_params(net)) == expected


@pytest.mark.parametrize("width, expected", [(1, 1_693_362), (3, 5_478_386), (5, 9_820_466)])
def test_nature_param_count(width, expected):
    assert count_params(shape_params(NatureCNN(NUM_ACTIONS, width=width))) == expected


@pytest.mark.parametrize("width, expected", [(3, 15_131_634), (5, 41_972_018)])
def test_nature_scale_dense_param_count(width, expected):
    net = NatureCNN(NUM_ACTIONS, width=width, scale_dense=True)
    assert count_params(shape_params(net)) == expected


def test_impala_layout_matches_dopamine():
    """15 layers at 2 blocks: 3 stacks x (1 conv + 2 blocks x 2 convs), then Dense 512 -> |A|;
    spatial 84 -> 42 -> 21 -> 11 so the flatten is 11*11*32*k."""
    p = shape_params(ImpalaCNN(NUM_ACTIONS, width=3))["params"]
    kernels = [leaf for leaf in jax.tree.leaves(p) if leaf.ndim > 1]
    assert len(kernels) == 3 * (1 + 2 * 2) + 2
    assert p["ImpalaStack_0"]["Conv_0"]["kernel"].shape == (3, 3, 4, 48)
    assert p["ImpalaStack_2"]["ResidualBlock_1"]["Conv_1"]["kernel"].shape == (3, 3, 96, 96)
    assert p["QHead_0"]["Dense_0"]["kernel"].shape == (11 * 11 * 96, 512)
    assert p["QHead_0"]["Dense_1"]["kernel"].shape == (512, NUM_ACTIONS)


def test_dopamine_cross_check_four_actions():
    """Dopamine 4.1.2's ImpalaDQNNetwork with |A|=4 has 2,082,772 params (dossier §2.4)."""
    assert count_params(shape_params(ImpalaCNN(4))) == 2_082_772


# --- output shapes -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nature", "impala"])
@pytest.mark.parametrize("dueling", [False, True])
def test_atari_dqn_head_shapes(name, dueling):
    net = make_network(name, NUM_ACTIONS, width=2, dueling=dueling)
    obs = jax.ShapeDtypeStruct((5, 84, 84, 4), jnp.uint8)
    params = shape_params(net, obs)
    out = jax.eval_shape(net.apply, params, obs)
    assert isinstance(out, QNetworkOutput)
    assert out.q_values.shape == (5, NUM_ACTIONS)
    assert out.q_values.dtype == jnp.float32
    assert out.logits is None and out.probabilities is None


@pytest.mark.parametrize("name", ["nature", "impala"])
@pytest.mark.parametrize("dueling", [False, True])
def test_atari_c51_head_shapes(name, dueling):
    net = make_network(name, NUM_ACTIONS, num_atoms=51, dueling=dueling)
    obs = jax.ShapeDtypeStruct((5, 84, 84, 4), jnp.uint8)
    params = shape_params(net, obs)
    out = jax.eval_shape(net.apply, params, obs)
    assert out.q_values.shape == (5, NUM_ACTIONS)
    assert out.logits.shape == (5, NUM_ACTIONS, 51)
    assert out.probabilities.shape == (5, NUM_ACTIONS, 51)


def test_make_network_rejects_unknown_name():
    with pytest.raises(ValueError, match="network must be one of"):
        make_network("resnet", NUM_ACTIONS)
    assert isinstance(make_network("minatar", 6, width=2), MinAtarCNN)


# --- MinAtar network ---------------------------------------------------------------------

def minatar_obs(rng, shape, p=0.3):
    return (rng.random(shape) < p).astype(np.float32)  # {0, 1} planes like MinAtar's


@pytest.mark.parametrize("width, channels", [(1, 4), (3, 7), (5, 10)])
def test_minatar_shapes(width, channels, rng):
    net = MinAtarCNN(6, width=width)
    obs = minatar_obs(rng, (3, 10, 10, channels))
    params = random_params(net, obs, rng)
    # an unbatched observation gets a batch of 1
    out, single = jax.jit(lambda p, o: (net.apply(p, o), net.apply(p, o[0])))(params, obs)
    p = params["params"]
    assert p["Conv_0"]["kernel"].shape == (3, 3, channels, 16 * width)
    assert p["QHead_0"]["Dense_0"]["kernel"].shape == (8 * 8 * 16 * width, 128)
    assert p["QHead_0"]["Dense_1"]["kernel"].shape == (128, 6)
    assert out.q_values.shape == (3, 6)
    assert single.q_values.shape == (1, 6)
    np.testing.assert_allclose(single.q_values[0], out.q_values[0], rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(out.q_values))


def test_minatar_scale_dense():
    obs = jax.ShapeDtypeStruct((1, 10, 10, 4), jnp.float32)
    p = shape_params(MinAtarCNN(6, width=3, scale_dense=True), obs)["params"]
    assert p["QHead_0"]["Dense_0"]["kernel"].shape == (8 * 8 * 48, 384)


# --- head values -------------------------------------------------------------------------

@pytest.mark.parametrize("v_max, dueling", [(10.0, False), (3.0, True)])
def test_c51_probabilities_and_expected_q(v_max, dueling, rng):
    net = MinAtarCNN(5, num_atoms=51, v_max=v_max, dueling=dueling)
    obs = minatar_obs(rng, (4, 10, 10, 4), 0.5)
    params = random_params(net, obs, rng)
    out = jax.jit(net.apply)(params, obs)
    assert out.logits.shape == out.probabilities.shape == (4, 5, 51)
    probs = np.asarray(out.probabilities, np.float64)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    logits = np.asarray(out.logits, np.float64)
    softmax = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(probs, softmax / softmax.sum(-1, keepdims=True), atol=1e-6)
    assert np.ptp(probs, axis=-1).min() > 1e-4  # not uniform: the expectation below is a check
    support = np.linspace(-v_max, v_max, 51)
    np.testing.assert_allclose(out.q_values, (probs * support).sum(-1), atol=1e-5)
    assert np.all(np.abs(np.asarray(out.q_values)) <= v_max + 1e-5)


def test_dueling_q_is_value_plus_centred_advantage(rng):
    """q(s, a) = V(s) + A(s, a) - mean_a A(s, a), so mean_a q(s, a) = V(s)."""
    net = MinAtarCNN(5, dueling=True)
    obs = minatar_obs(rng, (4, 10, 10, 4), 0.5)
    params = random_params(net, obs, rng)
    out, state = jax.jit(lambda p, o: net.apply(p, o, capture_intermediates=True))(
        params, obs)
    head = state["intermediates"]["QHead_0"]
    advantage = np.asarray(head["Dense_1"]["__call__"][0])  # (batch, actions)
    value = np.asarray(head["Dense_2"]["__call__"][0])  # (batch, 1)
    assert advantage.shape == (4, 5) and value.shape == (4, 1)
    expected = value + advantage - advantage.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(out.q_values, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out.q_values).mean(axis=1), value[:, 0], atol=1e-5)


# --- rank promotion (conftest raises on implicit rank promotion) ----------------------------

def test_minatar_cnn_is_rank_promotion_safe():
    """Regression: PatchConv once added its (features,) bias to a rank-4 array implicitly."""
    assert jax.config.jax_numpy_rank_promotion == "raise"
    net, obs = MinAtarCNN(6), jax.ShapeDtypeStruct((2, 10, 10, 4), jnp.float32)
    out = jax.eval_shape(net.apply, shape_params(net, obs), obs)
    assert out.q_values.shape == (2, 6)


def test_c51_head_is_rank_promotion_safe():
    """Regression: the C51 expectation once broadcast (atoms,) against (batch, actions, atoms)."""
    assert jax.config.jax_numpy_rank_promotion == "raise"
    net = NatureCNN(NUM_ACTIONS, num_atoms=51)
    out = jax.eval_shape(net.apply, shape_params(net), ATARI_OBS)
    assert out.q_values.shape == (1, NUM_ACTIONS)


# --- PatchConv == nn.Conv(padding="VALID") -------------------------------------------------

@pytest.mark.parametrize("kernel_size, features", [((3, 3), 8), ((2, 3), 5)])
def test_patch_conv_matches_conv(kernel_size, features, rng):
    x = jnp.asarray(rng.normal(size=(3, 10, 9, 4)), jnp.float32)
    patch = PatchConv(features, kernel_size)
    conv = nn.Conv(features, kernel_size, padding="VALID")
    params = random_params(patch, x, rng)  # non-zero bias: a misplaced bias add would show
    assert jax.tree.map(jnp.shape, shape_params(conv, x)) == jax.tree.map(jnp.shape, params)
    out_shape = (3, 10 - kernel_size[0] + 1, 9 - kernel_size[1] + 1, features)
    weights = jnp.asarray(rng.normal(size=out_shape), jnp.float32)

    def output_and_grads(module, p, inputs):
        loss = lambda p, inputs: jnp.sum(module.apply(p, inputs) * weights)
        return module.apply(p, inputs), jax.grad(loss, argnums=(0, 1))(p, inputs)

    y_patch, g_patch = jax.jit(lambda p, i: output_and_grads(patch, p, i))(params, x)
    y_conv, g_conv = jax.jit(lambda p, i: output_and_grads(conv, p, i))(params, x)
    assert y_patch.shape == y_conv.shape == out_shape
    np.testing.assert_allclose(y_patch, y_conv, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(g_patch), jax.tree.leaves(g_conv), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


# --- width validation --------------------------------------------------------------------

@pytest.mark.parametrize("cls", [NatureCNN, ImpalaCNN, MinAtarCNN])
@pytest.mark.parametrize("width", [0, -1, 1.5])
def test_bad_width_raises(cls, width):
    with pytest.raises(ValueError, match="width"):
        shape_params(cls(6, width=width))


# --- input scaling -----------------------------------------------------------------------

def test_input_scale_defaults():
    assert NatureCNN(4).input_scale == ImpalaCNN(4).input_scale == 1.0 / 255.0
    assert MinAtarCNN(4).input_scale == 1.0  # {0, 1} planes


@pytest.mark.parametrize("cls, shape", [(NatureCNN, (2, 36, 36, 4)), (ImpalaCNN, (2, 16, 16, 4))])
def test_uint8_input_is_scaled_by_1_over_255(cls, shape, rng):
    frames = rng.integers(0, 256, size=shape, dtype=np.uint8)
    net, unscaled = cls(4), cls(4, input_scale=1.0)
    params = random_params(net, frames, rng)

    @jax.jit
    def q_values(p, frames):
        as_float = frames.astype(jnp.float32)
        full = jnp.full(shape, 255, jnp.uint8)
        return (net.apply(p, frames).q_values,  # the network's own scaling
                unscaled.apply(p, as_float / 255.0).q_values,  # scaled by hand
                unscaled.apply(p, as_float).q_values,  # not scaled at all
                net.apply(p, full).q_values,  # all-255 frames ...
                unscaled.apply(p, jnp.ones(shape, jnp.float32)).q_values)  # ... = all ones

    q_uint8, q_manual, q_raw, q_full, q_ones = q_values(params, frames)
    np.testing.assert_allclose(q_uint8, q_manual, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q_full, q_ones, rtol=1e-5, atol=1e-6)
    # and the scaling is not a no-op: raw 0..255 values give different Q-values
    assert not np.allclose(q_raw, q_uint8, rtol=1e-3, atol=1e-3)


def test_minatar_input_is_not_scaled(rng):
    obs = minatar_obs(rng, (2, 10, 10, 4), 0.5)
    net = MinAtarCNN(3)
    params = random_params(net, obs, rng)
    q_uint8, q_float, q_double = jax.jit(lambda p, o: (
        net.apply(p, o.astype(jnp.uint8)).q_values, net.apply(p, o).q_values,
        net.apply(p, 2.0 * o).q_values))(params, obs)
    np.testing.assert_allclose(q_uint8, q_float, rtol=1e-6, atol=1e-7)
    assert not np.allclose(q_double, q_float, rtol=1e-3, atol=1e-3)  # inputs do matter
