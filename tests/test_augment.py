"""DrQ augmentation (`prunebook.agents.augment`) against hand-made cases and Dopamine's ranges."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunebook.agents import augment

# A 3x3 single-channel image and its 'edge' padding by 1, written out by hand:
#   1 1 2 3 3
#   1 1 2 3 3
#   4 4 5 6 6
#   7 7 8 9 9
#   7 7 8 9 9
IMAGE = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.uint8)[None, :, :, None]  # (1, 3, 3, 1)


@pytest.mark.parametrize("row, col, expected", [
    (0, 0, [[1, 1, 2], [1, 1, 2], [4, 4, 5]]),  # moved down-right by one pixel
    (1, 1, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),  # offset = pad: unchanged
    (2, 1, [[4, 5, 6], [7, 8, 9], [7, 8, 9]]),  # moved up by one, bottom row repeated
    (0, 1, [[1, 2, 3], [1, 2, 3], [4, 5, 6]]),  # moved down by one
    (0, 2, [[2, 3, 3], [2, 3, 3], [5, 6, 6]]),  # moved down and left, right column repeated
    (2, 0, [[4, 4, 5], [7, 7, 8], [7, 7, 8]]),
])
def test_shift_is_a_crop_of_the_edge_padded_image(row, col, expected):
    out = augment.shift(IMAGE, jnp.array([row]), jnp.array([col]), pad=1)
    assert out.shape == IMAGE.shape and out.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out)[0, :, :, 0], np.array(expected, np.float32))


def test_shift_moves_all_stacked_frames_together():
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (2, 84, 84, 4), dtype=np.uint8)
    out = np.asarray(augment.shift(obs, jnp.array([0, 7]), jnp.array([5, 4]), pad=4))
    padded = np.pad(obs, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="edge")
    np.testing.assert_array_equal(out[0], padded[0, 0:84, 5:89])
    np.testing.assert_array_equal(out[1], padded[1, 7:91, 4:88])


def _find_offset(padded: np.ndarray, image: np.ndarray, pad: int):
    hits = [(r, c) for r in range(2 * pad + 1) for c in range(2 * pad + 1)
            if np.array_equal(padded[r:r + image.shape[0], c:c + image.shape[1]], image)]
    assert len(hits) == 1, hits  # random images: exactly one window matches
    return hits[0]


def test_drq_augmentation_shapes_dtype_and_is_a_per_image_shift():
    rng = np.random.default_rng(1)
    obs = rng.integers(0, 256, (5, 84, 84, 4), dtype=np.uint8)
    key = jax.random.PRNGKey(3)
    out = jax.jit(augment.drq_augmentation)(key, obs)
    assert out.shape == obs.shape and out.dtype == jnp.float32
    shifted = np.asarray(jax.jit(augment.drq_augmentation, static_argnames="intensity_scale")(
        key, obs, intensity_scale=0.0))
    padded = np.pad(obs, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="edge").astype(np.float32)
    offsets = [_find_offset(padded[i], shifted[i], 4) for i in range(len(obs))]
    assert all(0 <= r < 8 and 0 <= c < 8 for r, c in offsets)
    assert len(set(offsets)) > 1  # each image draws its own shift
    # intensity: one factor per image, 1 + 0.05 * clip(z, -2, 2) in [0.9, 1.1]
    factors = np.asarray(out).reshape(5, -1) / np.maximum(shifted.reshape(5, -1), 1e-6)
    nonzero = shifted.reshape(5, -1) > 0
    for i in range(5):
        f = factors[i][nonzero[i]]
        np.testing.assert_allclose(f, f[0], rtol=1e-5)
        assert 0.9 - 1e-6 <= f[0] <= 1.1 + 1e-6


def test_same_key_same_output_different_keys_different_shifts():
    rng = np.random.default_rng(2)
    obs = rng.integers(0, 256, (8, 84, 84, 4), dtype=np.uint8)
    a = augment.drq_augmentation(jax.random.PRNGKey(0), obs)
    b = augment.drq_augmentation(jax.random.PRNGKey(0), obs)
    c = augment.drq_augmentation(jax.random.PRNGKey(1), obs)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    offsets = [augment.shift_offsets(jax.random.PRNGKey(k), 8) for k in (0, 1)]
    assert not all(np.array_equal(x, y) for x, y in zip(*offsets, strict=True))
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_offsets_cover_dopamines_range_exactly():
    # randint(0, 2 * pad) with an exclusive bound: 0..7, so the shift is -4..+3 pixels
    rows, cols = augment.shift_offsets(jax.random.PRNGKey(0), 4000, pad=4)
    assert set(np.asarray(rows).tolist()) == set(range(8))
    assert set(np.asarray(cols).tolist()) == set(range(8))


def test_leading_axes_are_flattened_and_restored():
    obs = np.arange(2 * 3 * 6 * 6 * 2, dtype=np.float32).reshape(2, 3, 6, 6, 2)
    out = augment.drq_augmentation(jax.random.PRNGKey(0), obs, pad=2)
    flat = augment.drq_augmentation(jax.random.PRNGKey(0), obs.reshape(6, 6, 6, 2), pad=2)
    assert out.shape == obs.shape
    np.testing.assert_array_equal(np.asarray(out).reshape(6, 6, 6, 2), np.asarray(flat))
