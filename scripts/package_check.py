"""`pip install prunebook` as a user gets it: build the wheel, install it with no extras into
a fresh virtual environment, and run the quick-start there (plus: the library's modules
import, and a module that needs an extra says which). `make package-check`; CI runs it.

Usage: python scripts/package_check.py [--extras envs,analysis] [--keep DIR]
Uses pip's cache, so a rerun downloads nothing. Prints the venv's size (du).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("prunebook.pruning", "prunebook.networks", "prunebook.agents", "prunebook.measures",
           "prunebook.analysis.stats", "prunebook.config")
# module -> the extra it needs; without it, its ImportError must say `pip install 'prunebook[`
NEEDS_EXTRA = {"prunebook.envs": "envs", "prunebook.analysis.normalization": "analysis",
               "prunebook.sweeps.store": "analysis", "prunebook.book.chapters": "book"}

IMPORT_CHECK = """
import importlib, sys
for name in {library!r}:
    importlib.import_module(name)
for name, extra in {needs!r}.items():
    try:
        importlib.import_module(name)
    except ImportError as error:
        assert "pip install 'prunebook[" in str(error), (name, str(error))
    else:
        assert extra in {installed!r}, f"{{name}} imported without the {{extra}} extra"
print("library imports; missing extras are named")
"""


def run(*cmd, cwd=None):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extras", default="", help="comma-separated extras to install too")
    parser.add_argument("--keep", default=None, help="build the venv here and keep it")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "dist",
            ROOT)
        wheel = max((work / "dist").glob("prunebook-*.whl"), key=lambda p: p.stat().st_mtime)
        venv = work / "venv"
        run(sys.executable, "-m", "venv", "--clear", venv)
        pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check"]
        extras = [e for e in args.extras.split(",") if e]
        run(*pip, f"{wheel}[{','.join(extras)}]" if extras else wheel)
        python = venv / "bin" / "python"
        # outside the repository, so the installed wheel is what gets imported
        run(python, "-c", IMPORT_CHECK.format(library=LIBRARY, needs=NEEDS_EXTRA,
                                              installed=extras), cwd=work)
        run(python, ROOT / "scripts" / "quickstart.py", cwd=work)
        size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True,
                              check=True).stdout.split()[0]
        count = len(subprocess.run([python, "-m", "pip", "list", "--format=freeze"],
                                   capture_output=True, text=True, check=True).stdout.split())
        print(f"package check passed in {time.perf_counter() - start:.0f} s: wheel "
              f"{wheel.name}, extras [{','.join(extras)}], venv {size} MB, {count} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
