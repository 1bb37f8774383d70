"""Score normalisation: Atari human-normalized scores and a data-defined MinAtar normalisation.

Atari: ``(score - random) / (human - random)`` with the reference table of the dossier (§7).
Two published tables exist and differ only on VideoPinball's random score (Dopamine 0.0, DQN Zoo
16256.9) and on Defender/Surround (human score only in DQN Zoo). Default: Dopamine's table, the
natural choice for a Dopamine-based paper (which table the paper used is unconfirmed).

MinAtar has no human scores. We normalise by *reference runs*: per game, the mean final score of
the dense (sparsity 0) width-1 DQN runs, i.e. the paper's comparator (the original, unpruned,
unscaled network), taken from the same sweep. 1.0 means "as good as dense width-1 DQN", 0.0 means
"random policy". A sweep with no such runs of its own borrows them from another sweep of the same
preset only when its description in `prunebook.sweeps.registry` (or the ``reference_sweeps``
argument) names it; there
is no silent pooling. The reference runs are data, not a constant: every interval resamples them
inside each bootstrap replicate (:func:`comparison` builds the :class:`prunebook.analysis.bootstrap.
Normaliser` for that; a side that *is* the reference shares its resample). Human and measured
random-policy scores are constants. Random-policy scores are measured in each preset's own
environment by :mod:`prunebook.analysis.random_policy` and committed under ``results/``.
"""

from __future__ import annotations

import numpy as np

from prunebook.analysis.atari_scores import atari_reference, human_normalized
from prunebook.analysis.bootstrap import Normaliser
from prunebook.analysis.random_policy import RANDOM_SCORE_FILES, random_scores
from prunebook.extras import missing_extra
from prunebook.spec import MINATAR_REFERENCE, REFERENCE_CONFIG
from prunebook.sweeps.registry import describe

try:
    import pandas as pd
except ImportError as error:  # the 'analysis' extra is missing
    raise missing_extra("analysis", error) from error

def minatar_normalized(score, game: str, reference: float, random: float):
    """``(score - random) / (reference - random)``: 0 = random play, 1 = the reference."""
    if not reference > random:
        raise ValueError(
            f"{game}: reference {reference:.4g} is not above the random score {random:.4g}; "
            "the normalisation would be undefined or flip the sign"
        )
    return (np.asarray(score, dtype=float) - random) / (reference - random)


# --------------------------------------------------------------------------- MinAtar random policy
def random_score(game: str, table: dict) -> float:
    """The measured random-policy mean score of a MinAtar game in ``table``
    (:func:`.random_policy.random_scores`); never guessed."""
    if game not in table:
        raise KeyError(f"no random-policy score for {game}; measure it with `python -m "
                       "prunebook.analysis.random_policy` (never guessed)")
    return float(table[game]["mean"])


# --------------------------------------------------------------------------- DataFrames
def _is_atari(suite: str) -> bool:
    return str(suite).lower().startswith("atari")


def reference_sweep(sweep: str, reference_sweeps: dict[str, str] | None = None) -> str:
    """The sweep whose reference runs normalise ``sweep``'s MinAtar runs: the one its
    description names (`prunebook.sweeps.registry`), or ``reference_sweeps``' entry, else
    itself."""
    if reference_sweeps is not None:
        return reference_sweeps.get(sweep, sweep)
    return describe(sweep).reference_sweep or sweep


def reference_rows(df: pd.DataFrame, sweep: str, preset: str,
                   reference_sweeps: dict[str, str] | None = None) -> tuple[pd.DataFrame, str]:
    """The reference runs (rows of ``df``) for MinAtar runs of ``(sweep, preset)``, and where
    they come from in words. Only runs of the same preset count (same training budget)."""
    source = reference_sweep(sweep, reference_sweeps)
    agent, width, sparsity = REFERENCE_CONFIG
    mask = ((df["suite"] == "minatar") & (df["agent"] == agent) & (df["width"] == width)
            & np.isclose(df["sparsity"].astype(float), sparsity) & (df["sweep"] == source)
            & (df["preset"] == preset) & plain_runs(df))
    origin = f"sweep {source}" if source == sweep else f"sweep {source} (lent to {sweep})"
    return df[mask], origin


def minatar_references(df: pd.DataFrame, reference_sweeps: dict[str, str] | None = None
                       ) -> dict[tuple, tuple[float, str]]:
    """Point reference per (sweep, preset, game): mean final score of the reference runs
    (:func:`reference_rows`). Values are ``(reference, where it came from)``."""
    if not len(df):
        return {}
    out = {}
    keys = df.loc[df["suite"] == "minatar", ["sweep", "preset"]].drop_duplicates()
    for sweep, preset in keys.itertuples(index=False):
        rows, origin = reference_rows(df, sweep, preset, reference_sweeps)
        for game, mean in rows.groupby("game")["score"].mean().dropna().items():
            out[sweep, preset, game] = (float(mean), origin)
    return out


