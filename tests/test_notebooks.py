"""The notebook contract, checked statically on every committed notebook (no execution).

Executing them is `make test`'s job: nbval at the defaults, papermill at preset="ci".
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from prunebook.book.colab import COLAB_SETUP
from prunebook.book.params import SPECS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks in notebooks/"


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_contract(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    cells = code_cells(path)
    # 1. the Colab set-up, verbatim: test_first_cell_is_the_colab_setup
    # 2. one parameters cell, declaring exactly the notebook's spec
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is cells[1], "second code cell must be tagged parameters"
    assert path.stem in SPECS, f"add a spec for {path.stem} to prunebook.book.params.SPECS"
    spec = SPECS[path.stem]
    declared = re.findall(r"^([A-Za-z]\w*)\s*=", cells[1].source, flags=re.M)
    assert declared == list(spec), "parameters cell and spec must list the same names in order"
    for name in ("preset", "seed"):
        assert name in spec
    # 3. validated before any compute, by one library call
    assert f'params.check(globals(), "{path.stem}")' in cells[2].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_is_the_colab_setup(path):
    assert code_cells(path)[0].source == COLAB_SETUP, "first code cell must be colab.COLAB_SETUP"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_executed_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert "papermill" not in nb.metadata, "run scripts/run_notebooks.py (it strips run metadata)"
    cells = code_cells(path)
    counts = [c.execution_count for c in cells if c.source.strip()]
    assert None not in counts and counts == sorted(counts), "commit the notebook executed in order"
    for cell in cells:
        assert not any(o.get("output_type") == "error" for o in cell.outputs)
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in cells), \
        "tag the cells printing key numbers nbval-check-output"


def toc_files():
    return re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())


def test_every_notebook_is_in_the_toc_and_every_toc_file_exists():
    files = toc_files()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in files, f"add notebooks/{path.stem} to _toc.yml"
    for file in files:
        assert any((ROOT / f"{file}{ext}").is_file() for ext in ("", ".md", ".ipynb")), file


def requirements_of_pyproject():
    """Every requirement pyproject.toml names (dependencies and extras, not the self-references
    like "prunebook[envs]"), as packaging Requirements."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = pyproject[pyproject.index("\ndependencies = ["):
                          pyproject.index("[project.scripts]")]
    quoted = re.findall(r'^\s*"([A-Za-z0-9][^"]*)",?\s*(?:#.*)?$', pyproject, flags=re.M)
    reqs = [Requirement(q) for q in quoted if not q.startswith("prunebook")]
    assert {"jax", "flax", "optax", "gymnax", "jupyter-book", "pytest", "ray"} <= {
        canonicalize_name(r.name) for r in reqs}
    return reqs


def lock_pins():
    lines = (ROOT / "requirements" / "lock.txt").read_text().splitlines()
    pins = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): next(iter(r.specifier)).version for r in pins}


def test_the_lock_pins_every_dependency_within_pyprojects_ranges():
    pins = lock_pins()
    for req in requirements_of_pyproject():
        name = canonicalize_name(req.name)
        assert name in pins, f"pin {name} in requirements/lock.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    named = {canonicalize_name(r.name) for r in requirements_of_pyproject()}
    assert set(pins) - named <= {"jaxlib"}, "the lock pins only what pyproject names"


def test_environment_yml_and_makefile_install_through_the_lock():
    env = (ROOT / "environment.yml").read_text()
    assert "- -c requirements/lock.txt" in env
    assert not re.findall(r"^\s*-\s+[A-Za-z0-9_.\-]+==", env, flags=re.M), "pins live in the lock"
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements/lock.txt" in makefile and "pip install -c $(LOCK)" in makefile
