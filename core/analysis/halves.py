"""The analogy effect: how much the full stimulus decodes beyond the better of its halves.

An analogy ``a:b::c:d`` is labelled by a relation between its pairs, but a probe can often
read the label from one pair alone (c:d decides the paper-style ``valid`` label).  The
half-stimulus poolings (``mean_ab``, ``mean_cd``; ``mean_x``, ``mean_y`` for two-word sets,
see :data:`core.names.HALF_POOLINGS`) come from the same forward pass as ``mean``, on the
same folds, so each fold gives a paired difference.

The effect at a layer is ``full - better half``, the better half chosen *per layer* (the
half with the higher mean over folds at that layer).  Choosing the maximum of two noisy
curves at every layer biases the better half upward, so the effect is biased *down*: a
positive effect is the conservative claim, and a layer where either half alone already
does as well shows no effect.  In a causal model the second half's tokens have attended to
the first half: ``mean_cd`` and ``mean_y`` read the whole stimulus at its second half, and
only ``mean_ab`` and ``mean_x`` are blind to the other half; a negative effect can mean the
full mean dilutes the informative second half with the first.  (The half that is better
over all layers would be unbiased but would credit the full stimulus with whatever the
other half does better at some layers.)  The SE is the SD over folds of the fold-paired
differences / √k; per layer range (early, middle, late thirds of the layers) each fold's
differences are averaged over the range first, so the SE accounts for the correlation
between neighbouring layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.analysis.frames import groups
from core.names import HALF_POOLINGS

RANGES: tuple[str, ...] = ("early", "middle", "late")
"""Layer thirds, from :func:`numpy.array_split` of the layers in order."""


def halves_of(poolings: Sequence[str]) -> tuple[str, str] | None:
    """The pair of half poolings present among ``poolings`` (four-word pair first)."""
    present = set(poolings)
    for halves in HALF_POOLINGS.values():
        if set(halves) <= present:
            first, second = halves
            return first, second
    return None


def _fold_matrix(rows: pd.DataFrame, layers: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """``(n_folds, n_layers)`` scores, NaN where a fold × layer is missing."""
    table = rows.pivot_table(index="fold", columns="layer", values="score", aggfunc="mean")
    return table.reindex(index=folds, columns=layers).to_numpy(float)


def analogy_effect(
    fold_curves: pd.DataFrame,
    *,
    full: str = "mean",
    by: Sequence[str] = ("model", "stimulus_set", "component"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Full minus the better half, per layer and per layer third, with fold-paired SEs.

    Parameters
    ----------
    fold_curves : DataFrame
        One row per (``by`` columns, ``pooling``, ``fold``, ``layer``) with ``score``: fold
        scores of one target, or fold means of normalised scores over targets
        (:func:`~core.analysis.findings.mean_fold_curve`), for ``full`` and both halves.
        Groups without both halves are skipped.
    full : str, default="mean"
        The pooling of the whole stimulus.
    by : sequence of str
        Columns naming one curve (those present are used).

    Returns
    -------
    per_layer : DataFrame
        ``by`` columns, ``layer``, ``n_layers``, ``full``, ``half_1``/``half_2`` (the two
        half curves' fold means; ``half_1_name``/``half_2_name`` say which pooling),
        ``better_half`` (its pooling), ``effect`` = full - better half, ``effect_se``,
        ``n_folds``.
    per_range : DataFrame
        ``by`` columns, ``range`` (early/middle/late), ``layer_lo``, ``layer_hi``,
        ``effect`` (mean over the range's layers), ``effect_se``, ``n_folds``.

    Examples
    --------
    A full curve 0.1 above the better half at every layer gives an effect of 0.1 with
    SE 0 when every fold agrees.
    """
    layer_rows, range_rows = [], []
    for head, part in groups(fold_curves, by):
        pair = halves_of(part["pooling"].unique())
        if pair is None or full not in set(part["pooling"]):
            continue
        layers = np.sort(part["layer"].unique())
        folds = np.sort(part["fold"].unique())
        curves = {p: _fold_matrix(part[part["pooling"] == p], layers, folds) for p in (full, *pair)}
        means = {p: np.nanmean(m, axis=0) for p, m in curves.items()}
        first_better = means[pair[0]] >= means[pair[1]]
        better = np.where(first_better[None, :], curves[pair[0]], curves[pair[1]])
        diffs = curves[full] - better  # (n_folds, n_layers), paired by fold
        k = np.sum(~np.isnan(diffs), axis=0)
        se = np.nanstd(diffs, axis=0, ddof=1) / np.sqrt(np.maximum(k, 1))
        layer_rows.append(
            pd.DataFrame(
                {
                    **head,
                    "layer": layers,
                    "n_layers": len(layers),
                    "full": means[full],
                    "half_1": means[pair[0]],
                    "half_2": means[pair[1]],
                    "half_1_name": pair[0],
                    "half_2_name": pair[1],
                    "better_half": np.where(first_better, pair[0], pair[1]),
                    "effect": np.nanmean(diffs, axis=0),
                    "effect_se": se,
                    "n_folds": k,
                }
            )
        )
        for name, chunk in zip(RANGES, np.array_split(np.arange(len(layers)), len(RANGES))):
            if not len(chunk):
                continue
            per_fold = np.nanmean(diffs[:, chunk], axis=1)
            n = int(np.sum(~np.isnan(per_fold)))
            range_rows.append(
                {
                    **head,
                    "range": name,
                    "layer_lo": int(layers[chunk[0]]),
                    "layer_hi": int(layers[chunk[-1]]),
                    "effect": float(np.nanmean(per_fold)),
                    "effect_se": float(np.nanstd(per_fold, ddof=1) / np.sqrt(n))
                    if n > 1
                    else np.nan,
                    "n_folds": n,
                }
            )
    return (
        pd.concat(layer_rows, ignore_index=True) if layer_rows else pd.DataFrame(),
        pd.DataFrame(range_rows),
    )


