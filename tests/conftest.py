"""Shared test configuration.

Every test runs with `jax_numpy_rank_promotion="raise"` (STYLE.md lesson 7): an implicit
broadcast between arrays of different rank is an error, so shape bugs fail loudly. The tests'
tiny runs share JAX's persistent compilation cache (as sweep workers and live chapters do), so a
program several tests compile, in any test process, compiles once. Only config flags and cheap
fixtures live here, so importing this file costs nothing measurable.
"""

import jax
import numpy as np
import pytest

from prunebook.loops.compilation_cache import use_compilation_cache

jax.config.update("jax_numpy_rank_promotion", "raise")
use_compilation_cache()


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded NumPy generator per test (no hidden global RNG)."""
    return np.random.default_rng(0)


@pytest.fixture
def key() -> jax.Array:
    """A fresh JAX PRNG key per test."""
    return jax.random.key(0)
