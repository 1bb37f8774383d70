"""The book's generated tables and figure (front-page claims, performance-page costs) are what
the committed `results/` produce: a commit that adds results without `make claims` fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prunebook.analysis import claims_table
from prunebook.book import frontpage
from prunebook.book.frontpage import FIGURE
from prunebook.sweeps import cost, registry
from prunebook.sweeps.registry import BOOK_SWEEPS

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "book" / "_generated"


def test_claims_table_and_figure_match_results():
    res = claims_table.results_for(ROOT / "results")
    pending = sorted({frontpage.pending_sweep(r) for r in res if r.verdict == "not yet run"})
    table = frontpage.page_table(res, frontpage.sweep_progress(ROOT / "results", pending))
    assert (GENERATED / "claims.md").read_text() == frontpage.page_markdown(table), (
        "run `make claims`")
    assert (GENERATED / FIGURE).read_bytes() == frontpage.figure_svg(res), (
        "run `make claims`")


def test_downloads_match_results(tmp_path):
    written = frontpage.write_downloads(tmp_path, ROOT / "results")
    assert written and (GENERATED / frontpage.DOWNLOADS).read_text() == (
        frontpage.downloads_markdown({s: [GENERATED / p.relative_to(tmp_path) for p in paths]
                                      for s, paths in written.items()}, GENERATED))
    for paths in written.values():
        for path in paths:
            committed = GENERATED / path.relative_to(tmp_path)
            assert committed.read_bytes() == path.read_bytes(), f"run `make claims`: {committed}"


@pytest.mark.parametrize("name", BOOK_SWEEPS)
def test_cost_table_matches_results(name):
    expected = cost.cost_markdown(registry.cost_rows(name, ROOT / "results"), name)
    assert (GENERATED / f"cost_{name}.md").read_text() == expected, "run `make claims`"


def test_the_front_pages_summary_quotes_only_ratios_of_the_claims_table():
    """"What we found" is written by hand: a ratio it quotes that the committed results no
    longer give (a verdict recomputed, a claim renamed) is a stale sentence on the first page
    a reader sees. Paper ratios (×1.6, ×1.5) have one decimal and are not ratios of ours."""
    intro = (ROOT / "book" / "intro.md").read_text()
    found = intro.split("## What we found", 1)[1].split("\n## ", 1)[0]
    quoted = set(re.findall(r"×\d+\.\d\d\b", found))
    table = (GENERATED / "claims.md").read_text()
    assert quoted, "the summary quotes no ratio: has its heading changed?"
    stale = sorted(r for r in quoted if f"{r} [" not in table)  # the table: "×1.38 [1.19, 1.69]"
    assert not stale, f"ratios on the front page that the claims table does not give: {stale}"
