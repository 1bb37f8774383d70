"""Chapter 6's controls: static random sparsity (ERK densities, masks fixed from step 0,
deterministic by seed) and the lottery ticket (the donor's final masks and initial weights,
exactly), plus the run ids and checks of the new config fields."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunebook import pruning
from prunebook.book.chapters import records
from prunebook.config import ConfigError, ci_config
from prunebook.loops.minatar import make_trainer
from prunebook.sweeps import lottery, store
from prunebook.sweeps.registry import get_sweep
from prunebook.sweeps.runner import make_trainer_for, run_one


def kernels(tree):
    return {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_flatten_with_path(tree)[0] if np.ndim(x) > 1}


def static_config(**overrides):
    return ci_config(width=2, final_sparsity=0.9, mask_method="static_random", **overrides)


def test_static_random_masks_keep_erks_count_per_layer_and_never_change():
    config = static_config()
    trainer = make_trainer(config)
    state = trainer.init(config.seed)
    targets = {jax.tree_util.keystr(p): t for p, t in jax.tree_util.tree_flatten_with_path(
        pruning.erk_sparsities(state.params, 0.9))[0]}
    masks = kernels(state.opt_state.masks)
    assert len(masks) == 3  # conv, hidden dense, output
    for name, mask in masks.items():
        expected = max(1, round(mask.size * (1.0 - float(targets[name]))))
        assert int(mask.sum()) == expected, name  # ERK's kept count, exactly
    # pruned weights are zero from step 0, online and target
    for tree in (state.params, state.target_params):
        for name, weight in kernels(tree).items():
            assert np.all(weight[masks[name] == 0] == 0), name
    for _ in range(2):  # two iterations: ~440 updates, masks untouched, zeros stay zero
        state = trainer.run_iteration(state)
    after = kernels(state.opt_state.masks)
    assert all(np.array_equal(after[n], masks[n]) for n in masks)
    for name, weight in kernels(state.params).items():
        assert np.all(weight[masks[name] == 0] == 0), name
        assert np.any(weight[masks[name] == 1] != 0), name


def test_static_random_masks_are_deterministic_by_seed_and_not_magnitude():
    def masks(seed):
        config = static_config(seed=seed)
        return kernels(make_trainer(config).init(seed).opt_state.masks)

    first, again, other = masks(0), masks(0), masks(1)
    assert all(np.array_equal(first[n], again[n]) for n in first)
    assert any(not np.array_equal(first[n], other[n]) for n in first)
    # random, not the largest initial weights: kept weights are not the top-|w| ones
    config = static_config()
    params = kernels(make_trainer(config).init(0).params)
    gmp_config = ci_config(width=2, final_sparsity=0.9)
    init = kernels(make_trainer(gmp_config).init(0).params)
    name = max(init, key=lambda n: init[n].size)
    top = pruning.topk_mask(jnp.abs(jnp.asarray(init[name])), 0.9)
    assert not np.array_equal(np.asarray(top), first[name] > 0)
    assert np.array_equal(params[name], init[name] * first[name])  # same init, masked


def test_random_masks_match_erk_on_a_hand_sized_tree(key):
    params = {"a": jnp.ones((10, 20)), "b": jnp.ones((20,)), "c": jnp.ones((20, 5))}
    masks = pruning.random_masks(params, 0.8, "erk", jax.random.PRNGKey(3))
    targets = pruning.erk_sparsities(params, 0.8)
    assert np.all(np.asarray(masks["b"]) == 1)  # biases never masked
    kept = sum(int(masks[k].sum()) for k in ("a", "c"))
    assert kept == sum(round(params[k].size * (1 - targets[k])) for k in ("a", "c"))
    assert kept == pytest.approx(0.2 * 300, abs=2)  # ERK keeps 20% of kernel weights overall


def test_lottery_ticket_starts_from_its_donors_masks_and_initial_weights(tmp_path):
    sweep = "controls_ci"
    planned = get_sweep(sweep).configs()
    ticket = next(c for c in planned if c.mask_method == "lottery")
    donor = lottery.donor_config(ticket)
    assert donor.run_id in {c.run_id for c in planned}
    results, ckpts = tmp_path / "results", tmp_path / "ckpt"
    with pytest.raises(lottery.DonorNotReadyError, match="has not finished"):
        run_one(ticket, sweep, results, ckpts)
    run_one(donor, sweep, results, ckpts)
    saved = lottery.load_masks(lottery.masks_path(results, sweep, donor.run_id))

    # the donor's final masks, recomputed: rerun the donor's trainer to the end
    donor_trainer = make_trainer_for(donor)
    state = donor_trainer.init(donor.seed)
    donor_init = kernels(state.params)
    for _ in range(donor.num_iterations):
        state = donor_trainer.run_iteration(state)
    final = pruning.flat_masks(state.opt_state.masks)
    assert saved.keys() == final.keys()
    assert all(np.array_equal(saved[n], final[n]) for n in final)
    assert 0.9 < 1 - sum(m.sum() for m in final.values()) / sum(m.size for m in final.values())

    masks, entry = lottery.donor_masks(ticket, sweep, results)
    ticket_state = make_trainer_for(ticket, donor_masks=masks).init(ticket.seed)
    ticket_masks = kernels(ticket_state.opt_state.masks)
    for name, weight in kernels(ticket_state.params).items():
        assert np.array_equal(ticket_masks[name], final[name].astype(np.float32)), name
        assert np.array_equal(weight, donor_init[name] * final[name]), name  # rewound init
    path = run_one(ticket, sweep, results, ckpts)
    record = store.read_run(path)
    assert record["mask_donor"]["run_id"] == donor.run_id
    assert record["mask_donor"]["sweep"] == sweep
    assert record["iterations"][-1]["sparsity"] == pytest.approx(
        1 - sum(m.sum() for m in final.values()) / sum(m.size for m in final.values()),
        abs=1e-3)


def test_damaged_donor_masks_are_named(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(lottery.DonorNotReadyError, match="damaged lottery masks"):
        lottery.load_masks(path)
    flat = {"['params']['k']": np.arange(12).reshape(3, 4) % 3 == 0}
    lottery.save_masks(path, flat)
    back = lottery.load_masks(path)
    assert np.array_equal(back["['params']['k']"], flat["['params']['k']"])


def test_run_ids_keep_the_papers_runs_and_tag_the_rest():
    assert ci_config(width=5, final_sparsity=0.95).run_id == "dqn-Breakout-w5-s0.95-seed0"
    ids = {ci_config(width=5, final_sparsity=0.95, mask_method=m).run_id
           for m in ("static_random", "lottery")}
    ids |= {ci_config(weight_decay=1e-5).run_id, ci_config(l2_penalty=1e-5).run_id,
            ci_config(reset_every_updates=10).run_id, ci_config(redo_every_updates=20).run_id}
    assert ids == {"dqn-Breakout-w5-s0.95-seed0-static", "dqn-Breakout-w5-s0.95-seed0-lottery",
                   "dqn-Breakout-w1-s0-seed0-wd1e-05", "dqn-Breakout-w1-s0-seed0-l21e-05",
                   "dqn-Breakout-w1-s0-seed0-reset10", "dqn-Breakout-w1-s0-seed0-redo20-tau0.1"}
    for config in (ci_config(weight_decay=1e-5),
                   ci_config(width=5, final_sparsity=0.95, mask_method="lottery")):
        assert store.config_run_id(config.to_dict()) == config.run_id


@pytest.mark.parametrize("fields, message", [
    ({"mask_method": "magic"}, "mask_method='magic' is not allowed"),
    ({"mask_method": "static_random"}, "needs final_sparsity > 0"),
    ({"weight_decay": 1e-5, "l2_penalty": 1e-5}, "one baseline per run"),
    ({"redo_every_updates": 10, "final_sparsity": 0.9}, "regrow pruned ones"),
    ({"agent": "rainbow", "reset_every_updates": 10}, "run for DQN on MinAtar"),
    ({"final_sparsity": 0.9, "mask_method": "lottery", "weight_decay": 1e-5}, "choose one"),
    ({"weight_decay": -1.0}, "must be >= 0"),
])
def test_bad_control_and_baseline_settings_fail_naming_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        ci_config(**fields)


def test_committed_comparator_reruns_match_online_cpu():
    """controls_cpu reruns online_cpu's GMP 95% x5 (and dense x5, seed 0) with today's code.
    What the configuration fixes (steps, updates, the measured sparsity of the schedule's
    masks) must match iteration by iteration; returns and losses must match bit for bit only
    where both records name the same CPU, because XLA's CPU kernels round differently on
    other CPUs (chapter 6: the same code gave other floats on another machine)."""
    root = Path(__file__).resolve().parents[1] / "results"
    pairs = [(path, root / "online_cpu" / path.name)
             for path in sorted((root / "controls_cpu").glob("*.json"))
             if (root / "online_cpu" / path.name).exists()]
    if not pairs:
        pytest.skip("no comparator rerun of controls_cpu is committed yet")
    for rerun, original in pairs:
        new, old = store.read_run(rerun), store.read_run(original)
        fields = ["env_steps", "gradient_updates", "sparsity"]
        if new["device"] == old["device"] and "family" in new["device"]:
            fields += ["train_return", "num_episodes", "loss"]
        assert [[it[f] for f in fields] for it in new["iterations"]] == [
            [it[f] for f in fields] for it in old["iterations"]], rerun.name


def _record(sweep, returns, losses, device="cpu: A"):
    return {"sweep": sweep, "run_id": "dqn-Breakout-w5-s0.95-seed0", "device": device,
            "iterations": [{"train_return": r, "loss": v} for r, v in
                           zip(returns, losses, strict=True)]}


def test_a_device_cell_drops_the_cpu_prefix_and_trademarks_but_keeps_the_model():
    assert records.short_device("cpu: Intel(R) Xeon(R) Processor (family 6, model 167; "
                                "AVX-512)") == "Intel Xeon (family 6, model 167; AVX-512)"
    assert records.short_device("cpu: AMD EPYC") == "AMD EPYC"
    assert records.short_device("gpu: NVIDIA H100 80GB HBM3") == "gpu: NVIDIA H100 80GB HBM3"


def test_the_rerun_table_counts_leading_bit_identical_iterations():
    original = _record("online_cpu", [1.0, 2.0, 3.0], [0.1, 0.2, 0.3])
    same = _record("controls_cpu", [1.0, 2.0, 3.0], [0.1, 0.2, 0.3], device="cpu: B")
    table = records.rerun_table([original, same], "controls_cpu", "online_cpu")
    row = table.loc["dqn-Breakout-w5-s0.95-seed0"]
    assert row["iterations identical"] == "3 of 3" and bool(row["bit-identical"])
    assert (row["device (lender)"], row["device (rerun)"]) == ("A", "B")
    # a loss that differs in its last digit in iteration 1 breaks identity there
    drift = _record("controls_cpu", [1.0, 2.0, 3.5], [0.1, 0.2000001, 0.3])
    row = records.rerun_table([original, drift], "controls_cpu", "online_cpu").iloc[0]
    assert row["iterations identical"] == "1 of 3" and not bool(row["bit-identical"])
    assert row["final return (rerun)"] == 3.5
    # runs the lender does not have are not reruns
    other = dict(same, run_id="dqn-Breakout-w5-s0.8-seed0")
    assert records.rerun_table([original, other], "controls_cpu", "online_cpu").empty
