"""Notebook parameter validation: every failure mode, in the library and through papermill."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from prunebook import spec
from prunebook.book import params
from prunebook.book.params import SPECS, Param, ParameterError

ROOT = Path(__file__).resolve().parent.parent
NB00 = ROOT / "notebooks" / "00_pruning_schedule.ipynb"

SPEC = {
    "preset": params.preset(),
    "seed": params.seed(),
    "width": params.width(),
    "widths": params.widths(),
    "final_sparsity": params.sparsity(),
    "sparsities": params.sparsities(),
    "games": params.games(spec.MINATAR_GAMES),
    "agents": params.agents(),
    "num_env_steps": params.steps("environment steps"),
    "num_updates": params.steps("updates", low=1, optional=True),
}


def good() -> dict:
    return {"preset": "ci", "seed": 0, "width": 3, "widths": [1, 3, 5], "final_sparsity": 0.95,
            "sparsities": [0.0, 0.9, 0.99], "games": ["Breakout"], "agents": ["dqn", "rainbow"],
            "num_env_steps": 0, "num_updates": None}


def check_fails(namespace: dict, *fragments: str) -> str:
    with pytest.raises(ParameterError) as info:
        params.check(namespace, SPEC)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_valid_parameters_pass_and_are_returned_in_spec_order():
    ns = good()
    assert list(params.check(ns, SPEC)) == list(SPEC)


def test_ignores_private_names_modules_callables_and_ipython_builtins():
    ns = good() | {"_private": 1, "math": math, "sys": sys, "helper": lambda: 0, "Param": Param,
                   "In": [""], "Out": {}, "exit": object(), "quit": object(),
                   "get_ipython": lambda: None, "__name__": "__main__"}
    params.check(ns, SPEC)


def test_ignores_names_ipython_declares_hidden():
    class Shell:
        user_ns_hidden = {"_oh": None, "display_helper": None}

    ns = good() | {"get_ipython": lambda: Shell(), "display_helper": 3}
    params.check(ns, SPEC)


@pytest.mark.parametrize("name", ["final_sparsty", "seeed", "Width", "anything"])
def test_unknown_public_name_is_an_error(name):
    message = check_fails(good() | {name: 0.5}, f"unknown parameter {name!r}", "final_sparsity")
    if name == "final_sparsty":
        assert "did you mean 'final_sparsity'" in message


def test_missing_parameter_is_an_error():
    ns = good()
    del ns["seed"]
    check_fails(ns, "parameter 'seed' is missing")


@pytest.mark.parametrize("preset", ["cpuu", "CI", "", "full", 1, None])
def test_preset_must_be_one_of_the_three(preset):
    check_fails(good() | {"preset": preset}, "'preset'", "'ci', 'cpu', 'paper'")


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, None])
def test_seed_is_a_non_negative_int(seed):
    check_fails(good() | {"seed": seed}, "'seed'", "int >= 0")


@pytest.mark.parametrize("width", [0, -3, 2.0, "3", True])
def test_width_is_a_positive_int(width):
    check_fails(good() | {"width": width}, "'width'", "int >= 1")


@pytest.mark.parametrize("widths", [[], [1, 0], [1, 2.5], "1,3", 3, (1, True)])
def test_widths_is_a_non_empty_list_of_positive_ints(widths):
    check_fails(good() | {"widths": widths}, "'widths'", "non-empty list", "int >= 1")


@pytest.mark.parametrize("s", [1.0, 1.5, -0.1, math.nan, math.inf, "0.95", None, False])
def test_final_sparsity_is_in_zero_one(s):
    check_fails(good() | {"final_sparsity": s}, "'final_sparsity'", "float in [0, 1)")


@pytest.mark.parametrize("s", [[0.9, 1.0], [], [-0.5], 0.9])
def test_sparsities_are_in_zero_one(s):
    check_fails(good() | {"sparsities": s}, "'sparsities'", "float in [0, 1)")


def test_ints_are_accepted_for_floats_and_converted_in_place():
    ns = good() | {"final_sparsity": 0, "sparsities": (0, 1 / 2)}
    values = params.check(ns, SPEC)
    assert values["final_sparsity"] == 0.0 and isinstance(ns["final_sparsity"], float)
    assert ns["sparsities"] == [0.0, 0.5] and all(isinstance(s, float) for s in ns["sparsities"])


@pytest.mark.parametrize("games", [["breakout"], ["Breakout", "Pong"], "Breakout", []])
def test_games_come_from_the_allowed_list(games):
    check_fails(good() | {"games": games}, "'games'", "'Breakout'", "'SpaceInvaders'")


@pytest.mark.parametrize("agents", [["DQN"], ["dqn", "ppo"], "dqn"])
def test_agents_come_from_the_allowed_list(agents):
    check_fails(good() | {"agents": agents}, "'agents'", "'dqn', 'rainbow'")


@pytest.mark.parametrize("steps", [-1, 1e5, "100"])
def test_step_counts_are_non_negative_ints(steps):
    check_fails(good() | {"num_env_steps": steps}, "'num_env_steps'", "int >= 0")


def test_optional_counts_accept_none_but_not_zero():
    params.check(good() | {"num_updates": None}, SPEC)
    params.check(good() | {"num_updates": 7}, SPEC)
    check_fails(good() | {"num_updates": 0}, "'num_updates'", "int >= 1", "or None")


def test_every_error_is_reported_at_once():
    message = check_fails(good() | {"seed": -1, "width": 0, "typo": 1}, "'seed'", "'width'",
                          "'typo'")
    assert len(message.splitlines()) == 3


def test_spec_by_name_and_unknown_spec_name():
    ns = {"preset": "ci", "seed": 0, "final_sparsity": 0.95, "allocation": "erk",
          "widths": [1], "sparsities": [0.9], "width": 1, "num_updates": None}
    params.check(ns, "00_pruning_schedule")
    with pytest.raises(ParameterError, match="no parameter spec 'nope'"):
        params.check(ns, "nope")


def test_describe_lists_every_parameter():
    table = params.describe("00_pruning_schedule")
    for name in SPECS["00_pruning_schedule"]:
        assert f"`{name}`" in table


def test_games_list_holds_minatar_and_the_paper_games():
    assert set(spec.MINATAR_GAMES) <= set(spec.ALL_GAMES)
    assert {"Pong", "VideoPinball", "MsPacman", "Tutankham"} <= set(spec.ALL_GAMES)
    assert len(spec.ATARI_60_GAMES) == 60 and set(spec.PAPER_15_GAMES) <= set(spec.ATARI_60_GAMES)
    assert params.games().choices == spec.ALL_GAMES  # the notebooks' games parameter


# --- through papermill: a bad parameter stops notebook 00 at its check cell -------------------

@pytest.mark.parametrize("parameters, fragment", [
    ({"final_sparsty": 0.5}, "unknown parameter 'final_sparsty'"),
    ({"final_sparsity": 1.5}, "parameter 'final_sparsity' = 1.5"),
    ({"width": 0}, "parameter 'width' = 0"),
    ({"preset": "cpuu"}, "parameter 'preset' = 'cpuu'"),
])
def test_papermill_fails_before_compute(tmp_path, parameters, fragment):
    papermill = pytest.importorskip("papermill")
    import nbformat

    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(NB00), str(out), parameters=parameters,
                                   kernel_name="python3", cwd=str(NB00.parent),
                                   progress_bar=False)
    assert info.value.ename == "ParameterError"
    assert fragment in info.value.evalue
    # The failing cell is the one calling params.check, and nothing after it ran.
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(cells)
                  if any(o.get("output_type") == "error" for o in c.outputs))
    assert "params.check(globals()" in cells[failed].source
    assert all(c.execution_count is None and not c.outputs for c in cells[failed + 1:])
