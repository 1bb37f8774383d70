"""Implicit Quantile Networks (Dabney et al. 2018) with Dopamine's JAX semantics [dossier §5.1-5.2].

IQN learns the return distribution's quantile function: the network takes a state and N
sampled quantile fractions tau ~ U(0, 1), embeds each tau with cosines,

    phi(tau) = ReLU(Dense_D( cos(pi * i * tau) for i = 1..64 )),

multiplies it into the state features psi(s) (elementwise, D = flatten size) and maps the
product through Dense 512 -> Dense |A| to Z_tau(s, a). Q(s, a) is the mean over K = 32 taus.
The loss is the quantile Huber loss between N = 64 online quantiles at (s, a) and N' = 64
target quantiles r + gamma^n Z_tau'(s', a*) with a* = argmax_a Q_target(s', a):

    u_ij = T_j - Z_i,   rho_i(u) = |tau_i - 1{u < 0}| * Huber_kappa(u) / kappa,
    loss = mean_j sum_i rho_i(u_ij)                   (Dopamine's `implicit_quantile_agent`)

Constants: kappa 1, N = N' = 64, K = 32, embedding 64 (Dopamine `implicit_quantile.gin`,
paper Table 2); n = 3, Adam 5e-5 / eps 3.125e-4, uniform replay (Dopamine documents a
`replay_scheme` argument but never uses it, dossier §5.2).

Unlike DQN and Rainbow, IQN needs randomness in every forward pass (the taus): its act, update
and Q-values use the keys every agent's functions take (`prunebook.agents.common.Agent`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from prunebook import networks
from prunebook.agents.common import Agent, epsilon_greedy, make_optimizer, make_update
from prunebook.config import RunConfig
from prunebook.replay.jittable import Batch


@dataclasses.dataclass(frozen=True)
class IQNHyperParams:
    """IQN's own settings, read from the `RunConfig` fields of the same names (whose defaults are
    Dopamine's `implicit_quantile.gin`, paper Table 2)."""

    kappa: float  # Huber threshold
    num_tau_samples: int  # N: online quantiles per state in the loss
    num_tau_prime_samples: int  # N': target quantiles per state
    num_quantile_samples: int  # K: quantiles averaged to get Q for acting / argmax
    quantile_embedding_dim: int  # cosines per tau

    @classmethod
    def from_config(cls, config: Any) -> IQNHyperParams:
        """The IQN fields of a `RunConfig`."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


class QuantileOutput(NamedTuple):
    quantile_values: jax.Array  # (batch, num_quantiles, actions)
    taus: jax.Array  # (batch, num_quantiles)
    q_values: jax.Array  # (batch, actions): mean over the quantiles


def dopamine_iqn_init() -> nn.initializers.Initializer:
    """Dopamine's initializer for its Rainbow/IQN networks."""
    return nn.initializers.variance_scaling(1.0 / np.sqrt(3.0), "fan_in", "uniform")


class NatureEncoder(nn.Module):
    """`networks.nature_encoder` with the convolutions initialised as Dopamine's IQN network."""

    width: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return networks.nature_encoder(x, self.width, dopamine_iqn_init())


class ImpalaEncoder(nn.Module):
    """`networks.impala_encoder` (the trunk of `networks.ImpalaCNN`)."""

    width: int = 1
    stack_sizes: Sequence[int] = (16, 32, 32)
    num_blocks: int = 2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return networks.impala_encoder(x, self.width, self.stack_sizes, self.num_blocks)


class MinAtarEncoder(nn.Module):
    """`networks.minatar_encoder` (the trunk of `networks.MinAtarCNN`: conv 16 x width)."""

    width: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return networks.minatar_encoder(x, self.width, 16, nn.initializers.xavier_uniform())


ENCODERS = {"nature": NatureEncoder, "impala": ImpalaEncoder, "minatar": MinAtarEncoder}
INPUT_SCALE = {"nature": 1.0 / 255.0, "impala": 1.0 / 255.0, "minatar": 1.0}


