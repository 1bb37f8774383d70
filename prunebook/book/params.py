"""Notebook parameters: declared once here, validated before any compute.

Every notebook has one cell tagged `parameters` (papermill injects overrides after it) and then
calls, before doing anything else::

    from prunebook.book import params
    params.check(globals(), "00_pruning_schedule")

`check` compares the notebook's globals with the notebook's spec in `SPECS` and raises a
`ParameterError` that names the parameter and its allowed values when

* a public global is not a declared parameter -- papermill only *warns* about an unknown
  (e.g. misspelled) parameter and injects it anyway, so `final_sparsty=0.5` would otherwise be
  silently ignored;
* a declared parameter is missing from the parameters cell;
* a value has the wrong type (`bool` is not an `int`; an `int` is accepted for a `float` and
  converted in place) or is outside its allowed range / set of values.

"Public global" means a name not starting with `_` whose value is not a module, class or other
callable, and that IPython did not put there (`In`, `Out`, `get_ipython`, ...). So the cells
before the check (the Colab set-up and the parameters cell) may define only parameters and
`_private` names. This module imports nothing heavy: a bad parameter fails in a second.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import math
import numbers
import types
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from prunebook.spec import ALL_GAMES, MINATAR_GAMES, OFFLINE_AGENTS

CHAPTER_PRESETS = ("ci", "cpu", "paper")
"""ci: minutes on 2 CPU cores (tests); cpu: the book's MinAtar runs; paper: the paper's Atari."""

CHAPTER_AGENTS = ("dqn", "rainbow")  # the online chapters' agents (claims 1-3)

# Names IPython / ipykernel put in a kernel's namespace (also taken from `user_ns_hidden`).
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


class ParameterError(ValueError):
    """A notebook parameter is unknown, missing, of the wrong type or out of range."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One notebook parameter: its type and allowed values.

    kind:      int, float, str or bool.
    doc:       one line for readers (shown by `describe`).
    choices:   allowed values, if a closed set.
    low/high:  allowed range; `high_open` excludes `high` (e.g. sparsity < 1).
    many:      a non-empty list/tuple of such values instead of one value.
    optional:  None is allowed too (meaning "the preset's value").
    """

    kind: type
    doc: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    many: bool = False
    optional: bool = False

    def allowed(self) -> str:
        """The allowed values in words, e.g. "a float in [0, 1)"."""
        names = {int: "int", float: "float", str: "string", bool: "bool"}
        one = names.get(self.kind, self.kind.__name__)
        if self.choices is not None:
            one = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.low is not None and self.high is not None:
            one = f"{one} in [{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        elif self.low is not None:
            one = f"{one} >= {self.low:g}"
        elif self.high is not None:
            one = f"{one} {'<' if self.high_open else '<='} {self.high:g}"
        if self.many:
            one = f"a non-empty list, each {one}"
        elif self.choices is None:
            one = f"an {one}" if one[0] in "aeiou" else f"a {one}"
        return one + (" (or None for the preset's value)" if self.optional else "")

    def _one_ok(self, value: Any) -> bool:
        if isinstance(value, bool) and self.kind is not bool:
            return False
        if self.kind is int:
            ok = isinstance(value, numbers.Integral)
        elif self.kind is float:
            ok = isinstance(value, numbers.Real)
        else:
            ok = isinstance(value, self.kind)
        if not ok:
            return False
        if self.kind is float and not math.isfinite(value):
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def validate(self, name: str, value: Any) -> Any:
        """Return the value (floats as float, lists as list) or raise `ParameterError`.

        For a list parameter, a string holding a Python/JSON list literal (what papermill's
        command line passes for `-p games '["Breakout"]'`) is read as that list.
        """
        if value is None and self.optional:
            return None
        if self.many and isinstance(value, str) and value.strip().startswith("["):
            try:
                value = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                pass  # reported below as a wrong value
        if self.many:
            ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0
                  and all(self._one_ok(v) for v in value))
        else:
            ok = self._one_ok(value)
        if not ok:
            raise ParameterError(
                f"parameter {name!r} = {value!r} is not allowed; expected {self.allowed()}")
        if self.kind is float:
            return [float(v) for v in value] if self.many else float(value)
        return list(value) if self.many else value


# Building blocks shared by every notebook's spec.
def preset() -> Param:
    return Param(str, "run scale: ci (minutes, tests), cpu (the book's MinAtar runs), "
                 "paper (the paper's Atari setting, GPU)", choices=CHAPTER_PRESETS)


def seed() -> Param:
    return Param(int, "base seed of every PRNG key and numpy Generator", low=0)


def width() -> Param:
    return Param(int, "width multiplier of the network's convolutions", low=1)


def widths() -> Param:
    return Param(int, "width multipliers to compare", low=1, many=True)


def sparsity(doc: str = "final sparsity of gradual magnitude pruning") -> Param:
    return Param(float, doc, low=0.0, high=1.0, high_open=True)


def sparsities(doc: str = "final sparsities to compare (0 = dense)") -> Param:
    return Param(float, doc, low=0.0, high=1.0, high_open=True, many=True)


def games(allowed: Sequence[str] = ALL_GAMES) -> Param:
    return Param(str, "games to run", choices=tuple(allowed), many=True)


def agents(allowed: Sequence[str] = CHAPTER_AGENTS) -> Param:
    return Param(str, "agents to run", choices=tuple(allowed), many=True)


def steps(doc: str, low: int = 0, optional: bool = False) -> Param:
    return Param(int, doc, low=low, optional=optional)


def _compared_widths() -> Param:
    return Param(int, "width multipliers to compare (None: the preset's)", low=1, many=True,
                 optional=True)


def _online_chapter(**chapter_params: Param) -> dict[str, Param]:
    """Chapters 1-3 analyse the online sweep: the same knobs around their own selection."""
    return {
        "preset": preset(),
        "seed": Param(int, "seed of the bootstrap's numpy Generator", low=0),
        "games": Param(str, "games to analyse (None: the preset's)", choices=ALL_GAMES, many=True,
                       optional=True),
        **chapter_params,
        "bootstrap_reps": Param(int, "bootstrap replicates of verdicts and IQM tables", low=1),
        "figure_reps": Param(int, "bootstrap replicates of figure error bars and bands", low=1),
        "results_root": Param(str, "results folder (relative: to the repository)"),
    }


def _method_chapter(sweep: str) -> dict[str, Param]:
    """Chapters 6 and 7: one sweep beside online_cpu's comparators."""
    return {
        "preset": Param(str, f"cpu: read results/{sweep}/ with online_cpu's dense and GMP runs; "
                        "ci: train a tiny version live (comparators included)",
                        choices=("ci", "cpu")),
        "seed": Param(int, "seed of the bootstrap's numpy Generator", low=0),
        "bootstrap_reps": Param(int, "bootstrap replicates of verdicts", low=1),
        "figure_reps": Param(int, "bootstrap replicates of figure error bars and bands", low=1),
        "results_root": Param(str, "results folder (relative: to the repository)"),
    }


