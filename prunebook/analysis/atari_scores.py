"""Atari human-normalized scores: ``(score - random) / (human - random)`` with the reference
table of the dossier (§7). Two published tables exist and differ only on VideoPinball's random
score (Dopamine 0.0, DQN Zoo 16256.9) and on Defender/Surround (human score only in DQN Zoo).
Default: Dopamine's table, the natural choice for a Dopamine-based paper (which table the paper
used is unconfirmed)."""

from __future__ import annotations

import numpy as np

# (random, human) per game, from Dopamine's labs/atari_100k/normalization_utils.py [dossier §7].
# Cross-checked against DQN Zoo's dqn_zoo/atari_data.py: identical except the rows noted below.
_DOPAMINE = {
    "alien": (227.8, 7127.7),
    "amidar": (5.8, 1719.5),
    "assault": (222.4, 742.0),
    "asterix": (210.0, 8503.3),
    "asteroids": (719.1, 47388.7),
    "atlantis": (12850.0, 29028.1),
    "bankheist": (14.2, 753.1),
    "battlezone": (2360.0, 37187.5),
    "beamrider": (363.9, 16926.5),
    "berzerk": (123.7, 2630.4),
    "bowling": (23.1, 160.7),
    "boxing": (0.1, 12.1),
    "breakout": (1.7, 30.5),
    "centipede": (2090.9, 12017.0),
    "choppercommand": (811.0, 7387.8),
    "crazyclimber": (10780.5, 35829.4),
    "demonattack": (152.1, 1971.0),
    "doubledunk": (-18.6, -16.4),
    "enduro": (0.0, 860.5),
    "fishingderby": (-91.7, -38.7),
    "freeway": (0.0, 29.6),
    "frostbite": (65.2, 4334.7),
    "gopher": (257.6, 2412.5),
    "gravitar": (173.0, 3351.4),
    "hero": (1027.0, 30826.4),
    "icehockey": (-11.2, 0.9),
    "jamesbond": (29.0, 302.8),
    "kangaroo": (52.0, 3035.0),
    "krull": (1598.0, 2665.5),
    "kungfumaster": (258.5, 22736.3),
    "montezumarevenge": (0.0, 4753.3),
    "mspacman": (307.3, 6951.6),
    "namethisgame": (2292.3, 8049.0),
    "phoenix": (761.4, 7242.6),
    "pitfall": (-229.4, 6463.7),
    "pong": (-20.7, 14.6),
    "privateeye": (24.9, 69571.3),
    "qbert": (163.9, 13455.0),
    "riverraid": (1338.5, 17118.0),
    "roadrunner": (11.5, 7845.0),
    "robotank": (2.2, 11.9),
    "seaquest": (68.4, 42054.7),
    "skiing": (-17098.1, -4336.9),
    "solaris": (1236.3, 12326.7),
    "spaceinvaders": (148.0, 1668.7),
    "stargunner": (664.0, 10250.0),
    "tennis": (-23.8, -8.3),
    "timepilot": (3568.0, 5229.2),
    "tutankham": (11.4, 167.6),
    "upndown": (533.4, 11693.2),
    "venture": (0.0, 1187.5),
    "videopinball": (0.0, 17667.9),  # DQN Zoo: random 16256.9
    "wizardofwor": (563.5, 4756.5),
    "yarsrevenge": (3092.9, 54576.9),
    "zaxxon": (32.5, 9173.3),
}


_DQN_ZOO = {
    **_DOPAMINE,
    "videopinball": (16256.9, 17667.9),
    "defender": (2874.5, 18688.9),  # no human score in Dopamine's table
    "surround": (-10.0, 6.5),  # no human score in Dopamine's table
}


ATARI_SCORES: dict[str, dict[str, tuple[float, float]]] = {
    "dopamine": _DOPAMINE,
    "dqn_zoo": _DQN_ZOO,
}


def _atari_key(game: str) -> str:
    return game.lower().replace("_", "").replace(" ", "").replace("-", "")


def atari_reference(game: str, source: str = "dopamine") -> tuple[float, float]:
    """``(random, human)`` for an Atari game ("VideoPinball", "video_pinball", ... all work)."""
    if source not in ATARI_SCORES:
        raise ValueError(f"unknown source {source!r}; choose from {sorted(ATARI_SCORES)}")
    key = _atari_key(game)
    if key not in ATARI_SCORES[source]:
        hint = " (try source='dqn_zoo')" if key in _DQN_ZOO else ""
        raise KeyError(f"no human/random reference for {game!r} in the {source} table{hint}")
    return ATARI_SCORES[source][key]


def human_normalized(score, game: str, source: str = "dopamine"):
    """Human-normalized score ``(score - random) / (human - random)``."""
    random, human = atari_reference(game, source)
    return (np.asarray(score, dtype=float) - random) / (human - random)
