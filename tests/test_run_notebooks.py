"""`scripts/run_notebooks.py`: several notebooks at once, each failure reported, the rest run.

Why: `make ci-notebooks` and `make book` run the notebooks two at a time; a failure in one
process must still fail the command and name the notebook, and the others' outputs must land.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("papermill")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run_notebooks.py"


def _script():
    spec = importlib.util.spec_from_file_location("run_notebooks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = module  # the worker processes find its functions by name
    spec.loader.exec_module(module)
    return module


def _notebook(path: Path, body: str) -> Path:
    params = nbformat.v4.new_code_cell("value = 1")
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def test_two_at_once_reports_the_failure_and_keeps_the_others(tmp_path, capfd):
    good = [_notebook(tmp_path / f"good{i}.ipynb", "print(value * 7)") for i in range(2)]
    bad = _notebook(tmp_path / "bad.ipynb", "raise ValueError('on purpose')")
    out = tmp_path / "out"
    code = _script().main([*map(str, [*good, bad]), "--output-dir", str(out), "-p", "value",
                           "6", "--jobs", "2"])
    assert code == 1
    err = capfd.readouterr().err  # the notebooks run in child processes
    # cell 3: papermill injects the parameters as a cell after the tagged one
    assert "FAILED bad.ipynb (cell 3: ValueError: on purpose)" in err
    assert "1 notebook(s) failed: bad.ipynb" in err
    for path in good:
        cells = nbformat.read(out / path.name, as_version=4).cells
        assert cells[-1].outputs[0]["text"] == "42\n"  # ran, with the parameter
        assert "papermill" not in nbformat.read(out / path.name, as_version=4).metadata


def test_jobs_below_one_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        _script().main([str(_notebook(tmp_path / "a.ipynb", "pass")), "--output-dir",
                        str(tmp_path), "--jobs", "0"])
