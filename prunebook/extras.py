"""Optional dependencies: installing prunebook alone gives the library (pruning, networks,
agents, measures, statistics: jax, flax, optax, chex, numpy); the rest comes with an extra.

prunebook is not on PyPI: it is installed from a checkout of the book (`pip install .`) or from
a wheel built there. A module that needs an extra calls `require` before importing it, so a
missing package fails at import time with the command that installs it (:func:`install_hint`),
e.g. `pip install '.[envs]'` from the checkout.
"""

from __future__ import annotations

import importlib.util

EXTRAS = {
    "envs": "MinAtar (gymnax) and Atari (ale-py, gymnasium, opencv) environments",
    "analysis": "results tables, bootstraps with scipy, plots (pandas, scipy, matplotlib)",
    "book": "the book: notebooks, Jupyter Book, papermill (includes envs and analysis)",
    "cluster": "the Ray executor",
    "test": "the test suite",
}


def install_hint(extra: str) -> str:
    """The command that adds `extra`, for both ways of installing the unpublished package."""
    return (f"pip install '.[{extra}]' from a checkout of the book (from a wheel built "
            f"there: pip install 'prunebook-<version>-py3-none-any.whl[{extra}]')")


def require(extra: str, *modules: str, by: str = "prunebook") -> None:
    """ImportError naming the extra when one of `modules` (import names) is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"{by} needs {', '.join(missing)}, which come with the "
                          f"'{extra}' extra ({EXTRAS[extra]}): {install_hint(extra)}")


def missing_extra(extra: str, error: ImportError) -> ImportError:
    """The ImportError to raise from `except ImportError as error` around an extra's import."""
    return ImportError(f"{error.name or error} is missing; it comes with the '{extra}' extra "
                       f"({EXTRAS[extra]}): {install_hint(extra)}")
