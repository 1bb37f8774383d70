"""The book's generated tables and figure (front-page claims, performance-page costs) are what
the committed `results/` produce: a commit that adds results without `make claims` fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunebook import claims, frontpage, runner, sweeps

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "book" / "_generated"


def test_claims_table_and_figure_match_results():
    res = claims.results_for(ROOT / "results")
    expected = claims.to_markdown(claims.table_of(res))
    assert (GENERATED / "claims.md").read_text() == expected, "run `make claims`"
    assert (GENERATED / frontpage.FIGURE).read_bytes() == frontpage.figure_svg(res), (
        "run `make claims`")


@pytest.mark.parametrize("name", sweeps.BOOK_SWEEPS)
def test_cost_table_matches_results(name):
    expected = runner.cost_markdown(sweeps.cost_rows(name, ROOT / "results"), name)
    assert (GENERATED / f"cost_{name}.md").read_text() == expected, "run `make claims`"
