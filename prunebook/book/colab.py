"""What every chapter notebook shares: its Colab set-up cell and where the results live.

The notebooks' first cell (the Colab set-up) cannot use this module -- on Colab prunebook is not
installed yet when it runs -- so it is plain Python; `COLAB_SETUP` below is its canonical text
(made from the one repository setting, `repository.url` in `_config.yml`), and
`tests/test_notebooks.py` checks every notebook starts with it.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_FILE = "_config.yml"


def repository_url(config: str | os.PathLike | None = None) -> str:
    """The book's one repository setting, ``repository.url`` in Jupyter Book's `_config.yml`
    (default: the checkout's); "" while the book has no published home (then no page links
    to a repository and the Colab cell asks for an uploaded copy instead)."""
    if config is None:
        root = repo_root(Path(__file__).resolve().parent)
        config = root / CONFIG_FILE if root is not None else None
    if config is None or not Path(config).is_file():
        return ""
    section = ""
    for line in Path(config).read_text().splitlines():
        if line and not line[0].isspace():
            section = line.split(":")[0].strip()
        elif section == "repository" and line.strip().startswith("url:"):
            return line.split(":", 1)[1].split("#")[0].strip().strip("\"'")
    return ""


def colab_setup(url: str) -> str:
    """The text of every chapter's first cell for the repository at `url` ("": unpublished)."""
    return f'''\
# Colab set-up: on Google Colab, install the book (code and committed results),
# with JAX's CUDA wheels if the runtime has a GPU. Anywhere else this cell does nothing.
# Without a repository address, first upload prunebook.zip (a zip of a checkout,
# e.g. `git archive -o prunebook.zip HEAD`) to /content in Colab's Files pane.
import sys

if "google.colab" in sys.modules:
    import glob as _glob
    import os as _os
    import shutil as _shutil
    import subprocess as _subprocess

    _repo = "/content/prunebook"
    _url = "{url}"  # _config.yml's repository.url; "" while the book is unpublished
    if not _os.path.isdir(_repo) and _url:
        _subprocess.run(["git", "clone", "-q", "--depth", "1", _url, _repo],
                        check=True)
    elif not _os.path.isdir(_repo):
        if not _os.path.isfile("/content/prunebook.zip"):
            raise FileNotFoundError("upload prunebook.zip to /content, then rerun this cell")
        _shutil.unpack_archive("/content/prunebook.zip", "/content/_prunebook_zip")
        _found = _glob.glob("/content/_prunebook_zip/**/pyproject.toml", recursive=True)
        _shutil.move(_os.path.dirname(min(_found, key=len)), _repo)
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


COLAB_SETUP = colab_setup(repository_url())
"""The first code cell of every chapter (`tests/test_notebooks.py` checks it verbatim)."""
