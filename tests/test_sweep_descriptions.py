"""Each named sweep is described once (`prunebook.sweeps.registry.DESCRIPTIONS`): its name, the
experiment and preset a chapter finds it by, and the sweeps it borrows from must agree."""

import pytest

from prunebook.config import ConfigError
from prunebook.sweeps import registry


@pytest.mark.parametrize("name", list(registry.DESCRIPTIONS))
def test_a_description_matches_the_sweep_it_makes(name):
    about = registry.describe(name)
    sweep = registry.get_sweep(name)
    assert sweep.name == name
    assert {c.preset for c in sweep.configs()} == {about.preset}
    assert registry.find(about.experiment, about.preset) == name
    for lender in (about.comparators, about.compared_with, about.reference, about.cost_prior):
        assert lender is None or lender in registry.DESCRIPTIONS
    assert about.chapter == "" or about.chapter[:2].isdigit()


def test_lookups_and_their_errors():
    assert registry.find("online", "std") == "online_std"
    assert registry.describe("controls_cpu").reference_sweep == "online_cpu"
    assert registry.describe("online_cpu").reference_sweep is None
    assert registry.describe("my_adhoc_sweep") is registry.UNDESCRIBED
    assert registry.BOOK_SWEEPS[0] == "online_cpu" and "online_ci" not in registry.BOOK_SWEEPS
    with pytest.raises(ConfigError, match="no sweep at that preset"):
        registry.find("controls", "paper")


def test_chapter_2_compares_the_vmax_sweep_with_online_cpu_without_pooling_them():
    about = registry.describe("rainbow_vmax100")
    assert about.compared_with == about.lender == "online_cpu"
    assert about.comparators is None  # the claims engine never pools its runs with online_cpu's
    assert registry.describe("controls_cpu").lender == "online_cpu"
    assert registry.describe("online_std").lender is None
    with pytest.raises(ConfigError, match="not both"):
        registry.Description(about.make, "x", "cpu", comparators="online_cpu",
                             compared_with="online_cpu")
