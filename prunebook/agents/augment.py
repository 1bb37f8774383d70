"""DrQ image augmentation as Dopamine's Atari-100k agents apply it [dossier §5.2].

Dopamine's `drq_image_augmentation` (`dopamine/labs/atari_100k/atari_100k_rainbow_agent.py`),
used by DrQ(eps) on both the observations and the next observations of every sampled batch:

1. **Random shift.** Pad each 84x84 image by 4 pixels on every side, repeating the edge pixels
   ('edge' mode; the PyTorch reference uses `ReplicationPad2d`), then crop an 84x84 window at
   an offset drawn per image, independently for rows and columns. All 4 frames of a stack
   move together (they are the channels of one image).
2. **Intensity.** Multiply each image by `1 + 0.05 * clip(N(0, 1), -2, 2)`, one draw per image
   (Schwarzer et al. 2020's intensity augmentation).

The offsets are `randint(0, 2 * pad)` with Dopamine's exclusive upper bound, so they range over
0..7: the image moves by -4..+3 pixels, never +4. We keep that asymmetry. Key use follows
Dopamine too: `split(key)` gives the intensity key and the crop key, and the crop key splits
into the row key and the column key.

Dopamine augments the pixels after dividing by 255; our networks divide inside (`input_scale`),
so here the images stay on the 0..255 scale. Cropping commutes with the scaling and the
intensity factor is a product, so the network sees the same input (up to float rounding).
Everything is a pure function of an explicit PRNG key, jittable and batched over any leading
axes: `obs` is (..., height, width, channels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DRQ_PAD = 4  # pixels of 'edge' padding on each side (Dopamine `img_pad=4`)
DRQ_INTENSITY_SCALE = 0.05  # Dopamine `_intensity_aug(scale=0.05)`


def _flat(obs: jax.Array) -> jax.Array:
    return obs.reshape(-1, *obs.shape[-3:])  # (N, height, width, channels)


def shift_offsets(key: jax.Array, num_images: int, pad: int = DRQ_PAD):
    """Per-image crop offsets into the padded image: rows, cols (N,) int32 in [0, 2 * pad).

    Offset `pad` is the unshifted image; Dopamine's bound is exclusive, so `2 * pad` never
    occurs.
    """
    row_key, col_key = jax.random.split(key)
    rows = jax.random.randint(row_key, (num_images,), 0, 2 * pad)
    cols = jax.random.randint(col_key, (num_images,), 0, 2 * pad)
    return rows, cols


def shift(obs: jax.Array, rows: jax.Array, cols: jax.Array, pad: int = DRQ_PAD) -> jax.Array:
    """Edge-pad every image by `pad` and crop it back at (rows[i], cols[i]); float32.

    out[i, y, x] = padded[i, y + rows[i], x + cols[i]], where padded repeats the border pixels.
    """
    images = _flat(obs).astype(jnp.float32)  # (N, H, W, C)
    _, height, width, channels = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")

    def crop(image, row, col):
        return jax.lax.dynamic_slice(image, (row, col, 0), (height, width, channels))

    return jax.vmap(crop)(padded, rows, cols).reshape(obs.shape)


def intensity(key: jax.Array, obs: jax.Array, scale: float = DRQ_INTENSITY_SCALE) -> jax.Array:
    """x * (1 + scale * clip(z, -2, 2)), one z ~ N(0, 1) per image; float32."""
    images = _flat(obs).astype(jnp.float32)
    z = jax.random.normal(key, (images.shape[0], 1, 1, 1))
    return (images * (1.0 + scale * jnp.clip(z, -2.0, 2.0))).reshape(obs.shape)


def drq_augmentation(key: jax.Array, obs: jax.Array, pad: int = DRQ_PAD,
                     intensity_scale: float = DRQ_INTENSITY_SCALE) -> jax.Array:
    """Random shift then intensity, as Dopamine's `drq_image_augmentation`; float32, same shape."""
    intensity_key, crop_key = jax.random.split(key)
    rows, cols = shift_offsets(crop_key, _flat(obs).shape[0], pad)
    return intensity(intensity_key, shift(obs, rows, cols, pad), intensity_scale)
