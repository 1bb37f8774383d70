"""`prunebook/book/chapters` reads results files in one place: `records.read_folder`, called by
the one loader (`data.load`). Any other module of the package that opened a results file, or
asked `sweeps.store` to read one, would be a second way in for a chapter (issue 26)."""

import ast
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent.parent / "prunebook" / "book" / "chapters"
READERS = {"load_runs", "read_run", "scan", "iter_result_files", "run_path"}  # of sweeps.store
# where files may be touched: the reader itself, and the loader counting a sweep's files
ALLOWED = {"records.py": {"read_run", "glob"}, "data.py": {"glob"}}


def file_access(path: Path) -> set[str]:
    """`store.<reader>` attributes, and calls of `open`, `.glob`, `.read_text`, `json.load`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in READERS:
            found.add(node.attr)
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = getattr(getattr(f, "value", None), "id", "")
            if name in {"open", "glob", "rglob", "read_text", "read_bytes"} or (
                    name in {"load", "loads"} and owner == "json"):
                found.add(name)
    return found


def test_only_the_loader_reads_results_files():
    seen = {p.name: file_access(p) for p in sorted(CHAPTERS.glob("*.py"))}
    assert seen["records.py"] == {"read_run", "glob"}  # the check itself still sees a read
    for name, access in seen.items():
        assert access <= ALLOWED.get(name, set()), f"{name} reads files itself: {access}"


def test_the_check_catches_a_module_that_reads_for_itself(tmp_path):
    rogue = tmp_path / "rogue.py"
    rogue.write_text("from prunebook.sweeps import store\n"
                     "def f(root):\n    return store.load_runs(root), open(root / 'x.json')\n")
    assert file_access(rogue) == {"load_runs", "open"}
