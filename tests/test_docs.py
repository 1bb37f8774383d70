"""The prose cannot go stale silently: the Python in README.md and the book's pages runs, every
`prunebook.<name>` the pages or the notebooks' text mention exists, and no page links to a
repository that does not exist.

A Python block meant only to be read (it needs a cluster, a GPU or hours) is marked by an HTML
comment on the line just before its fence::

    <!-- no-run: needs a Ray cluster -->
    ```python
    ...
    ```

Such a block is still compiled, and each of its `prunebook` imports must resolve; every other
`python` block runs, in a fresh namespace, from the repository root.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest

from prunebook.book import colab

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "book").glob("*.md")])
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NO_RUN = "<!-- no-run"
FENCE = re.compile(r"^```(?:python|\{code-block\} python|\{code-cell\} python)\s*$")
DOTTED = re.compile(r"\bprunebook(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
FILE_NAME = re.compile(r"\.(zip|css|json|md|ipynb|yml|csv|npz)$")  # prunebook.zip is a file
MISSING_HOME = "github.com/prunebook"


def python_blocks(path: Path) -> list[tuple[int, str, bool]]:
    """(line, code, runs) for every python fence of a markdown file."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i].strip()):
            start = i
            i += 1
            body = []
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            runs = not (start and lines[start - 1].strip().startswith(NO_RUN))
            blocks.append((start + 1, "\n".join(body), runs))
        i += 1
    return blocks


BLOCKS = [pytest.param(path, line, code, runs, id=f"{path.name}:{line}")
          for path in PAGES for line, code, runs in python_blocks(path)]


def resolve(name: str) -> bool:
    """Is ``name`` an importable module, or an attribute reached from the longest one?"""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def prunebook_imports(code: str) -> list[str]:
    """Every dotted prunebook name a block imports (``from a import b`` gives ``a.b``)."""
    names = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prunebook"):
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.startswith("prunebook")]
    return names


def test_the_block_finder_sees_fences_and_the_marker(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("text\n```python\nx = 1\n```\n<!-- no-run: slow -->\n```python\ny = 2\n```\n"
                    "```bash\nls\n```\n")
    assert python_blocks(page) == [(2, "x = 1", True), (6, "y = 2", False)]
    assert resolve("prunebook.analysis.stats.iqm") and not resolve("prunebook.claims")
    assert prunebook_imports("from prunebook import chapters") == ["prunebook.chapters"]


@pytest.mark.parametrize("path, line, code, runs", BLOCKS)
def test_python_block(path, line, code, runs, monkeypatch):
    compile(code, f"{path.name}:{line}", "exec")
    unresolved = [n for n in prunebook_imports(code) if not resolve(n)]
    assert not unresolved, f"{path.name} line {line} imports names that do not exist"
    if runs:
        monkeypatch.chdir(ROOT)
        exec(compile(code, f"{path.name}:{line}", "exec"), {"__name__": "__docs__"})


def mentioned_names() -> list[tuple[str, str]]:
    """(where, dotted name) for each `prunebook.x.y` in the pages and notebooks' markdown."""
    texts = [(p.name, p.read_text()) for p in [*PAGES, ROOT / "ARCHITECTURE.md"]]
    for path in NOTEBOOKS:
        texts += [(f"{path.stem} cell {i}", c.source) for i, c in
                  enumerate(nbformat.read(path, as_version=4).cells) if c.cell_type == "markdown"]
    return sorted({(where, m.group(0).rstrip(".")) for where, text in texts
                   for m in DOTTED.finditer(text)})


def test_every_dotted_prunebook_name_in_the_prose_exists():
    names = mentioned_names()
    assert len(names) > 10
    missing = [f"{where}: {name}" for where, name in names
               if not FILE_NAME.search(name) and not resolve(name)]
    assert not missing


def committed_text_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "_config.yml",
             ROOT / "_toc.yml", *(ROOT / "book").rglob("*.md"), *NOTEBOOKS,
             *(ROOT / "prunebook").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]
    return [f for f in files if f.is_file()]


def test_nothing_links_to_the_nonexistent_repository():
    hits = [str(f.relative_to(ROOT)) for f in committed_text_files()
            if MISSING_HOME in f.read_text()]
    assert not hits


def test_an_unpublished_book_renders_no_repository_or_launch_button():
    config = (ROOT / "_config.yml").read_text()
    assert colab.repository_url(ROOT / "_config.yml") == colab.repository_url()
    if not colab.repository_url():
        for key in ("use_repository_button", "use_issues_button", "use_edit_page_button"):
            assert re.search(rf"^\s+{key}: false\s*$", config, flags=re.M), key
        assert re.search(r'^\s+colab_url: ""\s*$', config, flags=re.M)
        assert '_url = ""' in colab.COLAB_SETUP


def test_one_word_per_verdict():
    """The code's verdicts are reproduced / contradicted / inconclusive / not yet run."""
    texts = [p.read_text() for p in PAGES] + [
        c.source for p in NOTEBOOKS for c in nbformat.read(p, as_version=4).cells
        if c.cell_type == "markdown"]
    assert not [t for t in texts if "undecided" in t.lower()]
