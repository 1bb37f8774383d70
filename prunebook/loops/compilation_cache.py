"""JAX's persistent compilation cache, turned on for processes that compile many runs.

A run's jitted loop depends on its agent, width, game and variant, not on its seed or its
sparsity (the sparsity lives in the optimizer state), so the six runs of one configuration in
a sweep, a chapter's live runs at preset `ci` and the test suite's tiny runs compile the same
programs again and again. With the cache, the second such run loads the first one's
executable from disk: a `ci` DQN run whose program is cached takes 0.30x the time of one
compiled afresh (7.5 s against 24-25 s, `benchmarks/compilation_cache.py` on the project's
2-core EPYC, sweep workers busy on both cores). A cached executable is the one XLA compiled,
so no result changes.
"""

from __future__ import annotations

from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

# JAX's eviction needs an access-time file beside every entry, which an unbounded cache (JAX's
# default) does not write: so the bounded cache has a folder of its own.
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "prunebook" / "jax_compilation"
# A bound on the folder turns on JAX's file lock, so processes sharing the folder (sweep
# workers, test workers, notebook kernels) never read an entry another is still writing.
MAX_CACHE_BYTES = 4 * 2**30


def use_compilation_cache(path: Path | str | None = None, min_compile_seconds: float = 1.0
                          ) -> Path:
    """Turn on the cache for this process (a process-wide JAX option) and return its folder:
    `path`, bounded to `MAX_CACHE_BYTES`; by default a cache already configured
    (`JAX_COMPILATION_CACHE_DIR`), whose size setting is left as it is, else
    `DEFAULT_CACHE_DIR`, bounded. Programs that compile faster than `min_compile_seconds` are
    not stored."""
    if min_compile_seconds < 0:
        raise ValueError(f"min_compile_seconds={min_compile_seconds}: must be >= 0")
    current = jax.config.jax_compilation_cache_dir
    ours = path is not None or not current
    folder = Path(path or current or DEFAULT_CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    if ours:
        jax.config.update("jax_compilation_cache_max_size", MAX_CACHE_BYTES)
    # JAX opens the folder, with its bound, once, at the first compilation that uses it:
    # start over so that these settings apply
    compilation_cache.reset_cache()
    return folder
