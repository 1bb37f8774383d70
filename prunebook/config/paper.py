"""The `paper` preset: the paper's online Atari setting, every value with its source.

`paper_config(agent, **overrides)` returns the RunConfig of one run of the paper's main
experiments (Fig 1, 3, 4, ...): Dopamine's JAX agents "with their default values" on the 15
games, 40M frames, Impala ResNet, 95% GMP from 20% to 80% of training [dossier §2.1, §3.4,
§5.1-5.2]. Comments cite the dossier section and the Dopamine gin file a value comes from
("dqn.gin" = `dopamine/jax/agents/dqn/configs/dqn.gin`, "rainbow.gin", "implicit_quantile.gin";
"JP-dop" = jaxpruner's `baselines/dopamine/configs/dqn.gin`; "DER.gin" / "DrQ_eps.gin" =
`dopamine/labs/atari_100k/configs/`).

Agents "der" and "drq_eps" are Fig 7's DER and DrQ(eps) (paper Table 1, dossier §5.1 and
§5.2): Atari-100k agents trained for 40M frames on the 26 Atari-100k games. Their Rainbow
parts (noisy, dueling, double DQN, replay, augmentation) are not RunConfig fields: the agent
name fixes them (`prunebook.agents.atari100k.VARIANTS`, checked against `VARIANT_TABLE`).

`PAPER_TABLE` is the same information transcribed independently from the dossier's tables, so
`tests/test_paper_preset.py` can check the preset against it field by field.

Environment-side settings (27,000-step episode cap, frame skip 4, reward clipping) are not
RunConfig fields: `prunebook.envs.atari` fixes them to Dopamine's values and `ENV_TABLE`
records them (and the env's defaults) for the test. Sticky actions and terminal-on-life-loss
are RunConfig fields because DER and DrQ(eps) turn them around.
"""

from __future__ import annotations

from typing import Any

from prunebook.config.base import ConfigError
from prunebook.config.run import RunConfig
from prunebook.spec import ATARI_60_GAMES, FRAME_SKIP, PAPER_15_GAMES, PAPER_AGENTS

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
        "sticky_actions": True,  # Table 2 "sticky actions True"; §5.3 probability 0.25
        "terminal_on_life_loss": False,  # §5.2 dqn/rainbow/implicit_quantile: False (default)
    },
    "dqn": {"n_step": 1, "learning_rate": 6.25e-5, "adam_eps": 1.5e-4, "loss": "mse"},
    "rainbow": {"n_step": 3, "learning_rate": 6.25e-5, "adam_eps": 1.5e-4, "num_atoms": 51,
                "v_max": 10.0, "priority_beta": 0.5},
    "iqn": {"n_step": 3, "learning_rate": 5e-5, "adam_eps": 3.125e-4, "kappa": 1.0,
            "num_tau_samples": 64, "num_tau_prime_samples": 64, "num_quantile_samples": 32,
            "quantile_embedding_dim": 64},
    # Fig 7 agents: §5.1 Table 1 (DER / DrQ(eps)) and the §5.2 DER.gin / DrQ_eps.gin columns.
    # Common values that still hold: 40M frames (§2.2 E7), Impala (§2.1), replay 1M, batch 32,
    # discount 0.99, exploration eps 0.01, eval eps 0.001 (Table 1 / gin), 95% ERK GMP 20% ->
    # 80% (= updates 2M -> 8M: derived, UNCONFIRMED, §3.5). UNCONFIRMED as well (§5.3): 40
    # iterations of 250k steps and training-episode scores for these agents at 40M frames.
    "der": {
        "n_step": 10,  # Table 1 "update horizon 10"; DER.gin update_horizon
        "learning_rate": 1e-4,  # Table 1 "Adam lr 0.0001"
        "adam_eps": 1.5e-4,  # Table 1 "Adam eps 0.00015"
        "min_replay_history": 1_600,  # Table 1; DER.gin
        "update_period": 1,  # Table 1; DER.gin
        "target_update_period": 2_000,  # §5.2 DER.gin (Table 1 omits it)
        "epsilon_decay_steps": 2_000,  # Table 1 "epsilon decay 2000"
        "num_atoms": 51,  # Table 1 "number of atoms 51"
        "v_max": 10.0,  # §5.2 DER.gin vmax
        "priority_beta": 0.5,  # §5.2 DER.gin replay prioritized (Rainbow's fixed beta)
        "sticky_actions": False,  # Table 1 "sticky actions False"
        "terminal_on_life_loss": True,  # §5.2 DER.gin
    },
    "drq_eps": {
        "n_step": 10,  # Table 1
        "learning_rate": 1e-4,  # Table 1
        "adam_eps": 1.5e-4,  # Table 1
        "min_replay_history": 1_600,  # Table 1
        "update_period": 1,  # Table 1
        "target_update_period": 1,  # §5.2 DrQ_eps.gin
        "epsilon_decay_steps": 5_000,  # Table 1 "epsilon decay 5000"
        "loss": "huber",  # not in the dossier: Dopamine's non-distributional full-Rainbow loss
        "sticky_actions": False,  # Table 1
        "terminal_on_life_loss": True,  # §5.2 DrQ_eps.gin
    },
}

