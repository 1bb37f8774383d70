"""`loops.compilation_cache`: a program is stored in the folder asked for, and a second
compilation of the same program, by a new `jit` as a new trainer makes, is read from it."""

import jax
import jax.numpy as jnp
import pytest
from jax.experimental.compilation_cache import compilation_cache

from prunebook.loops.compilation_cache import MAX_CACHE_BYTES, use_compilation_cache

HIT = "/jax/compilation_cache/cache_hits"


@pytest.fixture
def restore_cache_settings():
    """The cache is process-wide: give the other tests theirs back."""
    folder = jax.config.jax_compilation_cache_dir
    seconds = jax.config.jax_persistent_cache_min_compile_time_secs
    max_bytes = jax.config.jax_compilation_cache_max_size
    yield
    use_compilation_cache(folder, seconds)
    jax.config.update("jax_compilation_cache_max_size", max_bytes)


def test_a_cache_the_user_configured_keeps_its_size_setting(tmp_path, restore_cache_settings):
    use_compilation_cache(tmp_path / "mine")
    jax.config.update("jax_compilation_cache_max_size", -1)  # as JAX_COMPILATION_CACHE_DIR alone
    assert use_compilation_cache() == tmp_path / "mine"
    assert jax.config.jax_compilation_cache_max_size == -1
    assert use_compilation_cache(tmp_path / "named") == tmp_path / "named"  # a folder we name
    assert jax.config.jax_compilation_cache_max_size == MAX_CACHE_BYTES  # is bounded: locked


def test_a_program_is_stored_in_the_folder_and_read_back(tmp_path, restore_cache_settings):
    hits = []

    def count(event, **kwargs):
        if event == HIT:
            hits.append(event)

    x = jnp.arange(7.0)
    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    jax.jit(lambda v: v * 5.0 + 2.0)(x)  # compiled before the cache is turned on
    folder = use_compilation_cache(tmp_path / "jax", min_compile_seconds=0.0)
    assert folder == tmp_path / "jax"
    jax.monitoring.register_event_listener(count)
    try:
        first = jax.jit(lambda v: jnp.cos(v) * 3.0 - 11.0)(x)  # a program only this test has
        stored = {p.name for p in folder.iterdir()}
        assert any(name.endswith("-cache") for name in stored) and not hits
        second = jax.jit(lambda v: jnp.cos(v) * 3.0 - 11.0)(x)  # a new jit: compiled again
        assert len(hits) == 1 and {p.name for p in folder.iterdir()} == stored
        assert (first == second).all()
    finally:
        jax.monitoring.unregister_event_listener(count)


def test_a_negative_threshold_is_refused():
    with pytest.raises(ValueError, match="min_compile_seconds"):
        use_compilation_cache(min_compile_seconds=-1)
