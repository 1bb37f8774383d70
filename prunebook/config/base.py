"""What every run config shares: the common fields, the run id, JSON round-trips and checks.

Units are in the names: `*_env_steps` / `*_agent_steps` count agent-environment interactions
(one per action; for Atari an agent step is 4 frames), `*_updates` count gradient updates.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from prunebook.spec import BASELINE_FIELDS


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the allowed values."""


def variant_of(config: Mapping[str, Any]) -> str:
    """"" for the paper's own runs (dense, or pruned by GMP); otherwise the control
    (`spec.MASK_METHODS`) or baseline (`spec.BASELINES`) the run is. Read from a config dict,
    so configs stored before these fields existed are the paper's runs."""
    method = config.get("mask_method", "gmp")
    if method != "gmp":
        return method
    return next((name for name, field in BASELINE_FIELDS.items() if config.get(field)), "")


_VARIANT_TAGS = {"static_random": "static", "lottery": "lottery", "weight_decay": "wd",
                 "l2": "l2", "reset": "reset", "redo": "redo"}


def _variant_tag(config: Mapping[str, Any]) -> str:
    variant = variant_of(config)
    if not variant:
        return ""
    tag = "-" + _VARIANT_TAGS[variant]
    if variant in BASELINE_FIELDS:  # the setting, so two settings never share an id
        tag += f"{config[BASELINE_FIELDS[variant]]:g}"
    if variant == "redo":
        tag += f"-tau{float(config['redo_tau']):g}"
    return tag


def run_id_of(config: Mapping[str, Any]) -> str:
    """A run's id from its config dict: the results store and checkpoints are keyed by it.
    The paper's runs keep the ids they always had; a control or baseline adds its tag."""
    return (f"{config['agent']}-{config['game']}-w{config['width']}-"
            f"s{float(config['final_sparsity']):g}-seed{config['seed']}{_variant_tag(config)}")


@dataclasses.dataclass(frozen=True)
class FrozenConfig:
    """What every run config (online `RunConfig`, offline `OfflineConfig`) shares: the fields
    that mean the same thing in both (the network, its pruning, the optimiser, the TD target),
    the run id the results store and checkpoints are keyed by, JSON round-trips, and the field
    checks whose messages name the field and the allowed values. A subclass redeclares a field
    only to change its default."""

    agent: str = "dqn"  # spec.AGENTS (RunConfig) or spec.OFFLINE_AGENTS (OfflineConfig)
    suite: str = "minatar"  # "minatar" (jitted, laptop scale) or "atari" (the paper's setting)
    game: str = "Breakout"
    network: str = "minatar"  # "minatar" | "nature" | "impala"
    width: int = 1  # multiplies conv channels (the paper's width scale)
    scale_dense: bool = False  # also multiply the hidden dense layer
    final_sparsity: float = 0.0  # 0 = dense baseline through the same gmp code path
    allocation: str = "erk"  # per-layer sparsity allocation
    prune_start_frac: float = 0.2  # of gradient updates (paper: 20%)
    prune_end_frac: float = 0.8  # of gradient updates (paper: 80%)
    mask_update_every: int = 1000  # gradient updates between mask recomputations
    seed: int = 0
    preset: str = "ci"
    batch_size: int = 32
    gamma: float = 0.99
    n_step: int = 1  # update horizon
    target_update_period: int = 200  # RunConfig: agent steps; OfflineConfig: gradient updates
    learning_rate: float = 2.5e-4
    adam_eps: float = 3.125e-4
    loss: str = "mse"  # TD loss of the Q head (spec.LOSSES)
    num_atoms: int = 51  # C51 heads only
    v_max: float = 10.0  # C51 heads only: the support is [-v_max, v_max]
    epsilon_eval: float = 0.001
    eval_episodes: int = 0  # >0: greedy (epsilon_eval) evaluation episodes after each iteration

    @property
    def run_id(self) -> str:
        return run_id_of(self.to_dict())

    @property
    def variant(self) -> str:
        """"" (the paper's dense or GMP run), a control or a baseline (:func:`variant_of`)."""
        return variant_of(self.to_dict())

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown config fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    # --- checks for __post_init__ ------------------------------------------------------------
    def _choose(self, name: str, allowed) -> None:
        if getattr(self, name) not in allowed:
            raise ConfigError(
                f"{name}={getattr(self, name)!r} is not allowed; choose one of {list(allowed)}")

    def _check_ints(self, names, minimum: int) -> None:
        kind = "a positive" if minimum == 1 else "a non-negative"
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"{name} must be {kind} integer, got {value!r}")

    def _check_bools(self, names) -> None:
        for name in names:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _check_unit_interval(self, names) -> None:
        for name in names:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")

    def _check_pruning(self) -> None:
        if not 0.0 <= self.final_sparsity < 1.0:
            raise ConfigError(f"final_sparsity must be in [0, 1), got {self.final_sparsity!r}")
        if not 0.0 <= self.prune_start_frac < self.prune_end_frac <= 1.0:
            raise ConfigError("need 0 <= prune_start_frac < prune_end_frac <= 1, got "
                              f"{self.prune_start_frac}, {self.prune_end_frac}")
