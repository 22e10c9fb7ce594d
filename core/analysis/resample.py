"""Layer curves recomputed from per-stimulus held-out predictions, under a bootstrap of groups.

``item_predictions`` (DESIGN.md contract 6) holds every stimulus's held-out prediction at
every layer.  Resampling the stimulus *groups* (the CV groups: an item, a pair pool, a
source relation) with replacement and recomputing each layer's score from the predictions
of the resampled stimuli gives the sampling distribution of anything computed from the
curves (a peak layer, a difference of peak depths) with respect to the stimuli, which a
bootstrap over 1-3 targets or over 6 folds cannot give.  No probe is refitted: the interval
covers which stimuli were drawn, not the variability of training (it is narrower than a
full refit-bootstrap would be).

Scores are pooled over stimuli (not averaged over folds): balanced accuracy over every
held-out prediction for classification targets, Pearson r between held-out predictions and
truth for continuous ones, both normalised to 0 = chance, 1 = perfect as
:func:`~core.analysis.summary.normalized` does.  Resampling works on per-group sums, so a
resample costs one (n_boot × n_groups) @ (n_groups × n_layers) product per sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

PREDICTION_COLUMNS = ("target", "layer", "item_id", "y_true", "y_pred")


@dataclass(frozen=True)
class GroupSums:
    """Per-group sufficient statistics of one target's held-out predictions.

    Classification: ``hits`` (n_classes, n_groups, n_layers) correct predictions per true
    class, ``counts`` (n_classes, n_groups) stimuli per true class.  Continuous: ``moments``
    (5, n_groups, n_layers) sums of y, y², ŷ, ŷ², yŷ (y centred), ``counts`` (1, n_groups).
    """

    kind: str  # "classification" or "continuous"
    hits: np.ndarray | None
    moments: np.ndarray | None
    counts: np.ndarray
    n_classes: int


def infer_kind(y_true: np.ndarray) -> str:
    """``"classification"`` when every label is an integer and there are at most 20 of them.

    Parameters
    ----------
    y_true : array of shape (n_items,)

    Returns
    -------
    {"classification", "continuous"}
    """
    y = np.asarray(y_true, dtype=float)
    y = y[np.isfinite(y)]
    integral = bool(np.all(np.equal(np.mod(y, 1), 0)))
    return "classification" if integral and len(np.unique(y)) <= 20 else "continuous"


def _by_group(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Sums within groups: (n_items, ...) → (n_groups, ...), as one indicator product."""
    indicator = np.zeros((n_groups, len(group)))
    indicator[group, np.arange(len(group))] = 1.0
    return np.tensordot(indicator, values, axes=1)


def group_sums(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_groups: int, kind: str
) -> GroupSums:
    """Sum one target's predictions within groups.

    Parameters
    ----------
    y_true : array of shape (n_items,)
    y_pred : array of shape (n_items, n_layers)
    group : array of int of shape (n_items,)
        Group code of each stimulus, in ``range(n_groups)``.
    n_groups : int
    kind : {"classification", "continuous"}

    Returns
    -------
    GroupSums
    """
    if kind == "classification":
        classes = np.unique(y_true)
        truth = (y_true[:, None] == classes[None, :]).astype(float)  # (n_items, n_classes)
        correct = y_pred[:, None, :] == classes[None, :, None]  # (n_items, n_classes, L)
        hits = _by_group(truth[:, :, None] * correct, group, n_groups).transpose(1, 0, 2)
        counts = _by_group(truth, group, n_groups).T
        return GroupSums(kind, hits, None, counts, len(classes))
    y = (y_true - y_true.mean())[:, None]
    p = y_pred - y_pred.mean(axis=0, keepdims=True)
    column = np.broadcast_to(y, p.shape)
    values = np.stack([column, column**2, p, p**2, column * p], axis=1)  # (n_items, 5, L)
    moments = _by_group(values, group, n_groups).transpose(1, 0, 2)
    counts = _by_group(np.ones((len(group), 1)), group, n_groups).T
    return GroupSums(kind, None, moments, counts, 0)


