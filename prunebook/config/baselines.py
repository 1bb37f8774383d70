"""The paper's Fig 12 baselines as config settings, scaled to a run's length (chapter 7).

The paper trains DQN for 10M agent steps (40M frames) with Dopamine's settings; our runs are
shorter, so periods are kept as the same *fraction of the run*:

* weight decay 1e-5, decoupled (AdamW): "the value suggested by Sokar et al. (2023)", the best
  of the paper's App. G.8 sweep;
* L2 on the loss, lambda = 1e-5: the paper gives no value (it cites Kumar et al. 2022), so we
  use weight decay's, which makes the two differ only in coupled vs decoupled decay;
* Reset: the Q output layer every 100k agent steps (App. G.6/G.7), 1% of 10M agent steps;
* ReDo: tau = 0.1 (App. G.5) every 200k agent steps (Dopamine's `BaseRecycler.reset_period`,
  counted in agent steps there), 2% of the run, for the whole run.

At the `cpu` preset (500k agent steps, an update every 4): Reset every 1,250 updates, ReDo
every 2,500.
"""

from __future__ import annotations

from typing import Any

from prunebook.config.base import ConfigError
from prunebook.config.run import RunConfig
from prunebook.spec import BASELINES

WEIGHT_DECAY = 1e-5
L2_PENALTY = 1e-5
RESET_FRACTION = 100_000 / 10_000_000  # of the run's agent steps
REDO_FRACTION = 200_000 / 10_000_000
REDO_TAU = 0.1


def period_updates(fraction: float, config: RunConfig) -> int:
    """Gradient updates in `fraction` of the run's agent steps (at least 1)."""
    return max(1, round(fraction * config.num_env_steps / config.update_period))


def baseline_settings(method: str, config: RunConfig) -> dict[str, Any]:
    """The RunConfig fields that switch `method` on for a run shaped like `config`."""
    if method == "weight_decay":
        return {"weight_decay": WEIGHT_DECAY}
    if method == "l2":
        return {"l2_penalty": L2_PENALTY}
    if method == "reset":
        return {"reset_every_updates": period_updates(RESET_FRACTION, config)}
    if method == "redo":
        return {"redo_every_updates": period_updates(REDO_FRACTION, config),
                "redo_tau": REDO_TAU}
    raise ConfigError(f"baseline={method!r} is not defined; choose one of {list(BASELINES)}")