class IQNNetwork(nn.Module):
    """Dopamine's `ImplicitQuantileNetwork`, batched, over a Nature/Impala/MinAtar encoder."""

    num_actions: int
    encoder: str = "nature"
    width: int = 1
    scale_dense: bool = False
    dense_units: int = 512
    quantile_embedding_dim: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, key: jax.Array, num_quantiles: int) -> QuantileOutput:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {self.encoder!r}")
        if x.ndim == 3:
            x = x[None]
        x = x.astype(jnp.float32) * INPUT_SCALE[self.encoder]
        init = dopamine_iqn_init()
        state = ENCODERS[self.encoder](width=self.width)(x)  # (B, D)
        batch, dim = state.shape
        taus = jax.random.uniform(key, (batch, num_quantiles))  # (B, N)
        # phi(tau) = ReLU(Dense_D(cos(pi * i * tau))), i = 1..64 (Dopamine starts i at 1)
        i = jnp.arange(1, self.quantile_embedding_dim + 1, dtype=jnp.float32)  # (E,)
        embedding = jnp.cos(jnp.pi * taus[:, :, None] * i[None, None, :])  # (B, N, E)
        phi = nn.relu(nn.Dense(dim, kernel_init=init)(embedding))  # (B, N, D)
        h = state[:, None, :] * phi  # (B, N, D)
        hidden = self.dense_units * (self.width if self.scale_dense else 1)
        h = nn.relu(nn.Dense(hidden, kernel_init=init)(h))
        quantile_values = nn.Dense(self.num_actions, kernel_init=init)(h)  # (B, N, A)
        return QuantileOutput(quantile_values, taus, quantile_values.mean(axis=1))


def quantile_huber_loss(target: jax.Array, online: jax.Array, taus: jax.Array,
                        kappa: float) -> jax.Array:
    """One sample's loss: target (N',), online (N,), taus (N,) -> scalar.

    u_ij = target_j - online_i; rho = |tau_i - 1{u < 0}| * Huber_kappa(u) / kappa,
    summed over the online quantiles i and averaged over the target quantiles j.
    """
    chex.assert_rank([target, online, taus], 1)
    chex.assert_equal_shape([online, taus])
    u = target[:, None] - online[None, :]  # (N', N)
    abs_u = jnp.abs(u)
    huber = jnp.where(abs_u <= kappa, 0.5 * u**2, kappa * (abs_u - 0.5 * kappa))
    weight = jnp.abs(taus[None, :] - jax.lax.stop_gradient((u < 0).astype(jnp.float32)))
    return (weight * huber / kappa).sum(axis=1).mean(axis=0)


def make_iqn(config: RunConfig, num_actions: int,
             hparams: IQNHyperParams | None = None) -> Agent:
    hp = hparams or IQNHyperParams.from_config(config)
    network = IQNNetwork(num_actions, config.network, config.width, config.scale_dense,
                         quantile_embedding_dim=hp.quantile_embedding_dim)

    def per_sample_loss(params, target_params, batch: Batch, key) -> jax.Array:
        online_key, argmax_key, target_key = jax.random.split(key, 3)
        out = network.apply(params, batch.obs, online_key, hp.num_tau_samples)
        chosen = jnp.take_along_axis(
            out.quantile_values, batch.actions[:, None, None], axis=2)[..., 0]  # (B, N)
        # a* = argmax_a mean_K Z_target(s', a)   (Dopamine: target params, no double DQN)
        next_q = network.apply(target_params, batch.next_obs, argmax_key,
                               hp.num_quantile_samples).q_values  # (B, A)
        next_action = jnp.argmax(next_q, axis=1)  # (B,)
        next_quantiles = network.apply(target_params, batch.next_obs, target_key,
                                       hp.num_tau_prime_samples).quantile_values  # (B, N', A)
        next_chosen = jnp.take_along_axis(
            next_quantiles, next_action[:, None, None], axis=2)[..., 0]  # (B, N')
        # T_j = R^(n) + gamma^n (1 - done) Z_tau'_j(s', a*)
        target = jax.lax.stop_gradient(
            batch.returns[:, None] + batch.discounts[:, None] * next_chosen)  # (B, N')
        return jax.vmap(quantile_huber_loss, in_axes=(0, 0, 0, None))(
            target, chosen, out.taus, hp.kappa)  # (B,)

    def init(key, obs):
        """Parameters for one observation."""
        net_key, tau_key = jax.random.split(key)
        return network.init(net_key, obs[None], tau_key, 1)

    def q_values(params, obs, key, **kwargs):
        """Q = the mean of K sampled quantiles."""
        return network.apply(params, obs, key, hp.num_quantile_samples, **kwargs)

    def act(params, obs, key, epsilon):
        """Epsilon-greedy on Q = mean of K sampled quantiles."""
        tau_key, explore_key, action_key = jax.random.split(key, 3)
        q = q_values(params, obs[None], tau_key).q_values[0]  # (actions,)
        return epsilon_greedy(q, explore_key, action_key, epsilon, num_actions)

    optimizer = make_optimizer(config)
    # uniform replay; the taus' key is drawn from the loop's key stream
    return Agent(network, optimizer, init, act, act,
                 make_update(config, optimizer, per_sample_loss, prioritized=False), q_values,
                 jax.random.split, per_sample_loss, prioritized=False)