def normalized_scores(sums: GroupSums, weights: np.ndarray) -> np.ndarray:
    """Normalised scores per weighting of the groups.

    Parameters
    ----------
    sums : GroupSums
    weights : array of shape (n_boot, n_groups)
        How often each group is drawn (all ones: the observed data).

    Returns
    -------
    array of shape (n_boot, n_layers)
        Balanced accuracy as ``(b - 1/k) / (1 - 1/k)``, or Pearson r.
    """
    if sums.kind == "classification":
        recall = []
        for c in range(sums.n_classes):
            total = weights @ sums.counts[c]  # (n_boot,)
            with np.errstate(invalid="ignore", divide="ignore"):
                recall.append((weights @ sums.hits[c]) / total[:, None])
        with np.errstate(invalid="ignore"):
            bacc = np.nanmean(np.stack(recall), axis=0)
        chance = 1.0 / sums.n_classes
        return (bacc - chance) / (1.0 - chance)
    n = (weights @ sums.counts[0])[:, None]
    sy, syy, sp, spp, syp = (weights @ m for m in sums.moments)
    cov = n * syp - sy * sp
    var = (n * syy - sy**2) * (n * spp - sp**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.sqrt(np.clip(var, 1e-300, None)), np.nan)


def group_weights(n_groups: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap counts of each group: ``n_groups`` draws with replacement per resample.

    Parameters
    ----------
    n_groups : int
    n_boot : int
    rng : numpy Generator

    Returns
    -------
    array of shape (n_boot, n_groups)
        How often each group is drawn; every row sums to ``n_groups``.
    """
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    out = np.zeros((n_boot, n_groups))
    np.add.at(out, (np.repeat(np.arange(n_boot), n_groups), draws.ravel()), 1.0)
    return out


@dataclass(frozen=True)
class SetPredictions:
    """One stimulus set's predictions for one model × pooling × component, as group sums."""

    targets: list[str]
    sums: list[GroupSums]
    layers: np.ndarray
    n_groups: int


def set_predictions(
    predictions: pd.DataFrame,
    groups: pd.Series | Mapping,
    *,
    targets: list[str],
    kinds: Mapping[str, str] | None = None,
) -> SetPredictions:
    """Group sums of every target of one set's ``item_predictions`` rows.

    Parameters
    ----------
    predictions : DataFrame
        ``item_predictions`` rows of one model, set, pooling and component
        (:data:`PREDICTION_COLUMNS` at least).
    groups : Series or mapping
        ``item_id`` → CV group (the ``folds`` table's ``group``).
    targets : list of str
        The targets to keep (properties only: see
        :func:`~core.analysis.summary.property_targets`).
    kinds : mapping, optional
        ``target`` → ``"binary"``/``"multiclass"``/``"continuous"`` (the ``targets`` table);
        inferred from ``y_true`` when missing (:func:`infer_kind`).

    Returns
    -------
    SetPredictions

    Raises
    ------
    ValueError
        When a stimulus has no group, or a target lacks layers the others have.
    """
    group_of = pd.Series(groups)
    items = pd.Index(sorted(predictions["item_id"].unique()))
    missing = items.difference(group_of.index)
    if len(missing):
        raise ValueError(f"{len(missing)} stimuli have no group (e.g. {missing[0]!r})")
    codes, uniques = pd.factorize(group_of.reindex(items))
    layers = np.sort(predictions["layer"].unique())
    sums, kept = [], []
    for target in targets:
        part = predictions[predictions["target"] == target]
        if part.empty:
            continue
        wide = part.pivot_table(index="item_id", columns="layer", values="y_pred", aggfunc="first")
        wide = wide.reindex(index=items, columns=layers)
        truth = part.drop_duplicates("item_id").set_index("item_id")["y_true"].reindex(items)
        ok = truth.notna().to_numpy() & np.isfinite(wide.to_numpy(float)).all(axis=1)
        if ok.sum() < 3:
            continue
        kind = (kinds or {}).get(target)
        kind = "continuous" if kind == "continuous" else ("classification" if kind else None)
        y_true = truth.to_numpy(float)[ok]
        kind = kind or infer_kind(y_true)
        sums.append(group_sums(y_true, wide.to_numpy(float)[ok], codes[ok], len(uniques), kind))
        kept.append(target)
    return SetPredictions(kept, sums, layers, len(uniques))


def mean_curves(data: SetPredictions, weights: np.ndarray) -> np.ndarray:
    """The set's mean normalised curve over its targets, per weighting of its groups.

    Parameters
    ----------
    data : SetPredictions
    weights : array of shape (n_boot, n_groups)

    Returns
    -------
    array of shape (n_boot, n_layers)
    """
    curves = np.stack([normalized_scores(s, weights) for s in data.sums])
    with np.errstate(invalid="ignore"):
        return np.nanmean(curves, axis=0)
