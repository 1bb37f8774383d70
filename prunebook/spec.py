"""The book's vocabulary: games, agents, presets, suites and the book's grids, as plain constants.

Every other module takes these names from here, so each is written once. This module imports
nothing from prunebook (it sits at the bottom of the import stack, see ARCHITECTURE.md).
"""

from __future__ import annotations

# --- agents -----------------------------------------------------------------------------------
MINATAR_AGENTS = ("dqn", "rainbow", "iqn")  # run on both suites
ATARI_100K_AGENTS = ("der", "drq_eps")  # Atari only: the paper's Fig 7 (prunebook.agents.atari100k)
AGENTS = MINATAR_AGENTS + ATARI_100K_AGENTS  # online agents (RunConfig)
PAPER_AGENTS = AGENTS  # every online agent has a `paper` preset
OFFLINE_AGENTS = ("cql", "cql_c51")  # offline agents (OfflineConfig), the paper's §4.4
AGENT_NAMES = {"dqn": "DQN", "rainbow": "Rainbow", "iqn": "IQN", "cql": "CQL",
               "cql_c51": "CQL+C51", "der": "DER", "drq_eps": "DrQ(eps)"}

# --- suites, presets, settings ---------------------------------------------------------------
SUITES = ("minatar", "atari")
# online presets; ci: seconds (tests), cpu: the book, std: MinAtar's protocol, paper: Atari
PRESETS = ("ci", "cpu", "std", "paper")
OFFLINE_PRESETS = ("ci", "cpu")  # the offline agents run on MinAtar only
DATASET_RECIPES = ("ci", "cpu")  # which online DQN run is logged for the offline agents
ALLOCATIONS = ("erk", "uniform")  # per-layer sparsity allocation
LOSSES = ("mse", "huber")
# How a sparse network's masks are chosen (chapter 6): gradual magnitude pruning (the paper's),
# ERK-random masks fixed at initialisation, or a finished GMP run's final masks fixed from step 0
# with the weights rewound to its initialisation (the lottery ticket, the paper's Fig 13)
MASK_METHODS = ("gmp", "static_random", "lottery")
# The other fixes for wide networks (chapter 7, the paper's Fig 12): each name and the RunConfig
# field that switches it on (0 = off)
BASELINE_FIELDS = {"weight_decay": "weight_decay", "l2": "l2_penalty",
                   "reset": "reset_every_updates", "redo": "redo_every_updates"}
BASELINES = tuple(BASELINE_FIELDS)
NETWORKS = ("minatar", "nature", "impala")

# --- games ------------------------------------------------------------------------------------
MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
FREEWAY_TIME_LIMIT = 2_500  # MinAtar Freeway: the game ends after 2,500 frames (a rule)
DOPAMINE_MAX_EPISODE_STEPS = 27_000  # Dopamine's Runner.max_steps_per_episode
# How Asterix spawns an enemy or treasure: "gymnax" (gymnax 1.0.1: never tries the first slot of
# its random order, and with no free slot blanks an occupied one) or "minatar" (original MinAtar:
# a uniformly chosen free slot, nothing when all 8 are taken); prunebook.envs.asterix
ASTERIX_SPAWNS = ("gymnax", "minatar")
FRAME_SKIP = 4  # Atari frames per agent step (Dopamine's frame skip) [dossier §5.3]

PAPER_15_GAMES: tuple[str, ...] = (
    "MsPacman", "Pong", "Qbert", "Assault", "Asterix", "BeamRider", "Boxing", "Breakout",
    "CrazyClimber", "DemonAttack", "Enduro", "FishingDerby", "SpaceInvaders", "Tutankham",
    "VideoPinball",
)  # fmt: skip
"""The paper's 15-game subset (Graesser et al. 2022) [dossier §2.3]."""

ATARI_100K_GAMES: tuple[str, ...] = (
    "Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing", "Breakout",
    "ChopperCommand", "CrazyClimber", "DemonAttack", "Freeway", "Frostbite", "Gopher", "Hero",
    "Jamesbond", "Kangaroo", "Krull", "KungFuMaster", "MsPacman", "Pong", "PrivateEye", "Qbert",
    "RoadRunner", "Seaquest", "UpNDown",
)  # fmt: skip
"""The 26-game Atari-100k set (Kaiser et al. 2020) used for DER and DrQ(eps) [dossier §2.3]."""

ATARI_60_GAMES: tuple[str, ...] = tuple(sorted(set(ATARI_100K_GAMES) | {
    "AirRaid", "Asteroids", "Atlantis", "BeamRider", "Berzerk", "Bowling", "Carnival",
    "Centipede", "DoubleDunk", "ElevatorAction", "Enduro", "FishingDerby", "Gravitar",
    "IceHockey", "JourneyEscape", "MontezumaRevenge", "NameThisGame", "Phoenix", "Pitfall",
    "Pooyan", "Riverraid", "Robotank", "Skiing", "Solaris", "SpaceInvaders", "StarGunner",
    "Tennis", "TimePilot", "Tutankham", "Venture", "VideoPinball", "WizardOfWor",
    "YarsRevenge", "Zaxxon"}))  # fmt: skip
"""Fig 6's "60 games" = the 26 Atari-100k games + 34 more [dossier §2.3]; it holds the 15."""

ALL_GAMES = tuple(sorted(set(MINATAR_GAMES) | set(ATARI_60_GAMES)))

# --- the book's grids -------------------------------------------------------------------------
BOOK_GAMES = ("Asterix", "Breakout", "Freeway", "SpaceInvaders")  # the `cpu` sweeps' games
BOOK_SEEDS = (0, 1, 2)
STD_GAMES = ("Asterix", "Breakout", "Seaquest", "SpaceInvaders")  # chapter 5 (`std`)
PAPER_SEEDS = (0, 1, 2, 3, 4)  # "each experiment was run with 5 independent seeds" [dossier §2.1]
REFERENCE_CONFIG = ("dqn", 1, 0.0)  # (agent, width, sparsity) of the MinAtar reference runs
MINATAR_REFERENCE = "dense width-1 DQN"
