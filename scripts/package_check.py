"""`pip install prunebook` as a user gets it: build the wheel, install it with no extras into
a fresh virtual environment, and run the quick-start there (plus: the library's modules
import, and a module that needs an extra says which). `make package-check`; CI runs it.

Usage: python scripts/package_check.py [--extras envs,analysis] [--lowest] [--keep DIR]
`--lowest` installs the oldest versions the wheel's ranges allow (each `>=` bound pinned, jaxlib
with jax), so a lower bound that no longer works fails here instead of in a user's environment.
Uses pip's cache, so a rerun downloads nothing. Prints the venv's size (du).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("prunebook.pruning", "prunebook.networks", "prunebook.agents", "prunebook.measures",
           "prunebook.analysis.stats", "prunebook.config")
# module -> the extra it needs; without it, its ImportError must say `pip install '.[`
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
        assert "pip install '.[" in str(error), (name, str(error))
    else:
        assert extra in {installed!r}, f"{{name}} imported without the {{extra}} extra"
print("library imports; missing extras are named")
"""


def lowest_pins(wheel: Path) -> list[str]:
    """`name==X` for every `name>=X` the wheel requires without an extra (jaxlib follows jax)."""
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    pins = []
    for line in lines:
        if not line.startswith("Requires-Dist:") or "extra ==" in line:
            continue
        requirement = line.split(":", 1)[1].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*\(?>=\s*([0-9][0-9A-Za-z.]*)\)?", requirement)
        if not match:
            raise ValueError(f"dependency {requirement!r} has no single lower bound to test")
        pins.append(f"{match[1]}=={match[2]}")
        if match[1] == "jax":
            pins.append(f"jaxlib=={match[2]}")
    return pins


def run(*cmd, cwd=None):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extras", default="", help="comma-separated extras to install too")
    parser.add_argument("--lowest", action="store_true",
                        help="the oldest versions pyproject allows, not the newest")
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
        if args.lowest:
            constraints = work / "lowest.txt"
            constraints.write_text("\n".join(lowest_pins(wheel)) + "\n")
            pip += ["-c", constraints]
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
        versions = f", oldest versions {' '.join(lowest_pins(wheel))}" if args.lowest else ""
        print(f"package check passed in {time.perf_counter() - start:.0f} s: wheel "
              f"{wheel.name}, extras [{','.join(extras)}]{versions}, venv {size} MB, "
              f"{count} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
