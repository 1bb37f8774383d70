"""Run configurations: frozen, validated before any compute, and their presets.

* `base`: `FrozenConfig`, the fields and checks online and offline runs share;
* `run`: `RunConfig`, one online run (MinAtar or Atari);
* `minatar`: the `ci`, `cpu` and `std` presets; `paper`: the paper's Atari preset;
* `offline`: `OfflineConfig` (CQL, CQL+C51) and its presets;
* `baselines`: the settings of chapter 7's baselines (weight decay, L2, Reset, ReDo).

Everything is re-exported here: `from prunebook.config import RunConfig, cpu_config`.
"""

from __future__ import annotations

from typing import Any

from prunebook.config.base import ConfigError, FrozenConfig
from prunebook.config.baselines import baseline_settings
from prunebook.config.minatar import (
    CPU_NUM_ENV_STEPS,
    STD_NUM_ENV_STEPS,
    ci_config,
    cpu_config,
    std_config,
)
from prunebook.config.offline import (
    OfflineConfig,
    logging_config,
    offline_ci_config,
    offline_cpu_config,
    offline_preset_config,
)
from prunebook.config.paper import paper_config
from prunebook.config.run import RunConfig, asterix_spawn_of, same_run
from prunebook.spec import OFFLINE_AGENTS, PRESETS

__all__ = [
    "CPU_NUM_ENV_STEPS", "STD_NUM_ENV_STEPS", "ConfigError", "FrozenConfig", "OfflineConfig",
    "RunConfig", "asterix_spawn_of", "baseline_settings", "ci_config", "config_from_dict",
    "cpu_config", "logging_config", "offline_ci_config", "offline_cpu_config",
    "offline_preset_config", "paper_config", "preset_config", "same_run", "std_config",
]


def config_from_dict(data: dict[str, Any]):
    """Rebuild a run's config from its dict (online RunConfig or offline OfflineConfig)."""
    if data.get("agent") in OFFLINE_AGENTS:
        return OfflineConfig.from_dict(data)
    return RunConfig.from_dict(data)


def preset_config(preset: str, agent: str = "dqn", **overrides: Any) -> RunConfig:
    if preset == "ci":
        return ci_config(agent, **overrides)
    if preset == "cpu":
        return cpu_config(agent, **overrides)
    if preset == "std":
        return std_config(agent, **overrides)
    if preset == "paper":
        return paper_config(agent, **overrides)
    raise ConfigError(f"preset={preset!r} is not allowed; choose one of {list(PRESETS)}")