SPECS: dict[str, dict[str, Param]] = {
    "00_pruning_schedule": {
        "preset": preset(),
        "seed": seed(),
        "final_sparsity": sparsity(),
        "allocation": Param(str, "per-layer sparsity allocation", choices=("erk", "uniform")),
        "widths": widths(),
        "sparsities": sparsities("final sparsities of the ERK table"),
        "width": width(),
        "num_updates": steps("gradient updates of the tiny training demo (None: the preset's)",
                             low=1, optional=True),
    },
    "01_scaling_degradation": _online_chapter(widths=_compared_widths(), agents=agents()),
    "02_pruned_scaling": _online_chapter(widths=_compared_widths(), agents=agents()),
    "03_sparsity_levels": _online_chapter(
        width=width(), sparsities=sparsities("final sparsities to compare (0 = dense)")),
    "05_standard_budget": {
        "preset": Param(str, "std: read results/online_std/ (MinAtar's standard budget); ci: "
                        "train a tiny version live", choices=("ci", "std")),
        "seed": Param(int, "seed of the bootstrap's numpy Generator", low=0),
        "games": Param(str, "games to analyse (None: the preset's)", choices=ALL_GAMES, many=True,
                       optional=True),
        "widths": _compared_widths(),
        "early_env_steps": steps("agent steps at which the claims are read a second time",
                                 low=1),
        "bootstrap_reps": Param(int, "bootstrap replicates of verdicts and IQM tables", low=1),
        "figure_reps": Param(int, "bootstrap replicates of figure error bars and bands", low=1),
        "results_root": Param(str, "results folder (relative: to the repository)"),
    },
    "06_what_pruning_does": _method_chapter("controls_cpu"),
    "07_pruning_vs_baselines": _method_chapter("baselines_cpu"),
    "08_prune_your_own_network": {
        "preset": preset(),
        "seed": seed(),
        "final_sparsity": sparsity(),
        "num_updates": steps("gradient updates of each example (None: the preset's)", low=1,
                             optional=True),
    },
    "04_offline_cql": {
        "preset": Param(str, "cpu: read results/offline_cpu/ (committed); ci: train a tiny "
                        "offline sweep live (the paper's Atari offline setting is not offered)",
                        choices=("ci", "cpu")),
        "seed": seed(),
        "agents": agents(OFFLINE_AGENTS),
        "games": games(MINATAR_GAMES),
        "widths": widths(),
        "sparsities": sparsities(),
        "last_iterations": Param(int, "iterations averaged into a run's final score", low=1),
        "reps": Param(int, "bootstrap replicates of the confidence intervals", low=100),
    },
}
"""Per-notebook parameter specs, keyed by notebook file name without `.ipynb`."""


