"""Asterix with original MinAtar's spawning (Young & Tian 2019), on top of gymnax's port.

gymnax 1.0.1's `while_sample_slots` walks a random order of the 8 entity slots but never tries
the first one, and when it finds no free slot it writes an empty entity over an occupied slot
(from a crafted state with all 8 slots full, gymnax always drops to 7; with 7 full, ~12% of
spawns end at 6). Original MinAtar (`minatar/environments/asterix.py`, `_spawn_entity`) puts
the new entity into a uniformly chosen free slot and does nothing when none is free.
:func:`minatar_asterix` spawns that way and leaves everything else (moves, collisions, timers,
ramping, observations) to gymnax's own code.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

NUM_SLOTS = 8  # entity rows 1-8 of the 10x10 board, one slot each
GOLD_PROBABILITY = 1 / 3  # MinAtar: an entity is treasure with probability 1/3


def spawn(key: jax.Array, entities: jax.Array) -> jax.Array:
    """`entities` (8, 5) with one new entity in a uniformly chosen free slot, or unchanged
    when every slot is taken (MinAtar's `_spawn_entity`).

    An entity row is (x, row = slot + 1, moving right, is gold, slot in use); it enters at the
    edge it moves away from.
    """
    key_lr, key_gold, key_slot = jax.random.split(key, 3)
    right = jax.random.bernoulli(key_lr, 0.5).astype(entities.dtype)
    gold = jax.random.bernoulli(key_gold, GOLD_PROBABILITY).astype(entities.dtype)
    free = entities[:, 4] == 0
    # uniform over the free slots: the largest of i.i.d. uniform scores, taken slots excluded
    scores = jnp.where(free, jax.random.uniform(key_slot, (NUM_SLOTS,)), -1.0)
    slot = jnp.argmax(scores)
    entity = jnp.stack([(1 - right) * 9, slot + 1, right, gold, jnp.ones_like(right)])
    return jnp.where(free.any(), entities.at[slot].set(entity.astype(entities.dtype)), entities)


@functools.cache
def _asterix_class() -> type:
    from gymnax.environments.minatar.asterix import MinAsterix  # lazily, as envs.minatar

    class MinAtarAsterix(MinAsterix):
        """gymnax's Asterix whose spawns follow original MinAtar (the module docstring)."""

        def step_env(self, key: jax.Array, state: Any, action: Any, params: Any):
            # Spawn here; gymnax's step then sees the timer already reloaded (spawn_speed >= 1),
            # so its own faulty spawn never fires, and counts the timer down as MinAtar does.
            spawn_now = state.spawn_timer == 0
            entities = jnp.where(spawn_now, spawn(jax.random.fold_in(key, 1), state.entities),
                                 state.entities)
            timer = jnp.where(spawn_now, state.spawn_speed, state.spawn_timer)
            state = state.replace(entities=entities, spawn_timer=timer)
            return super().step_env(key, state, action, params)

    return MinAtarAsterix


def minatar_asterix(use_minimal_action_set: bool = True) -> Any:
    """gymnax's Asterix environment with original MinAtar's spawning (a gymnax Environment)."""
    return _asterix_class()(use_minimal_action_set=use_minimal_action_set)
