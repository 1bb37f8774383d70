"""Chapter 0's computations against the paper's numbers (dossier §3.3-3.5)."""

from __future__ import annotations

import pytest

from prunebook.book import schedule
from prunebook.book.schedule import RUN_UPDATES


def test_figure2_schedules_match_the_paper():
    schedules = schedule.figure2_schedules(0.95)
    s40, s100 = schedules["40M frames schedule"], schedules["100M frames schedule"]
    assert (s40.start_update, s40.end_update, s40.update_every) == (500_000, 2_000_000, 1000)
    assert (s100.start_update, s100.end_update) == (1_250_000, 5_000_000)
    assert RUN_UPDATES == {"40M frames": 2_500_000, "100M frames": 6_250_000}
    table = schedule.schedule_key_values(s40, 2_500_000)
    assert table.loc["start of pruning", "frames (M)"] == 8.0
    assert table.loc["end of pruning", "frames (M)"] == 32.0
    assert table.loc["end of pruning", "sparsity"] == pytest.approx(0.95)
    # Eq. 1 at half the window: s_F * (1 - 0.5**3), up to the +1 progress offset.
    assert table.loc["50% of the window", "sparsity"] == pytest.approx(0.95 * 0.875, abs=1e-5)


def test_schedule_curve_is_a_monotone_staircase():
    gmp = schedule.figure2_schedules(0.9)["40M frames schedule"]
    updates, sparsity = schedule.schedule_curve(gmp, 2_500_000)
    assert updates[0] == 0 and updates[-1] == 2_500_000
    assert (sparsity[1:] >= sparsity[:-1]).all()
    assert sparsity[updates < 500_000].max() == 0.0
    assert sparsity[-1] == pytest.approx(0.9)


# dossier §3.4, computed with jaxpruner's get_sparsities_erdos_renyi at s = 0.95
@pytest.mark.parametrize("width, first, block, stack2, last_block, dense", [
    (1, 0.1805, 0.7006, 0.7872, 0.8621, 0.9599),
    (3, 0.2323, 0.8875, 0.9173, 0.9454, 0.9534),
    (5, 0.2019, 0.9264, 0.9455, 0.9639, 0.9488),
])
def test_impala_erk_table_matches_jaxpruner(width, first, block, stack2, last_block, dense):
    table = schedule.allocation_table(schedule.impala_param_shapes(width), [0.95])["s=0.95"]
    assert table["ImpalaStack_0/Conv_0"] == pytest.approx(first, abs=1e-4)
    assert table["ImpalaStack_0/ResidualBlock_0/Conv_0"] == pytest.approx(block, abs=1e-4)
    assert table["ImpalaStack_1/Conv_0"] == pytest.approx(stack2, abs=1e-4)
    assert table["ImpalaStack_2/ResidualBlock_1/Conv_1"] == pytest.approx(last_block, abs=1e-4)
    assert table["QHead_0/Dense_0"] == pytest.approx(dense, abs=1e-4)
    assert table["QHead_0/Dense_1"] == 0.0


def test_kept_weights_is_one_minus_s_of_all_kernels():
    table = schedule.allocation_table(schedule.impala_param_shapes(1), [0.95])
    kept = schedule.kept_weights(table)
    assert kept["all kernels"] == 2_089_024
    assert kept["kept at s=0.95"] == pytest.approx(0.05 * 2_089_024, abs=20)


def test_tiny_gmp_run_follows_the_schedule_in_every_layer():
    run = schedule.train_tiny_gmp(0.9, num_updates=60, seed=1, num_records=60)
    assert run.measured.index[-1] == 60 and len(run.loss) == 60
    assert max(run.max_gap_weights().values()) < 1.0
    assert run.final_report["total"] == pytest.approx(0.9, abs=1e-3)
    assert run.measured["total"].iloc[0] == 0.0


def test_layer_name():
    assert schedule.layer_name("['params']['QHead_0']['Dense_0']['kernel']") == "QHead_0/Dense_0"