def effect_sentences(
    per_range: pd.DataFrame, *, head: Sequence[str] = ("stimulus_set", "component")
) -> list[str]:
    """The effect per layer third in words, with its SE, one sentence per curve.

    Parameters
    ----------
    per_range : DataFrame
        :func:`analogy_effect`'s ``per_range``.
    head : sequence of str
        Columns that name each curve at the start of its sentence.

    Returns
    -------
    list of str
    """
    out = []
    if per_range.empty:
        return out
    for key, part in groups(per_range, head):
        name = " · ".join(map(str, key.values()))
        ranges = "; ".join(
            f"{r.range} layers {r.layer_lo}-{r.layer_hi}: {r.effect:+.3f} (SE {r.effect_se:.3f})"
            for r in part.itertuples()
        )
        out.append(
            f"{name}: full stimulus minus the better half at each layer (normalised score, "
            f"SE over the {int(part['n_folds'].max())} fold-paired differences): {ranges}"
        )
    return out


def half_fold_curves(scores: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per pooling, the fold means of normalised scores over each set's property targets.

    Parameters
    ----------
    scores : DataFrame
        Primary-metric ``probe_scores`` rows of ``mean`` and its half poolings (any sets
        and components of one model).
    folds : DataFrame
        The matching ``fold_scores`` rows.

    Returns
    -------
    DataFrame
        ``model``, ``stimulus_set``, ``component``, ``pooling``, ``fold``, ``layer``,
        ``score``: the input of :func:`analogy_effect`.
    """
    from core.analysis.findings import mean_fold_curve

    rows = []
    for head, part in groups(scores, ["model", "stimulus_set", "pooling", "component"]):
        mask = np.logical_and.reduce([folds[k] == v for k, v in head.items() if k in folds])
        _, fold_curve = mean_fold_curve(part, folds[mask])
        rows.append(fold_curve.assign(**head))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