def _is_parameter_candidate(name: str, value: Any, hidden: frozenset) -> bool:
    if name.startswith("_") or name in _IPYTHON_NAMES or name in hidden:
        return False
    return not (isinstance(value, types.ModuleType) or callable(value))


def _ipython_hidden(namespace: Mapping[str, Any]) -> frozenset:
    shell = namespace.get("get_ipython")
    try:
        return frozenset(shell().user_ns_hidden) if callable(shell) else frozenset()
    except Exception:  # noqa: BLE001 -- any shell without user_ns_hidden: nothing hidden
        return frozenset()


def check(namespace: MutableMapping[str, Any], spec: str | Mapping[str, Param]) -> dict[str, Any]:
    """Validate a notebook's parameters; raise `ParameterError` naming every bad one.

    `namespace` is the notebook's `globals()`; `spec` a key of `SPECS` or a spec dict. Float
    parameters given as ints are converted in place. Returns {name: value} in spec order.
    """
    if isinstance(spec, str):
        if spec not in SPECS:
            raise ParameterError(f"no parameter spec {spec!r}; known: {', '.join(SPECS)}")
        spec = SPECS[spec]
    hidden = _ipython_hidden(namespace)
    errors = []
    for name, value in namespace.items():
        if name not in spec and _is_parameter_candidate(name, value, hidden):
            close = difflib.get_close_matches(name, list(spec), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"unknown parameter {name!r}{hint}; this notebook's parameters are: "
                          + ", ".join(spec))
    values = {}
    for name, param in spec.items():
        if name not in namespace:
            errors.append(f"parameter {name!r} is missing; set it in the parameters cell "
                          f"({param.allowed()})")
            continue
        try:
            values[name] = param.validate(name, namespace[name])
        except ParameterError as e:
            errors.append(str(e))
    if errors:
        raise ParameterError("\n".join(errors))
    namespace.update(values)
    return values


def describe(spec: str | Mapping[str, Param]) -> str:
    """A Markdown table of a spec: name, allowed values, meaning."""
    spec = SPECS[spec] if isinstance(spec, str) else spec
    rows = ["| parameter | allowed values | meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {p.allowed()} | {p.doc} |" for name, p in spec.items()]
    return "\n".join(rows)
