"""The shell commands behind a chapter: the `prunebook run` / `prunebook status` lines that
make, or report on, exactly the runs a selection needs, and the Markdown with which a chapter
tells its reader how to rerun it at paper scale on a GPU machine.
"""

from __future__ import annotations

from collections.abc import Sequence

from prunebook.book.chapters.selections import Selection, selection
from prunebook.spec import PAPER_SEEDS


def _grid_command(preset: str, name: str, agents, games, widths, sparsities, seeds,
                  verb: str = "run") -> str:
    workers = " --workers 1" if verb == "run" else ""
    games = list(games)
    lines = [" ".join(games[i:i + 5]) for i in range(0, len(games), 5)]
    return (f".venv/bin/prunebook {verb} --preset {preset} --name {name}{workers} \\\n"
            f"    --agents {' '.join(agents)} --widths {' '.join(map(str, widths))} "
            f"--sparsities {' '.join(f'{s:g}' for s in sparsities)} \\\n"
            f"    --seeds {' '.join(map(str, seeds))} \\\n"
            "    --games " + " \\\n            ".join(lines))


def run_commands(sel: Selection, verb: str = "run") -> list[str]:
    """Shell commands that produce (verb "run") or report on (verb "status") exactly the runs
    `sel` needs, at `sel.preset`."""
    if sel.preset == "cpu":
        return [f".venv/bin/prunebook {verb} --sweep online_cpu  # the sweep of chapters 1-3"]
    return [_grid_command(sel.preset, sel.sweep_name, a, sel.games, w, s, sel.seeds, verb)
            for a, w, s in sel.blocks]


PAPER_SCALE_LINK = "[Running the paper's sweep](../book/paper_scale.html)"
"""The book's page on the paper-scale sweep (book/paper_scale.md), as a link from a chapter's
Markdown output. Chapters are built to notebooks/*.html and the book's pages to book/*.html;
the link names the built page because MyST-NB passes links in a cell's Markdown output through
as they are (a `.md` target would stay `.md` and lead nowhere)."""


def paper_instructions(notebook_name: str, agents: Sequence[str], widths: Sequence[int],
                       sparsities: Sequence[float]) -> str:
    """The exact commands that rerun a chapter at paper scale on a GPU machine (Markdown)."""
    sel = selection("paper", agents, widths, sparsities, seeds=PAPER_SEEDS, check=False)
    runs = len(sel.configs())
    train = "\n".join(run_commands(sel))
    status = "\n".join(run_commands(sel, "status"))
    return (
        f"At paper scale this chapter needs {runs} runs of 10M agent steps (40M frames) on the "
        "15 Atari games; the paper reports about 2 days per run on a P100. On a GPU machine, "
        "from the repository root:\n\n"
        "```bash\n"
        '.venv/bin/pip install -U "jax[cuda12]==0.10.2"\n'
        f"{train}\n"
        f"# progress:\n{status}\n"
        f".venv/bin/papermill notebooks/{notebook_name}.ipynb /tmp/{notebook_name}_paper.ipynb "
        "-p preset paper\n"
        "```\n\n"
        f"Runs land in `results/{sel.sweep_name}/`; rerunning a command skips finished runs "
        "and resumes interrupted ones. The chapters of this book share those runs. Several "
        f"runs can share one GPU, or a Ray cluster can run them: see {PAPER_SCALE_LINK}.")
