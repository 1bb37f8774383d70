"""DER and DrQ(eps): Dopamine's `Atari100kRainbowAgent`, built from the DQN and Rainbow losses.

The paper's Fig 7 trains both for 40M frames on the 26 Atari-100k games (Impala x3, dense vs
90% / 95% GMP) [dossier §2.2 E7]. In Dopamine both are one class,
`Atari100kRainbowAgent(JaxFullRainbowAgent)` (`dopamine/labs/atari_100k/`), configured by a gin
file each [dossier §5.2]:

| | DER (`DER.gin`) | DrQ(eps) (`DrQ_eps.gin`) |
|---|---|---|
| return model | C51: 51 atoms, v_max 10 | Q-values (`distributional = False`), Huber loss |
| noisy layers | yes | no |
| dueling, double DQN | yes, yes | yes, yes |
| replay | prioritized (beta 0.5) | uniform |
| data augmentation | no | DrQ: random shift + intensity (`prunebook.agents.augment`) |

The per-sample loss for a transition (s, a, R^(n), gamma^n (1 - done), s'):

    s~ = aug(s), s'~ = aug(s')                  independent keys; identity without augmentation
    a* = argmax_a Q(s'~, a; online params)      double DQN (no gradient through the choice)
    DER:  CE(logits(s~, a), Proj[R^(n) + gamma^n (1 - done) z]),  z ~ p(s'~, a*; target)
          = `rainbow.c51_loss`
    DrQ:  Huber(Q(s~, a), R^(n) + gamma^n (1 - done) Q(s'~, a*; target)) = `dqn.td_loss`

So these agents reuse the DQN and Rainbow losses; what they add is the augmentation hook
(`augment(key, obs) -> obs`), the double-DQN action choice, dueling heads and noisy layers.

Noise follows Dopamine's `full_rainbow_agent.train`: the online forward pass on s~ draws one
noise sample, the target and online passes on s'~ share another (one sample per pass, shared by
the batch); acting in training draws fresh noise; evaluation uses the mean weights. Dopamine
acts with epsilon = 0 when the network is noisy (`zero_epsilon`, commit ed92c57, 2022-11-24),
so DER explores through its noise only, whatever `epsilon_train` says; the Atari loop does the
same (DER's `act` ignores its epsilon). Not in the dossier: taken from the Dopamine source.

Pruning: jaxpruner's default filter prunes every leaf with ndim > 1, so with noisy layers both
`kernel_mu` and `kernel_sigma` get (separate) magnitude masks. How the paper treated the noisy
sigmas is UNCONFIRMED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from prunebook.agents import dqn, rainbow
from prunebook.agents.augment import drq_augmentation
from prunebook.agents.common import Agent, make_agent, make_network, make_optimizer
from prunebook.config import ConfigError, RunConfig
from prunebook.replay.jittable import Batch

Augment = Callable[[jax.Array, jax.Array], jax.Array]  # (key, obs) -> augmented obs


@dataclasses.dataclass(frozen=True)
class Variant:
    """Which of Rainbow's parts an Atari-100k agent uses (Dopamine's JaxFullRainbowAgent flags)."""

    distributional: bool  # C51 (cross-entropy) instead of a TD loss on Q-values
    noisy: bool  # noisy dense layers in the head
    dueling: bool  # value + advantage heads
    double_dqn: bool  # the online network chooses a* at s'
    prioritized: bool  # prioritized replay (beta fixed at 0.5) instead of uniform
    data_augmentation: bool  # DrQ augmentation of s and s' in the loss


VARIANTS: dict[str, Variant] = {
    # DER.gin [dossier §5.2]: num_atoms 51 (distributional defaults to True), noisy True,
    # dueling True, double_dqn True, replay_scheme 'prioritized', data_augmentation False.
    "der": Variant(distributional=True, noisy=True, dueling=True, double_dqn=True,
                   prioritized=True, data_augmentation=False),
    # DrQ_eps.gin [dossier §5.2]: distributional False (num_atoms 1), noisy False, dueling True,
    # double_dqn True, replay_scheme 'uniform', data_augmentation True.
    "drq_eps": Variant(distributional=False, noisy=False, dueling=True, double_dqn=True,
                       prioritized=False, data_augmentation=True),
}


def make_atari100k(config: RunConfig, num_actions: int, variant: Variant | None = None,
                   augment: Augment | None = None) -> Agent:
    """DER or DrQ(eps) for `config.agent`: a `common.Agent` whose loss draws
    keys (augmentation, noise); DER acts on a noise draw.

    `variant` overrides the agent's Dopamine flags (e.g. DrQ(eps) without augmentation);
    `augment` replaces the DrQ augmentation when the variant augments (tests use a zero shift).
    """
    if variant is None:
        if config.agent not in VARIANTS:
            raise ConfigError(f"agent={config.agent!r} is not an Atari-100k agent; choose one "
                              f"of {list(VARIANTS)}")
        variant = VARIANTS[config.agent]
    network = make_network(config, num_actions, distributional=variant.distributional,
                           dueling=variant.dueling, noisy=variant.noisy)
    support = jnp.linspace(-config.v_max, config.v_max, config.num_atoms)
    aug = (augment or drq_augmentation) if variant.data_augmentation else None

    def per_sample_loss(params, target_params, batch: Batch, key) -> jax.Array:
        obs_key, next_obs_key, online_key, next_key = jax.random.split(key, 4)
        obs, next_obs = batch.obs, batch.next_obs
        if aug is not None:
            obs, next_obs = aug(obs_key, obs), aug(next_obs_key, next_obs)
        online_noise = online_key if variant.noisy else None
        next_noise = next_key if variant.noisy else None
        out = network.apply(params, obs, online_noise)
        target_out = network.apply(target_params, next_obs, next_noise)
        if variant.double_dqn:
            chooser = network.apply(jax.lax.stop_gradient(params), next_obs, next_noise)
        else:
            chooser = target_out
        next_action = jnp.argmax(chooser.q_values, axis=1)  # (B,)
        if variant.distributional:
            next_probs = jnp.take_along_axis(
                target_out.probabilities, next_action[:, None, None], axis=1)[:, 0]  # (B, atoms)
            return rainbow.c51_loss(out.logits, batch.actions, next_probs, batch.returns,
                                    batch.discounts, support)
        next_q = jnp.take_along_axis(target_out.q_values, next_action[:, None], axis=1)[:, 0]
        # y = R^(n) + gamma^n (1 - done) Qbar(s'~, a*)
        target = jax.lax.stop_gradient(batch.returns + batch.discounts * next_q)
        return dqn.td_loss(out.q_values, batch.actions, target, config.loss)

    agent = make_agent(config, network, make_optimizer(config), per_sample_loss, num_actions,
                       prioritized=variant.prioritized, split_key=jax.random.split,
                       dueling=variant.dueling)
    if not variant.noisy:
        return agent

    def act(params, obs, key, epsilon):
        """Greedy on one draw of the noise: a noisy agent explores through its noise only
        (Dopamine's `zero_epsilon`), whatever `epsilon` says."""
        del epsilon
        _, noise_key = jax.random.split(key)
        q_values = network.apply(params, obs[None], noise_key).q_values[0]  # (actions,)
        return jnp.argmax(q_values).astype(jnp.int32)

    return agent._replace(act=act)  # evaluation, Q-values: the noise's mean weights
