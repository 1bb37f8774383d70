"""Width-scalable Q-networks: Nature CNN, Impala ResNet and the MinAtar network.

Layouts and initialisers follow Dopamine's `dopamine/jax/networks.py` (dossier §2.4). `width`
multiplies the convolution channels, as the paper did ("we scaled the convolutional layers");
`scale_dense=True` also multiplies the hidden dense layer (the paper is ambiguous, dossier §2.4).

Every network returns a `QNetworkOutput`: Q-values always, and for distributional heads
(`num_atoms > 0`) the per-action logits and probabilities over the fixed support too.

`noisy=True` (DER) replaces the head's dense layers by `NoisyDense` layers; the network then
takes a `noise_key` (None = noise off, Dopamine's `eval_mode`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp


class QNetworkOutput(NamedTuple):
    q_values: jax.Array  # (batch, actions)
    logits: jax.Array | None = None  # (batch, actions, atoms) for C51 heads
    probabilities: jax.Array | None = None  # (batch, actions, atoms)


def _check_width(width: int) -> None:
    if not isinstance(width, int) or width <= 0:
        raise ValueError(f"width must be a positive integer, got {width!r}")


class NoisyDense(nn.Module):
    """Factorised-Gaussian noisy layer (Fortunato et al. 2018) as Dopamine's `NoisyNetwork`.

    y = x (W_mu + W_sigma * f(p) f(q)^T) + b_mu + b_sigma * f(q), with f(z) = sign(z) sqrt|z|,
    p ~ N(0, I_in), q ~ N(0, I_out) drawn from `key` (one draw for the whole batch, as
    Dopamine's vmapped network shares its key). `key=None` turns the noise off (evaluation).
    Init (`dopamine/jax/networks.py`): mu ~ U(-1/sqrt(in), 1/sqrt(in)) for kernel and bias,
    sigma = 0.1 / sqrt(in) (Dopamine's constant; Fortunato et al. use 0.5).
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, key: jax.Array | None) -> jax.Array:
        fan_in = x.shape[-1]
        bound = 1.0 / math.sqrt(fan_in)

        def mu_init(k, shape, dtype=jnp.float32):
            return jax.random.uniform(k, shape, dtype, -bound, bound)

        sigma_init = nn.initializers.constant(0.1 / math.sqrt(fan_in))
        w_mu = self.param("kernel_mu", mu_init, (fan_in, self.features))
        w_sigma = self.param("kernel_sigma", sigma_init, (fan_in, self.features))
        b_mu = self.param("bias_mu", mu_init, (self.features,))
        b_sigma = self.param("bias_sigma", sigma_init, (self.features,))
        if key is None:
            return _add_bias(x @ w_mu, b_mu)
        p_key, q_key = jax.random.split(key)
        f_p = _signed_sqrt(jax.random.normal(p_key, (fan_in, 1)))
        f_q = _signed_sqrt(jax.random.normal(q_key, (1, self.features)))
        return _add_bias(x @ (w_mu + w_sigma * (f_p * f_q)), b_mu + b_sigma * f_q[0])


def _add_bias(y: jax.Array, bias: jax.Array) -> jax.Array:
    return y + bias.reshape((1,) * (y.ndim - 1) + bias.shape)


def _signed_sqrt(z: jax.Array) -> jax.Array:
    return jnp.sign(z) * jnp.sqrt(jnp.abs(z))


class QHead(nn.Module):
    """Hidden dense layer + output layer; expected Q from logits when distributional."""

    num_actions: int
    hidden_units: int
    num_atoms: int = 0  # 0: plain Q-values; >0: C51 logits over `support`
    v_max: float = 10.0
    dueling: bool = False
    kernel_init: nn.initializers.Initializer = nn.initializers.xavier_uniform()
    noisy: bool = False  # NoisyDense layers (Dopamine's FullRainbowNetwork `noisy`)

    @nn.compact
    def __call__(self, features: jax.Array, noise_key: jax.Array | None = None) -> QNetworkOutput:
        def dense(units):
            # Dopamine's feature_layer: every noisy layer of one forward pass gets the same key
            if self.noisy:
                return lambda h: NoisyDense(units)(h, noise_key)
            return nn.Dense(units, kernel_init=self.kernel_init)

        x = nn.relu(dense(self.hidden_units)(features))
        atoms = max(self.num_atoms, 1)
        if self.dueling:
            adv = dense(self.num_actions * atoms)(x)
            val = dense(atoms)(x)
            adv = adv.reshape(-1, self.num_actions, atoms)
            out = val[:, None, :] + adv - adv.mean(axis=1, keepdims=True)
        else:
            out = dense(self.num_actions * atoms)(x)
            out = out.reshape(-1, self.num_actions, atoms)
        if self.num_atoms == 0:
            return QNetworkOutput(q_values=out[..., 0])
        support = jnp.linspace(-self.v_max, self.v_max, self.num_atoms)
        probabilities = jax.nn.softmax(out, axis=-1)
        return QNetworkOutput(q_values=(probabilities * support[None, None, :]).sum(-1), logits=out,
                              probabilities=probabilities)


def _prepare(x: jax.Array, input_scale: float) -> jax.Array:
    if x.ndim == 3:  # allow a single unbatched observation
        x = x[None]
    return x.astype(jnp.float32) * input_scale


# --- encoders: each trunk written once. Called inside a module's compact `__call__`, their
# layers belong to that module (Flax names them Conv_0, ImpalaStack_0, ...), so a Q-network
# and IQN's encoder modules share the code with the parameter names each always had.

def nature_encoder(x: jax.Array, width: int, kernel_init) -> jax.Array:
    """Mnih et al. (2015): conv 32-64-64 (8/4, 4/2, 3/1, VALID) x width, flattened."""
    for channels, kernel, stride in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
        x = nn.Conv(channels * width, (kernel, kernel), (stride, stride), padding="VALID",
                    kernel_init=kernel_init)(x)
        x = nn.relu(x)
    return x.reshape(x.shape[0], -1)


def impala_encoder(x: jax.Array, width: int, stack_sizes: Sequence[int],
                   num_blocks: int) -> jax.Array:
    """Espeholt et al. (2018) as Dopamine's `ImpalaEncoder` (15 layers at 2 blocks), flattened."""
    for size in stack_sizes:
        x = ImpalaStack(size * width, num_blocks)(x)
    return nn.relu(x).reshape(x.shape[0], -1)


def minatar_encoder(x: jax.Array, width: int, channels: int, kernel_init) -> jax.Array:
    """Young & Tian (2019): conv `channels` x width, 3x3 VALID, flattened."""
    x = PatchConv(channels * width, (3, 3), kernel_init, name="Conv_0")(x)
    return nn.relu(x).reshape(x.shape[0], -1)


class ResidualBlock(nn.Module):
    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = nn.initializers.xavier_uniform()
        y = nn.Conv(self.channels, (3, 3), padding="SAME", kernel_init=init)(nn.relu(x))
        y = nn.Conv(self.channels, (3, 3), padding="SAME", kernel_init=init)(nn.relu(y))
        return x + y


class ImpalaStack(nn.Module):
    channels: int
    num_blocks: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = nn.initializers.xavier_uniform()
        x = nn.Conv(self.channels, (3, 3), padding="SAME", kernel_init=init)(x)
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        for _ in range(self.num_blocks):
            x = ResidualBlock(self.channels)(x)
        return x


class PatchConv(nn.Module):
    """A VALID, stride-1 convolution computed as one matmul over extracted patches.

    Same parameters (`kernel` of shape (kh, kw, in, out), `bias`) and same result as `nn.Conv`,
    but XLA:CPU runs the matmul and its gradient several times faster than a small convolution,
    and the training update is almost all of the MinAtar budget (see benchmarks/).
    """

    features: int
    kernel_size: tuple[int, int] = (3, 3)
    kernel_init: nn.initializers.Initializer = nn.initializers.xavier_uniform()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kh, kw = self.kernel_size
        batch, height, width_, channels = x.shape
        kernel = self.param("kernel", self.kernel_init, (kh, kw, channels, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        out_h, out_w = height - kh + 1, width_ - kw + 1
        patches = jnp.concatenate(
            [x[:, i:i + out_h, j:j + out_w, :] for i in range(kh) for j in range(kw)], axis=-1
        )  # (batch, out_h, out_w, kh*kw*channels), ordered like kernel.reshape
        y = patches.reshape(-1, kh * kw * channels) @ kernel.reshape(-1, self.features)
        return y.reshape(batch, out_h, out_w, self.features) + bias[None, None, None, :]


# --- Q-networks: an encoder and a `QHead` ------------------------------------------------------

class QNetwork(nn.Module):
    """What every Q-network shares: the head's settings and the width scaling of its hidden
    layer. Subclasses choose the encoder, its defaults and the input scaling."""

    num_actions: int
    width: int = 1
    scale_dense: bool = False
    num_atoms: int = 0
    v_max: float = 10.0
    dueling: bool = False
    noisy: bool = False

    def encode(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    @nn.compact
    def __call__(self, x: jax.Array, noise_key: jax.Array | None = None) -> QNetworkOutput:
        _check_width(self.width)
        features = self.encode(_prepare(x, self.input_scale))
        hidden = self.dense_units * (self.width if self.scale_dense else 1)
        return QHead(self.num_actions, hidden, self.num_atoms, self.v_max, self.dueling,
                     nn.initializers.xavier_uniform(), self.noisy)(features, noise_key)


class NatureCNN(QNetwork):
    """Mnih et al. (2015): conv 32-64-64 (8/4, 4/2, 3/1, VALID) -> Dense 512."""

    dense_units: int = 512
    input_scale: float = 1.0 / 255.0

    def encode(self, x: jax.Array) -> jax.Array:
        return nature_encoder(x, self.width, nn.initializers.xavier_uniform())


class ImpalaCNN(QNetwork):
    """Espeholt et al. (2018) encoder as in Dopamine's `ImpalaEncoder` (15 layers at 2 blocks)."""

    stack_sizes: Sequence[int] = (16, 32, 32)
    num_blocks: int = 2
    dense_units: int = 512
    input_scale: float = 1.0 / 255.0

    def encode(self, x: jax.Array) -> jax.Array:
        return impala_encoder(x, self.width, self.stack_sizes, self.num_blocks)


class MinAtarCNN(QNetwork):
    """Young & Tian (2019) MinAtar network: conv 16 3x3 VALID -> Dense 128.

    `width` multiplies the conv channels as the paper scaled Impala's; `scale_dense` also
    multiplies the 128-unit layer. Observations are {0, 1} planes, so no input scaling.
    """

    conv_channels: int = 16
    dense_units: int = 128
    input_scale: float = 1.0

    def encode(self, x: jax.Array) -> jax.Array:
        return minatar_encoder(x, self.width, self.conv_channels,
                               nn.initializers.xavier_uniform())


NETWORKS = {"nature": NatureCNN, "impala": ImpalaCNN, "minatar": MinAtarCNN}


def make_network(name: str, num_actions: int, **kwargs) -> nn.Module:
    """Build a network by name; unknown names fail with the allowed values."""
    if name not in NETWORKS:
        raise ValueError(f"network must be one of {sorted(NETWORKS)}, got {name!r}")
    return NETWORKS[name](num_actions=num_actions, **kwargs)


def count_params(params) -> int:
    return sum(int(p.size) for p in jax.tree.leaves(params))
