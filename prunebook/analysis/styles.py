"""One colour and one marker per method, for every figure of the book: dense is always black
circles, GMP always orange squares, and each control or baseline keeps its own colour (Okabe &
Ito's colour-blind-safe palette) in every chapter. Agents (DQN, Rainbow, ...) never take a
colour: they are told apart by marker and line style, and keep their method's colour. Also the
labels of series and score axes, and the text size every figure uses, chosen for the book's
column (about 6.8 in): a figure at most that wide is drawn at its natural size, so its text is
not under 9 pt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prunebook.spec import AGENT_NAMES

# Okabe & Ito (2008); black first so that "dense" is black in the usual series order.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
             "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")

COLUMN_IN = 6.8  # the book's text column, in inches: figures are at most this wide
FONT_PT = 9  # the smallest text in a figure (ticks, legends, notes)

MEASURES = {  # the §5 measures' record keys -> (label, unit), in tables and figures
    "dormant_tau0.1/overall": ("dormant neurons, τ = 0.1", "fraction of hidden units"),
    "dormant_tau0/overall": ("dead neurons (τ = 0)", "fraction of hidden units"),
    "srank": ("srank of penultimate features (δ = 0.01)", "rank"),
    "param_norm": ("parameter norm", "L2 norm"),
    "q_var": ("variance of Q estimates", "variance (return units²)"),
    "td_target_var": ("variance of TD targets", "variance (return units²)"),
}

METHOD_STYLE: dict[str, dict[str, str]] = {
    "dense": {"color": OKABE_ITO[0], "marker": "o"},
    "GMP": {"color": OKABE_ITO[1], "marker": "s"},
    "static random": {"color": OKABE_ITO[2], "marker": "^"},
    "lottery ticket": {"color": OKABE_ITO[3], "marker": "D"},
    "weight decay": {"color": OKABE_ITO[4], "marker": "v"},
    "L2": {"color": OKABE_ITO[5], "marker": "P"},
    "Reset": {"color": OKABE_ITO[6], "marker": "X"},
    "ReDo": {"color": "#7F7F7F", "marker": "*"},
}
"""The style of each method, whatever the chapter: matplotlib ``color`` and ``marker``."""


AGENT_STYLE: dict[str, dict[str, str]] = {
    "dqn": {"marker": "o", "linestyle": "-"},
    "rainbow": {"marker": "^", "linestyle": "--"},
    "iqn": {"marker": "v", "linestyle": "-."},
    "cql": {"marker": "o", "linestyle": "-"},
    "cql_c51": {"marker": "^", "linestyle": "--"},
    "der": {"marker": "D", "linestyle": ":"},
    "drq_eps": {"marker": "P", "linestyle": "-."},
}
"""The marker and line style of each agent (``spec.AGENT_NAMES``' keys), in figures whose
series are agents: the colour stays the method's (:func:`series_styles`' ``method``), so DQN and
Rainbow are never drawn in the dense and GMP colours as if they were methods."""
AGENT_COLOR = "0.35"
"""The colour of agent series whose runs mix methods (no one method to take the colour of)."""


def series_label(key) -> str:
    """A series as a legend or panel title writes it: "dense" / "pruned 95%" for a sparsity,
    "×3" for a width, "DQN" for an agent key, joined labels for tuples ("×3 pruned 90%")."""
    if isinstance(key, tuple):
        return " ".join(series_label(k) for k in key)
    if isinstance(key, float | np.floating):
        return "dense" if key == 0 else f"pruned {key:.0%}"
    if isinstance(key, int | np.integer):
        return f"×{key}"
    return AGENT_NAMES.get(key, str(key))


def value_label(value: str) -> str:
    """An axis label for a score column, in the book's spelling ("IQM normalised score")."""
    return f"IQM {'normalised' if value == 'normalized' else value.replace('_', ' ')} score"


def method_of(key) -> str | None:
    """The method a series key names: a sparsity (0: dense, else GMP) or a label such as
    "dense", "pruned 95%", "GMP 95%", "static random 95%", "lottery ticket 95%",
    "dense + ReDo"; None if it names none."""
    if isinstance(key, tuple):
        methods = [m for m in map(method_of, key) if m is not None]
        return methods[-1] if methods else None
    if isinstance(key, float | np.floating):
        return "dense" if key == 0 else "GMP"
    if not isinstance(key, str):
        return None
    text = key.strip()
    for name in METHOD_STYLE:  # a baseline added to a network: "dense + weight decay"
        if text.endswith("+ " + name):
            return name
    for name in METHOD_STYLE:
        if text.startswith(name):
            return name
    if text.startswith(("pruned", "GMP")):
        return "GMP"
    return None


def series_styles(keys: Sequence, method: str | None = None) -> dict:
    """``{key: {"color", "marker", "linestyle"}}``: each key in its method's style; a method
    shown more than once (GMP at several sparsities) keeps its colour and changes marker and
    line style. An agent key ("dqn") takes :data:`AGENT_STYLE`'s marker and line style and the
    colour of ``method`` (the method all its runs share; :data:`AGENT_COLOR` if None). Other
    keys that name no method take the palette's colours in order."""
    out, seen = {}, {}
    for i, key in enumerate(keys):
        if isinstance(key, str) and key in AGENT_STYLE:
            color = METHOD_STYLE[method]["color"] if method else AGENT_COLOR
            out[key] = {"color": color, **AGENT_STYLE[key]}
            continue
        method_key = method_of(key)
        if method_key is None:
            out[key] = {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[i % len(
                MARKERS)], "linestyle": "-"}
            continue
        n = seen.get(method_key, 0)
        seen[method_key] = n + 1
        style = METHOD_STYLE[method_key]
        marker = style["marker"] if n == 0 else [m for m in MARKERS if m != style["marker"]][
            (n - 1) % (len(MARKERS) - 1)]
        out[key] = {"color": style["color"], "marker": marker,
                    "linestyle": LINESTYLES[n % len(LINESTYLES)]}
    return out


RATIO_TICKS = (1.0, 0.5, 2.0, 0.2, 5.0, 3.0, 0.3, 1.5, 0.7, 0.1)
"""Candidate ticks of a log-scale ratio axis, most wanted first."""


def ratio_ticks(lo: float, hi: float, axis_inches: float, fontsize: float) -> list[float]:
    """The ticks of `RATIO_TICKS` in [lo, hi] whose labels do not touch on an axis
    `axis_inches` long, taken in order of preference: on a narrow panel "0.5" and "0.7" ran
    together ("0.50.7")."""
    span = np.log(hi / lo)

    def half_width(tick: float) -> float:  # inches, with a gap of about one character
        return (len(f"{tick:g}") + 1) * fontsize * 0.6 / 72 / 2

    chosen: list[float] = []
    for tick in (t for t in RATIO_TICKS if lo <= t <= hi):
        at = np.log(tick / lo) / span * axis_inches
        if all(abs(at - np.log(other / lo) / span * axis_inches)
               >= half_width(tick) + half_width(other) for other in chosen):
            chosen.append(tick)
    return sorted(chosen)
