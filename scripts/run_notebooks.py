"""Execute the book's notebooks with papermill.

    python scripts/run_notebooks.py --in-place                 # `make book`: default parameters,
                                                               # outputs written back to the source
    python scripts/run_notebooks.py --output-dir /tmp/x -p preset ci --jobs 2   # `make test`
    python scripts/run_notebooks.py notebooks/00_pruning_schedule.ipynb --output-dir out -p seed 3

Every notebook runs with the `python3` kernel of this interpreter's environment, with
`notebooks/` as its working directory. A parameter the notebook does not declare is an error
here (papermill itself only warns); the notebook's own `prunebook.book.params.check` then validates
types and ranges. `--in-place` writes a notebook back only if it ran without error, and strips
papermill's run metadata (timings, parameters) so the committed file only changes where its
outputs do; a failed run is kept as `_build/failed/<name>.ipynb`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FAILED = ROOT / "_build" / "failed"


def parse_value(text: str):
    """papermill's `-p` typing: int, float, True/False/None, else the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def clean(path: Path) -> None:
    """Drop papermill's run metadata (timings, parameters, status) from an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def run_one(src: Path, dest: Path, parameters: dict, cell_timeout: int) -> None:
    declared = set(papermill.inspect_notebook(str(src)))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise SystemExit(f"{src.name}: unknown parameter(s) {', '.join(unknown)}; "
                         f"declared: {', '.join(sorted(declared))}")
    papermill.execute_notebook(
        str(src), str(dest), parameters=parameters, kernel_name="python3", cwd=str(src.parent),
        progress_bar=False, execution_timeout=cell_timeout)


def run_and_report(src: Path, output_dir: Path | None, in_place: bool, parameters: dict,
                   cell_timeout: int) -> str | None:
    """Runs one notebook and prints how it went; returns its name if it failed."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        dest = output_dir / src.name if output_dir else Path(tmp) / src.name
        try:
            run_one(src, dest, parameters, cell_timeout)
        except Exception as e:  # noqa: BLE001 -- report every failure, run the rest
            if isinstance(e, papermill.PapermillExecutionError):
                why = f"cell {e.exec_count}: {e.ename}: {e.evalue}"
            else:
                why = f"{type(e).__name__}: {e}"
            print(f"FAILED {src.name} ({why})", file=sys.stderr, flush=True)
            if in_place and dest.exists():
                FAILED.mkdir(parents=True, exist_ok=True)
                shutil.copy(dest, FAILED / src.name)
                print(f"  failed run kept in {FAILED / src.name}", file=sys.stderr, flush=True)
            return src.name
        clean(dest)
        if in_place:
            shutil.copy(dest, src)
    shown = ", ".join(f"{k}={v!r}" for k, v in parameters.items()) or "defaults"
    print(f"ran {src.name} ({shown}) in {time.perf_counter() - start:.1f} s", flush=True)
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--in-place", action="store_true",
                       help="write outputs back into the notebooks (default parameters only)")
    where.add_argument("--output-dir", type=Path, help="write executed copies here")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="a parameter for every notebook")
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run at once, each in its own process and kernel")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    parameters = {name: parse_value(value) for name, value in args.parameter}
    if args.in_place and parameters:
        parser.error("--in-place runs the committed defaults; use --output-dir with -p")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)

    jobs = [(src.resolve(), args.output_dir, args.in_place, parameters, args.cell_timeout)
            for src in notebooks]
    if args.jobs > 1 and len(jobs) > 1:
        with concurrent.futures.ProcessPoolExecutor(min(args.jobs, len(jobs))) as pool:
            outcomes = list(pool.map(run_and_report, *zip(*jobs, strict=True)))
    else:
        outcomes = [run_and_report(*job) for job in jobs]
    failures = [name for name in outcomes if name is not None]
    if failures:
        print(f"{len(failures)} notebook(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
