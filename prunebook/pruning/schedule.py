"""When to prune and how much: the polynomial GMP schedule (paper Eq. 1) and a one-shot one.

Counts are gradient updates (`optax` update calls), never frames or agent steps. Every count
is an integer, checked when the schedule is made, and a schedule must contain at least one
mask update (a multiple of `update_every` inside `[start_update, end_update]`): a schedule
that would never prune is an error, not a dense run.
"""

from __future__ import annotations

import dataclasses
import numbers

import jax.numpy as jnp


def check_integer(name: str, value, minimum: int = 0) -> int:
    """`value` if it is an integer (Python or NumPy, not bool) >= `minimum`; else an error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer (a count of updates), got "
                        f"{type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_sparsity(name: str, value) -> float:
    """`value` if it is a real number in [0, 1); else an error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__} "
                        f"{value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class GMPSchedule:
    """Polynomial sparsity schedule over *gradient updates* (paper Eq. 1; jaxpruner's
    `PolynomialSchedule`): progress counted from `update + 1`, masks recomputed only every
    `update_every` updates inside `[start_update, end_update]`.

    `start_update == end_update` is one-shot pruning at that update (see `one_shot`)."""

    final_sparsity: float
    start_update: int
    end_update: int
    update_every: int = 1000
    power: int = 3

    def __post_init__(self):
        check_sparsity("final_sparsity", self.final_sparsity)
        check_integer("start_update", self.start_update)
        check_integer("end_update", self.end_update)
        check_integer("update_every", self.update_every, minimum=1)
        if self.end_update < self.start_update:
            raise ValueError(f"need start_update <= end_update, got {self.start_update}, "
                             f"{self.end_update}")
        if isinstance(self.power, bool) or not isinstance(self.power, numbers.Real) or (
                self.power <= 0):
            raise ValueError(f"power must be a positive number, got {self.power!r}")
        if self.first_mask_update > self.end_update:
            raise ValueError(
                f"no mask update inside the pruning window [{self.start_update}, "
                f"{self.end_update}] with update_every={self.update_every}: the network would "
                "never be pruned (shorten update_every or widen the window)")

    @classmethod
    def one_shot(cls, final_sparsity: float, at_update: int) -> GMPSchedule:
        """Prune once, to `final_sparsity`, at update `at_update` (jaxpruner's
        `OneShotSchedule`); the masks are then fixed."""
        return cls(final_sparsity, at_update, at_update, update_every=1)

    @classmethod
    def from_run_length(cls, final_sparsity: float, total_updates: int, start_frac: float = 0.2,
                        end_frac: float = 0.8, update_every: int = 1000) -> GMPSchedule:
        """The paper's default: prune from 20% to 80% of the run's gradient updates.

        Start and end are rounded to multiples of `update_every` (so the last mask update lands
        exactly on `end_update` and reaches `final_sparsity`, as in the paper's 500k/2M).
        """
        check_integer("total_updates", total_updates, minimum=1)
        check_integer("update_every", update_every, minimum=1)
        if not 0.0 <= start_frac < end_frac <= 1.0:
            raise ValueError(f"need 0 <= start_frac < end_frac <= 1, got {start_frac}, {end_frac}")
        every = max(1, min(update_every, int(total_updates * (end_frac - start_frac)) // 4))
        start = int(round(total_updates * start_frac / every)) * every
        end = max(start + every, int(round(total_updates * end_frac / every)) * every)
        return cls(final_sparsity, start, end, every)

    @property
    def first_mask_update(self) -> int:
        return -(-self.start_update // self.update_every) * self.update_every

    def fraction_at(self, update):
        """Eq. 1 without the staircase, as a fraction of the final value (jittable)."""
        span = self.end_update - self.start_update
        if span == 0:  # one-shot: the whole target from the mask update on
            return jnp.where(jnp.asarray(update) + 1 > self.start_update, 1.0, 0.0)
        progress = jnp.clip(update + 1 - self.start_update, 0, span) / span
        return 1.0 - (1.0 - progress) ** self.power

    def target_at(self, update):
        return self.final_sparsity * self.fraction_at(update)

    def is_mask_update(self, update):
        return ((update % self.update_every) == 0) & (update >= self.start_update) & (
            update <= self.end_update)

    def sparsity_at(self, update):
        """Sparsity of the masks in force for update `update` (the staircase; jittable).

        Masks are recomputed at `update` when `is_mask_update(update)`, so this is the target
        at the latest mask-update step <= update, and 0 before the first one.
        """
        update = jnp.asarray(update)
        last = jnp.minimum(update, self.end_update)
        last = last - last % self.update_every
        return jnp.where(update >= self.first_mask_update, self.target_at(last), 0.0)
