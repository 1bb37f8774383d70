"""The `paper` preset: the paper's online Atari setting, every value with its source.

`paper_config(agent, **overrides)` returns the RunConfig of one run of the paper's main
experiments (Fig 1, 3, 4, ...): Dopamine's JAX agents "with their default values" on the 15
games, 40M frames, Impala ResNet, 95% GMP from 20% to 80% of training [dossier §2.1, §3.4,
§5.1-5.2]. Comments cite the dossier section and the Dopamine gin file a value comes from
("dqn.gin" = `dopamine/jax/agents/dqn/configs/dqn.gin`, "rainbow.gin", "implicit_quantile.gin";
"JP-dop" = jaxpruner's `baselines/dopamine/configs/dqn.gin`).

`PAPER_TABLE` is the same information transcribed independently from the dossier's tables, so
`tests/test_paper_preset.py` can check the preset against it field by field.

Environment-side settings (sticky actions, 27,000-step episode cap, frame skip 4, reward
clipping) are not RunConfig fields: `prunebook.envs.atari` fixes them to Dopamine's values and
`ENV_TABLE` records them for the test.
"""

from __future__ import annotations

from typing import Any

from prunebook.config import AGENTS, ConfigError, RunConfig
from prunebook.envs.atari import ATARI_100K_GAMES, PAPER_15_GAMES

PAPER_AGENTS = ("dqn", "rainbow", "iqn")

ATARI_60_GAMES: tuple[str, ...] = tuple(sorted(set(ATARI_100K_GAMES) | {
    "AirRaid", "Asteroids", "Atlantis", "BeamRider", "Berzerk", "Bowling", "Carnival",
    "Centipede", "DoubleDunk", "ElevatorAction", "Enduro", "FishingDerby", "Gravitar",
    "IceHockey", "JourneyEscape", "MontezumaRevenge", "NameThisGame", "Phoenix", "Pitfall",
    "Pooyan", "Riverraid", "Robotank", "Skiing", "Solaris", "SpaceInvaders", "StarGunner",
    "Tennis", "TimePilot", "Tutankham", "Venture", "VideoPinball", "WizardOfWor",
    "YarsRevenge", "Zaxxon"}))  # fmt: skip
"""Fig 6's "60 games" = the 26 Atari-100k games + 34 more [dossier §2.3]."""

FRAMES_PER_AGENT_STEP = 4  # Dopamine's frame skip [dossier §5.3]
PAPER_FRAMES = 40_000_000  # "most experiments were conducted over 40 million frames" [§2.1]

# --- the transcription the preset is tested against -------------------------------------------

PAPER_TABLE: dict[str, dict[str, Any]] = {
    # Shared by DQN, Rainbow and IQN: dossier §2.1 (protocol), §3.4 (GMP), §5.1 Table 2,
    # §5.2 (Dopamine gin defaults).
    "common": {
        "suite": "atari",
        "preset": "paper",
        "network": "impala",  # §2.1 "we use the Impala architecture ... unless otherwise specified"
        "width": 1,  # Table 2 "conv width 1"; Fig 1 sweeps 1..5
        "scale_dense": False,  # §2.4 recommended default: "scaled the convolutional layers"
        "final_sparsity": 0.95,  # §2.1 "we primarily focus on this sparsity level"
        "allocation": "erk",  # §3.4 (JP-dop and RIGL configs)
        "prune_start_frac": 0.2,  # §3.1 "t_start at 20% of training"
        "prune_end_frac": 0.8,  # §3.1 "t_end at 80%"
        "mask_update_every": 1000,  # §3.4 JP-dop update_freq
        "num_env_steps": 10_000_000,  # §2.1: 40M frames / 4
        "iteration_env_steps": 250_000,  # §2.1: Runner.training_steps
        "replay_capacity": 1_000_000,  # Table 2
        "min_replay_history": 20_000,  # Table 2
        "update_period": 4,  # Table 2; replay ratio 0.25
        "target_update_period": 8_000,  # §5.2 gin (Tables 1-3 omit it)
        "batch_size": 32,  # Table 2
        "gamma": 0.99,  # Table 2 "discount"
        "epsilon_train": 0.01,  # Table 2 "exploration epsilon"
        "epsilon_eval": 0.001,  # §5.2 gin
        "epsilon_decay_steps": 250_000,  # Table 2 "epsilon decay"
        "eval_episodes": 0,  # §5.3: scores are training returns (continuous_train)
    },
    "dqn": {"n_step": 1, "learning_rate": 6.25e-5, "adam_eps": 1.5e-4, "loss": "mse"},
    "rainbow": {"n_step": 3, "learning_rate": 6.25e-5, "adam_eps": 1.5e-4, "num_atoms": 51,
                "v_max": 10.0, "priority_beta": 0.5},
    "iqn": {"n_step": 3, "learning_rate": 5e-5, "adam_eps": 3.125e-4, "kappa": 1.0,
            "num_tau_samples": 64, "num_tau_prime_samples": 64, "num_quantile_samples": 32,
            "quantile_embedding_dim": 64},
}

ENV_TABLE: dict[str, Any] = {
    "sticky_actions": True,  # Table 2; repeat_action_probability 0.25 (§5.3)
    "sticky_action_probability": 0.25,
    "frame_skip": 4,  # §5.3
    "max_episode_steps": 27_000,  # §5.3 Runner.max_steps_per_episode
    "terminal_on_life_loss": False,  # §5.2 (True only for DER / DrQ(eps))
    "screen_size": 84,  # Table 4
    "stack_size": 4,  # Table 4
}

IQN_FIELDS = ("kappa", "num_tau_samples", "num_tau_prime_samples", "num_quantile_samples",
              "quantile_embedding_dim")


