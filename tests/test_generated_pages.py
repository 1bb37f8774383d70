"""The book's generated tables and figure (front-page claims, performance-page costs) are what
the committed `results/` produce: a commit that adds results without `make claims` fails here."""

from __future__ import annotations

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
    expected = claims_table.to_markdown(claims_table.table_of(res))
    assert (GENERATED / "claims.md").read_text() == expected, "run `make claims`"
    assert (GENERATED / FIGURE).read_bytes() == frontpage.figure_svg(res), (
        "run `make claims`")


@pytest.mark.parametrize("name", BOOK_SWEEPS)
def test_cost_table_matches_results(name):
    expected = cost.cost_markdown(registry.cost_rows(name, ROOT / "results"), name)
    assert (GENERATED / f"cost_{name}.md").read_text() == expected, "run `make claims`"