VARIANT_TABLE: dict[str, dict[str, bool]] = {
    # §5.2 "distributional", "replay" and "other" rows of the DER.gin / DrQ_eps.gin columns
    "der": {"distributional": True, "noisy": True, "dueling": True, "double_dqn": True,
            "prioritized": True, "data_augmentation": False},
    "drq_eps": {"distributional": False, "noisy": False, "dueling": True, "double_dqn": True,
                "prioritized": False, "data_augmentation": True},
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
    if agent in ("der", "drq_eps"):
        values = dict(
            n_step=10,  # Table 1 update horizon 10 / 10; DER.gin, DrQ_eps.gin update_horizon
            learning_rate=1e-4,  # Table 1 Adam lr 0.0001; gin create_optimizer.learning_rate
            adam_eps=1.5e-4,  # Table 1 Adam eps 0.00015; gin create_optimizer.eps
            min_replay_history=1_600,  # Table 1 min replay history 1600; gin
            update_period=1,  # Table 1 update period 1 (replay ratio 1); gin
            sticky_actions=False,  # Table 1 sticky actions False; gin "Atari 100K benchmark
            # doesn't use sticky actions"
            terminal_on_life_loss=True,  # §5.2 gin AtariPreprocessing.terminal_on_life_loss
        )
        if agent == "der":
            values.update(
                target_update_period=2_000,  # §5.2 DER.gin ("Target every 2000 updates")
                epsilon_decay_steps=2_000,  # Table 1 epsilon decay 2000; DER.gin. Unused in
                # acting: a noisy agent acts with epsilon 0 (see prunebook.agents.atari100k)
                num_atoms=51,  # Table 1 number of atoms 51; DER.gin
                v_max=10.0,  # §5.2 DER.gin vmax (v_min = -v_max)
                priority_beta=0.5,  # §5.2 prioritized replay; Dopamine's fixed exponent 0.5
            )
        else:
            values.update(
                target_update_period=1,  # §5.2 DrQ_eps.gin: the target is the online network
                epsilon_decay_steps=5_000,  # Table 1 epsilon decay 5000; DrQ_eps.gin
                # Not in the dossier: Atari100kRainbowAgent(mse_loss=False) -> full_rainbow
                # `train` uses Huber for the non-distributional loss (Dopamine source).
                loss="huber",
            )
        return values
    raise ConfigError(f"agent={agent!r} has no paper preset; choose one of {list(PAPER_AGENTS)}")


def paper_config(agent: str = "dqn", **overrides: Any) -> RunConfig:
    """One run of the paper's online Atari experiments (override any field, e.g. game, width).

    40M frames = 10M agent steps = 40 iterations x 250k agent steps; 2.495M gradient updates
    (one per 4 agent steps after the 20k warm-up), pruned from update 499k to 1,996k (JP-dop's
    gin rounds the same 20%/80% of 2.5M to 500k/2M).

    DER / DrQ(eps) (Fig 7): the same 40M frames with one update per agent step after a 1,600
    step warm-up, 9,998,400 updates, pruned from update 2,000k to 7,999k (the dossier's
    derived, UNCONFIRMED "2M -> 8M", §3.5). The 40-iteration layout and scoring training
    episodes (no separate evaluation) are UNCONFIRMED for them too (§5.3: the paper does not
    give the 40M-frame runner layout or evaluation protocol of these agents).
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
        num_env_steps=PAPER_FRAMES // FRAME_SKIP,  # §2.1: 40 x 250k = 10M steps
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
        sticky_actions=True,  # Table 2 "sticky actions True"; probability 0.25 (§5.3)
    )
    values.update(_agent_values(agent))
    values.update(overrides)
    if values.get("suite") == "atari" and values.get("game") not in ATARI_60_GAMES:
        raise ConfigError(f"game={values.get('game')!r} is not one of the paper's Atari games; "
                          f"the 15-game subset is {list(PAPER_15_GAMES)}")
    return RunConfig(**values)