def normalize_frame(
    df: pd.DataFrame, source: str = "dopamine", on_missing: str = "nan", random_table=None,
    reference_df: pd.DataFrame | None = None, reference_sweeps: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Copy of a per-run final-score frame with ``normalized`` and ``normalization`` columns.

    Suite "atari*": human-normalized (``source`` table). Suite "minatar": normalised by the
    point mean of the reference runs (:func:`reference_rows`) and the random score measured in
    the row's preset's environment (``random_table``, if given, for every row); intervals must
    not use these values (they hold the reference fixed): use :func:`comparison`. When a score
    cannot be normalised (no reference runs, reference not above random, unknown game or suite),
    ``on_missing="nan"`` (default) gives NaN and the reason in ``normalization``;
    ``on_missing="raise"`` raises ValueError instead.
    ``reference_df``: take the MinAtar references from this per-run final-score frame instead of
    ``df`` (for learning curves: pass the per-iteration frame with ``score = train_return`` and
    the final scores here, or for a sweep that borrows its reference runs).
    """
    if on_missing not in ("nan", "raise"):
        raise ValueError("on_missing must be 'nan' or 'raise'")
    needed = {"sweep", "agent", "suite", "game", "width", "sparsity", "preset", "score"}
    if missing := needed - set(df.columns):
        raise ValueError(f"normalize_frame: frame lacks columns {sorted(missing)}")
    out = df.copy()
    ref_df = df if reference_df is None else reference_df
    minatar = (df["suite"] == "minatar").any()
    refs = minatar_references(ref_df, reference_sweeps) if minatar else {}
    # each preset's runs are anchored by the random policy measured in their own environment
    presets = set(df.loc[df["suite"] == "minatar", "preset"]) & set(RANDOM_SCORE_FILES)
    tables = {p: random_table if random_table is not None else random_scores(p) for p in presets}
    values, notes = [], []
    for row in out.itertuples(index=False):
        try:
            if pd.isna(row.score):
                raise ValueError("score is NaN (no episode finished in the scored iterations)")
            if _is_atari(row.suite):
                value = float(human_normalized(row.score, row.game, source))
                note = f"human-normalized ({source})"
            elif row.suite == "minatar":
                key = (row.sweep, row.preset, row.game)
                if key not in refs:
                    lender = reference_sweep(row.sweep, reference_sweeps)
                    raise ValueError(
                        f"no {MINATAR_REFERENCE} runs for {row.game} with preset "
                        f"{row.preset!r} in sweep {lender} to normalise against (a sweep "
                        "without its own can borrow them: its description's reference in "
                        "prunebook.sweeps.registry)")
                reference, origin = refs[key]
                if row.preset not in tables:
                    raise ValueError(f"no MinAtar random-policy table for preset {row.preset!r}")
                random = random_score(row.game, tables[row.preset])
                value = float(minatar_normalized(row.score, row.game, reference, random))
                note = f"minatar: (score - random) / ({MINATAR_REFERENCE} of {origin} - random)"
            else:
                raise ValueError(f"unknown suite {row.suite!r}")
        except (KeyError, ValueError) as err:
            reason = err.args[0] if isinstance(err, KeyError) and err.args else err
            if on_missing == "raise":
                run = getattr(row, "run_id", "?")
                raise ValueError(f"cannot normalise run {run}: {reason}") from err
            value, note = np.nan, f"not normalised: {reason}"
        values.append(value)
        notes.append(note)
    out["normalized"] = values
    out["normalization"] = notes
    return out


def plain_runs(df: pd.DataFrame) -> pd.Series:
    """Rows that are the paper's own runs (no control or baseline): only they can be the
    reference. Frames without a `method` column predate controls and are all plain."""
    if "method" not in df.columns:
        return pd.Series(True, index=df.index)
    return df["method"].fillna("") == ""


def _borrowed_from(rows: pd.DataFrame) -> str | None:
    """The sweep a side's rows were lent by (its description's `comparators`), if all were."""
    if "borrowed_from" not in rows.columns or rows["borrowed_from"].isna().any():
        return None
    lenders = set(rows["borrowed_from"])
    return lenders.pop() if len(lenders) == 1 else None


def _is_reference(rows: pd.DataFrame) -> bool:
    agent, width, sparsity = REFERENCE_CONFIG
    return bool(len(rows)) and bool(((rows["agent"] == agent) & (rows["width"] == width)
                                     & np.isclose(rows["sparsity"].astype(float), sparsity)
                                     & plain_runs(rows)).all())


def comparison(
    sides: dict, reference_df: pd.DataFrame, games, *, source: str = "dopamine",
    random_table=None, reference_sweeps: dict[str, str] | None = None,
    resample_reference: bool = True,
) -> tuple[dict, Normaliser, str]:
    """Raw score matrices of the configurations of one comparison and their normaliser.

    ``sides``: key -> per-run final-score rows of one (suite, sweep, preset) group. Returns
    ``({key: (runs, games) raw scores}, Normaliser, how)`` for
    :func:`.bootstrap.normalised_replicates`. Atari: fixed human and random scores.
    MinAtar: fixed random scores and the reference runs of :func:`reference_rows` (from
    ``reference_df``), resampled in every replicate; a side that is itself the reference runs
    (same sweep) shares their resample.
    """
    first = next(iter(sides.values()))
    suite, sweep, preset = (first[c].iloc[0] for c in ("suite", "sweep", "preset"))
    games = list(games)
    raw = {k: score_matrix(rows, "score", games) for k, rows in sides.items()}
    if _is_atari(suite):
        low, high = np.array([atari_reference(g, source) for g in games], dtype=float).T
        return raw, Normaliser(low=low, high=high), f"human-normalized ({source})"
    if suite != "minatar":
        raise ValueError(f"unknown suite {suite!r}")
    table = random_scores(preset) if random_table is None else random_table
    low = np.array([random_score(g, table) for g in games])
    rows, origin = reference_rows(reference_df, sweep, preset, reference_sweeps)
    lacking = sorted(set(games) - set(rows.loc[rows["score"].notna(), "game"]))
    if lacking:
        raise ValueError(f"no {MINATAR_REFERENCE} runs for {lacking} with preset {preset!r} in "
                         f"{origin} to normalise against")
    how = (f"(score - random) / ({MINATAR_REFERENCE} of {origin} - random), reference runs "
           + ("resampled in every bootstrap replicate" if resample_reference else "held fixed"))
    lender = reference_sweep(sweep, reference_sweeps)
    if lender == sweep or all(_borrowed_from(r) == lender for r in sides.values()
                              if _is_reference(r)):
        shared = next((k for k, r in sides.items() if _is_reference(r)), None)
        if shared is not None:
            return raw, Normaliser(low=low, shared=shared, resample=resample_reference), how
    ref = score_matrix(rows, "score", games)
    return raw, Normaliser(low=low, reference=ref, resample=resample_reference), how


def score_matrix(df: pd.DataFrame, value: str = "normalized", games=None) -> np.ndarray:
    """``(runs, games)`` matrix of one configuration's per-run values, games in sorted order.

    Every game keeps its lowest seeds, as many as the game with the fewest runs has (the
    stratified bootstrap needs the same number of runs per task). NaN values are dropped first.
    """
    df = df[df[value].notna()]
    games = sorted(df["game"].unique()) if games is None else list(games)
    cols = [df[df["game"] == g].sort_values("seed")[value].to_numpy(dtype=float) for g in games]
    if not cols or min(len(c) for c in cols) == 0:
        raise ValueError(f"score_matrix: no {value!r} values for some of the games {games}")
    k = min(len(c) for c in cols)
    return np.stack([c[:k] for c in cols], axis=1)


def curve_array(
    df: pd.DataFrame, value: str = "normalized", games=None, x: str = "env_steps"
) -> tuple[np.ndarray, np.ndarray]:
    """``(runs, games, points)`` learning curves of one configuration and their x values.

    Rows are per (run, iteration). Points where any kept run has NaN (e.g. no episode finished
    in that iteration) are dropped; runs per game as in :func:`score_matrix`.
    """
    games = sorted(df["game"].unique()) if games is None else list(games)
    wide = df.pivot_table(index=["game", "seed"], columns="iteration", values=value,
                          aggfunc="first", dropna=False)
    xs = df.groupby("iteration")[x].median() if x in df.columns else None
    per_game = [wide.loc[g].sort_index().to_numpy(dtype=float) for g in games
                if g in wide.index.get_level_values(0)]
    if len(per_game) != len(games):
        raise ValueError(f"curve_array: some of the games {games} have no runs")
    k = min(len(p) for p in per_game)
    arr = np.stack([p[:k] for p in per_game], axis=1)  # (runs, games, iterations)
    keep = ~np.isnan(arr).any(axis=(0, 1))
    iters = wide.columns.to_numpy()
    xvals = xs.reindex(iters).to_numpy() if xs is not None else iters
    return arr[..., keep], np.asarray(xvals)[keep]


def per_game_table(
    df: pd.DataFrame, by=("sweep", "suite", "game", "agent", "width", "sparsity")
) -> pd.DataFrame:
    """Raw final score per game and config: mean, std (ddof=1) and number of runs."""
    by = [c for c in by if c in df.columns]
    table = df.groupby(by)["score"].agg(mean="mean", std="std", runs="count").reset_index()
    table["mean ± std"] = [
        f"{m:.2f} ± {s:.2f}" if np.isfinite(s) else f"{m:.2f}"
        for m, s in zip(table["mean"], table["std"], strict=True)
    ]
    return table