def _agent_values(agent: str) -> dict[str, Any]:
    """Per-agent values (the rest is shared); written out, not copied from PAPER_TABLE."""
    if agent == "dqn":
        return dict(
            n_step=1,  # Table 2 "update horizon 1"; dqn.gin update_horizon
            learning_rate=6.25e-5,  # Table 2; dqn.gin create_optimizer.learning_rate
            adam_eps=1.5e-4,  # Table 2; dqn.gin create_optimizer.eps (§3.6: not 1.5e-5)
            loss="mse",  # §5.2 JaxDQNAgent loss_type='mse'
        )
    if agent == "rainbow":
        return dict(
            n_step=3,  # Table 2; rainbow.gin update_horizon
            learning_rate=6.25e-5,  # Table 2; rainbow.gin 0.0000625
            adam_eps=1.5e-4,  # Table 2; rainbow.gin 0.00015
            num_atoms=51,  # Table 2; rainbow.gin num_atoms
            v_max=10.0,  # rainbow.gin vmax (v_min = -v_max)
            priority_beta=0.5,  # §5.2 compact Rainbow: beta fixed at 0.5
        )
    if agent == "iqn":
        return dict(
            n_step=3,  # Table 2; implicit_quantile.gin update_horizon
            learning_rate=5e-5,  # Table 2; implicit_quantile.gin
            adam_eps=3.125e-4,  # Table 2; implicit_quantile.gin
            kappa=1.0,  # Table 2
            num_tau_samples=64,  # Table 2 "num tau samples" (N)
            num_tau_prime_samples=64,  # Table 2 (N')
            num_quantile_samples=32,  # Table 2 (K)
            quantile_embedding_dim=64,  # §5.2 implicit_quantile.gin
        )
    raise ConfigError(f"agent={agent!r} has no paper preset; choose one of {list(PAPER_AGENTS)}")


def paper_config(agent: str = "dqn", **overrides: Any) -> RunConfig:
    """One run of the paper's online Atari experiments (override any field, e.g. game, width).

    40M frames = 10M agent steps = 40 iterations x 250k agent steps; 2.495M gradient updates
    (one per 4 agent steps after the 20k warm-up), pruned from update 499k to 1,996k (JP-dop's
    gin rounds the same 20%/80% of 2.5M to 500k/2M).
    """
    values: dict[str, Any] = dict(
        agent=agent,
        suite="atari",
        preset="paper",
        game="Breakout",  # one of the 15 games [§2.3]; sweeps override it
        network="impala",  # §2.1: "the Impala architecture ... a 15-layer ResNet"
        width=1,  # Table 2 conv width 1 (Fig 1 x-axis 1..5)
        scale_dense=False,  # §2.4: only the conv layers are scaled (recommended default)
        final_sparsity=0.95,  # §2.1 default sparsity (dense baseline: final_sparsity=0)
        allocation="erk",  # §3.4: ERK in JP-dop and RIGL configs
        prune_start_frac=0.2,  # §3.1 / §3.4: 20% of gradient updates
        prune_end_frac=0.8,  # §3.1 / §3.4: 80% of gradient updates
        mask_update_every=1000,  # §3.4: JP-dop create_updater_from_config.update_freq
        num_env_steps=PAPER_FRAMES // FRAMES_PER_AGENT_STEP,  # §2.1: 40 x 250k = 10M steps
        iteration_env_steps=250_000,  # §2.1 / §3.3: Runner.training_steps = 250000
        replay_capacity=1_000_000,  # Table 2; gin OutOfGraphReplayBuffer.replay_capacity
        min_replay_history=20_000,  # Table 2; gin min_replay_history
        update_period=4,  # Table 2; gin update_period (replay ratio 0.25, Fig 1 caption)
        target_update_period=8_000,  # §5.2: dqn/rainbow/implicit_quantile.gin (agent steps)
        batch_size=32,  # Table 2; gin OutOfGraphReplayBuffer.batch_size
        gamma=0.99,  # Table 2 discount; gin gamma
        epsilon_train=0.01,  # Table 2; gin epsilon_train
        epsilon_eval=0.001,  # §5.2 gin epsilon_eval
        epsilon_decay_steps=250_000,  # Table 2; gin epsilon_decay_period
        eval_episodes=0,  # §5.3: Dopamine's continuous_train scores training episodes
    )
    values.update(_agent_values(agent))
    if agent == "iqn" and "iqn" not in AGENTS:
        # RunConfig has no IQN fields yet: IQN's constants live in prunebook.agents.iqn.
        raise ConfigError("agent='iqn' needs RunConfig support (agent 'iqn' and the fields "
                          f"{list(IQN_FIELDS)}); until then build IQN with "
                          "prunebook.agents.iqn.make_iqn on a dqn-shaped config")
    values.update(overrides)
    if values.get("suite") == "atari" and values.get("game") not in ATARI_60_GAMES:
        raise ConfigError(f"game={values.get('game')!r} is not one of the paper's Atari games; "
                          f"the 15-game subset is {list(PAPER_15_GAMES)}")
    return RunConfig(**values)


def iqn_base_config(**overrides: Any) -> RunConfig:
    """IQN's paper values on a RunConfig that does not know agent 'iqn' yet (agent='dqn').

    Use with `prunebook.agents.iqn.make_iqn(config, num_actions)`; the IQN-only constants come
    from `prunebook.agents.iqn.IQNHyperParams` defaults.
    """
    values = {k: v for k, v in _agent_values("iqn").items() if k not in IQN_FIELDS}
    if "iqn" in AGENTS:
        return paper_config("iqn", **overrides)
    return paper_config("dqn", **{**values, **overrides})
