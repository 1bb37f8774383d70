"""What every chapter notebook shares: its Colab set-up cell and where the results live.

The notebooks' first cell (the Colab set-up) cannot use this module -- on Colab prunebook is not
installed yet when it runs -- so it is plain Python; `COLAB_SETUP` below is its canonical text,
and `tests/test_notebooks.py` checks every notebook starts with it.
"""

from __future__ import annotations

import os
from pathlib import Path

COLAB_SETUP = '''\
# Colab set-up: on Google Colab, clone the book (code and committed results)
# and install it, with JAX's CUDA wheels if the runtime has a GPU.
# Anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os as _os
    import shutil as _shutil
    import subprocess as _subprocess

    _repo = "/content/prunebook"
    if not _os.path.isdir(_repo):
        _url = "https://github.com/prunebook/prunebook"
        _subprocess.run(["git", "clone", "-q", "--depth", "1", _url, _repo],
                        check=True)
    _gpu = ["jax[cuda12]==0.10.2"] if _shutil.which("nvidia-smi") else []
    _pip = [sys.executable, "-m", "pip", "install", "-q"]
    _lock = ["-c", _repo + "/requirements/lock.txt"]  # the book's versions
    _subprocess.run([*_pip, *_lock, _repo + "[envs,analysis]", *_gpu], check=True)
    _os.chdir(_repo + "/notebooks")
    print("Installed. If an import fails, restart the session and run all.")'''

RESULTS_ENV = "PRUNEBOOK_RESULTS"


def repo_root(start: str | os.PathLike | None = None) -> Path | None:
    """The checkout holding this book: the first parent of `start` (default: the working
    directory, then this package) that has both `pyproject.toml` and `notebooks/`."""
    candidates = [Path(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for first in candidates:
        for path in (first, *first.parents):
            if (path / "pyproject.toml").is_file() and (path / "notebooks").is_dir():
                return path
    return None


def results_root(start: str | os.PathLike | None = None) -> Path:
    """The `results/` folder: `$PRUNEBOOK_RESULTS` if set, else `<repo>/results`."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    root = repo_root(start)
    return (root if root is not None else Path.cwd()) / "results"
