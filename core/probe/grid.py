"""The probe grid: every layer × component × target, with folds, nulls and group halves.

A cell is one (component, layer) activation matrix.  Per fold, all of a cell's targets,
alphas, permutations and halves share the fold's Gram matrix: ridge shares one
eigendecomposition over every target and permutation, the real SVM fits are libsvm on the
precomputed kernel, and the permutations' SVMs are solved together
(:func:`core.probe.solvers.svm_null_predictions`).  Every cell gets the full null: the
same ``permutations`` at every layer, so every layer's p-value is its own.  Cells run in
parallel through joblib, whose backend a user can switch to Ray or Dask
(``joblib.parallel_config``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config

from core.probe import metrics
from core.probe.backends import cluster
from core.probe.folds import group_halves, outer_folds
from core.probe.permutations import label_permutations
from core.probe.settings import ProbeSettings
from core.probe.solvers import (
    Blocks,
    ridge_fold,
    standardized_gram,
    svm_fold,
    svm_null_predictions,
)
from core.stimuli import StimulusSet


@dataclass(frozen=True)
class _Target:
    name: str
    probe: str  # "svm" or "ridge"
    labels: np.ndarray


@dataclass(frozen=True)
class Plan:
    """Folds, null labellings and halves of a stimulus set, decided once for all cells.

    Attributes
    ----------
    targets : list of _Target
    groups : ndarray of shape (n,)
    fold : ndarray of int, shape (n,)
    permutations : ndarray of int, shape (n_permutations, n)
        ``labels[permutations[p]]`` is the ``p``-th null labelling of every target.
    halves : list of (rows, fold within those rows)
    settings : ProbeSettings
    item_ids : ndarray of str, shape (n,)
    """

    targets: list[_Target]
    groups: np.ndarray
    fold: np.ndarray
    permutations: np.ndarray
    halves: list[tuple[np.ndarray, np.ndarray]]
    settings: ProbeSettings
    item_ids: np.ndarray


def make_plan(stimuli: StimulusSet, settings: ProbeSettings) -> Plan:
    """Folds, permutations and halves for a stimulus set, decided once for all cells."""
    groups = stimuli.groups
    targets = [
        _Target(t, "ridge" if kind == "continuous" else "svm", stimuli.labels(t))
        for t, kind in stimuli.targets.items()
    ]
    fold = outer_folds(groups, n_folds=settings.folds, seed=settings.seed)
    permutations = label_permutations(
        groups, n_permutations=settings.permutations, seed=settings.seed + 1
    )
    halves = []
    for mask in group_halves(groups, n_splits=settings.half_splits, seed=settings.seed + 2):
        for rows in (np.flatnonzero(mask), np.flatnonzero(~mask)):
            n_folds = min(settings.folds, len(np.unique(groups[rows])))
            halves.append((rows, outer_folds(groups[rows], n_folds=n_folds, seed=settings.seed)))
    item_ids = stimuli.frame["item_id"].astype(str).to_numpy()
    return Plan(targets, groups, fold, permutations, halves, settings, item_ids)


class _Collector:
    """Fold scores, null fold scores and held-out predictions of one CV over some rows."""

    def __init__(self, plan: Plan, n_rows: int, n_folds: int, *, with_null: bool, keep: bool):
        n_perm = len(plan.permutations) if with_null else 0
        self.scores = {t.name: {} for t in plan.targets}
        self.null = {t.name: np.full((n_folds, n_perm), np.nan) for t in plan.targets}
        self.keep = keep
        self.pred = {t.name: np.full(n_rows, np.nan) for t in plan.targets} if keep else {}
        self.decision = {t.name: np.full(n_rows, np.nan) for t in plan.targets} if keep else {}

    def add(self, target: _Target, scores: dict[str, float]) -> None:
        for metric, value in scores.items():
            self.scores[target.name].setdefault(metric, []).append(float(value))

    def result(self, plan: Plan) -> dict:
        out = {}
        for t in plan.targets:
            # fold mean of each permutation's scores (NaN where no fold could be fitted)
            null = self.null[t.name]
            count = (~np.isnan(null)).sum(axis=0)
            total = np.nansum(null, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                null = np.where(count > 0, total / count, np.nan)
            entry = {
                "folds": {m: np.asarray(v) for m, v in self.scores[t.name].items()},
                "null": null,
            }
            if self.keep:
                entry["y_pred"] = self.pred[t.name]
                entry["decision"] = self.decision[t.name]
            out[t.name] = entry
        return out


def _ridge_fold(G, blocks, train, test, rows, k, plan, targets, out: _Collector, perms) -> None:
    """Ridge: every target and permutation of a fold in one solve."""
    settings = plan.settings
    groups = plan.groups[rows]
    columns = [t.labels[rows] for t in targets]
    columns += [t.labels[perms][:, rows].T for t in targets]
    Y = np.column_stack(columns).astype(np.float64)
    pred, _ = ridge_fold(
        G,
        train,
        test,
        Y,
        groups,
        alphas=np.asarray(settings.alphas),
        n_inner=settings.inner_folds,
        n_exact=len(targets),
        blocks=blocks,
    )
    scores = metrics.score_all("ridge", Y[test], pred)
    n_t, n_p = len(targets), len(perms)
    primary = scores[metrics.PRIMARY["ridge"]]
    for j, t in enumerate(targets):
        out.add(t, {metric: values[j] for metric, values in scores.items()})
        if n_p:
            out.null[t.name][k] = primary[n_t + j * n_p : n_t + (j + 1) * n_p]
        if out.keep:
            out.pred[t.name][test] = pred[:, j]
            out.decision[t.name][test] = pred[:, j]


def _svm_fold(G, blocks, train, test, rows, k, plan, targets, out: _Collector, perms) -> None:
    """SVM: libsvm for every real labelling (full CV and halves), the batched solver for
    every permutation of every target at once."""
    settings = plan.settings
    for t in targets:
        y = t.labels[rows]
        fitted = svm_fold(G, train, test, y, C=settings.C, decision=out.keep, blocks=blocks)
        if fitted is None:
            out.add(t, dict.fromkeys(metrics.CLASSIFICATION, np.nan))
            continue
        pred, decision = fitted
        scores = metrics.score_all("svm", y[test][:, None], pred[:, None])
        out.add(t, {metric: values[0] for metric, values in scores.items()})
        if out.keep:
            out.pred[t.name][test] = pred
            out.decision[t.name][test] = decision
    if not len(perms):
        return
    labels = np.column_stack([t.labels[perms][:, rows].T for t in targets])
    device = None if settings.device == "cpu" else settings.device  # cpu: NumPy
    pred = svm_null_predictions(G, train, test, labels, C=settings.C, device=device, blocks=blocks)
    scores = metrics.balanced_accuracy(labels[test], np.where(pred < 0, 0, pred))
    scores[(pred < 0).any(axis=0)] = np.nan
    for j, t in enumerate(targets):
        out.null[t.name][k] = scores[j * len(perms) : (j + 1) * len(perms)]


def _cv_scores(
    X: np.ndarray,
    rows: np.ndarray,
    fold: np.ndarray,
    plan: Plan,
    *,
    with_null: bool,
    keep_predictions: bool = False,
) -> dict[str, dict]:
    """Fold scores of every target (and its permutations) over the given rows.

    Returns
    -------
    dict
        ``{target: {"folds": {metric: (n_folds,)}, "null": (n_permutations,)}}``, the null
        being the fold mean of the primary metric under each permutation; with
        ``keep_predictions`` also ``"y_pred"`` and ``"decision"`` of shape (len(rows),).
    """
    folds = np.unique(fold)
    perms = plan.permutations if with_null else plan.permutations[:0]
    out = _Collector(plan, len(rows), len(folds), with_null=with_null, keep=keep_predictions)
    ridge_targets = [t for t in plan.targets if t.probe == "ridge"]
    svm_targets = [t for t in plan.targets if t.probe == "svm"]
    X_rows = np.asarray(X[rows], dtype=np.float64)
    for k in folds:
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        G = standardized_gram(X_rows, train)
        blocks = Blocks.of(G, train, test)
        if ridge_targets:
            _ridge_fold(G, blocks, train, test, rows, k, plan, ridge_targets, out, perms)
        if svm_targets:
            _svm_fold(G, blocks, train, test, rows, k, plan, svm_targets, out, perms)
    return out.result(plan)


def probe_cell(X: np.ndarray, plan: Plan) -> dict:
    """All probes of one (component, layer) activation matrix.

    Parameters
    ----------
    X : ndarray of shape (n_items, d_model)
    plan : Plan

    Returns
    -------
    dict
        ``{"full": {target: {"folds", "null", "y_pred", "decision"}}, "halves": [...]}``:
        the full CV with its nulls and held-out predictions, and one plain CV per half.
    """
    all_rows = np.arange(len(plan.groups))
    with_null = plan.settings.permutations > 0
    full = _cv_scores(X, all_rows, plan.fold, plan, with_null=with_null, keep_predictions=True)
    halves = [_cv_scores(X, rows, fold, plan, with_null=False) for rows, fold in plan.halves]
    return {"full": full, "halves": halves}


@dataclass
class ProbeResults:
    """Long tables of one probe run (see ``core.storage.store`` for their columns).

    Attributes
    ----------
    fold_scores : DataFrame
        target, component, layer, metric, fold, score.
    null_scores : DataFrame
        target, component, layer, metric, perm, score (fold mean under permutation ``perm``).
    half_scores : DataFrame
        target, component, layer, metric, split, half, score.
    predictions : DataFrame
        target, component, layer, item_id, fold, y_true, y_pred, decision: every stimulus's
        held-out prediction from the real fits (``item_predictions``).
    targets : DataFrame
    folds : ndarray of int, shape (n_items,)
    settings : ProbeSettings
    """

    fold_scores: pd.DataFrame
    null_scores: pd.DataFrame
    half_scores: pd.DataFrame
    predictions: pd.DataFrame
    targets: pd.DataFrame
    folds: np.ndarray
    settings: ProbeSettings
    extra: dict = field(default_factory=dict)


def _target_table(plan: Plan) -> pd.DataFrame:
    rows = []
    for t in plan.targets:
        svm = t.probe == "svm"
        rows.append(
            {
                "target": t.name,
                "probe": t.probe,
                "n_classes": len(np.unique(t.labels)) if svm else 0,
                "chance_balanced_accuracy": metrics.chance("balanced_accuracy", t.labels)
                if svm
                else np.nan,
                "chance_accuracy": metrics.chance("accuracy", t.labels) if svm else np.nan,
                "positive_rate": float(np.mean(t.labels == 1))
                if svm and len(np.unique(t.labels)) == 2
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _prediction_table(cells: dict[tuple[str, int], dict], plan: Plan) -> pd.DataFrame:
    """One row per (target, component, layer, item): the held-out prediction of the real fit."""
    n = len(plan.item_ids)
    parts = []
    for (component, layer), result in cells.items():
        for t in plan.targets:
            res = result["full"][t.name]
            if "y_pred" not in res:
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "target": t.name,
                        "component": component,
                        "layer": np.full(n, layer, dtype=np.int32),
                        "item_id": plan.item_ids,
                        "fold": plan.fold.astype(np.int32),
                        "y_true": t.labels.astype(np.float64),
                        "y_pred": res["y_pred"],
                        "decision": res["decision"],
                    }
                )
            )
    columns = ["target", "component", "layer", "item_id", "fold", "y_true", "y_pred", "decision"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _tables(cells: dict[tuple[str, int], dict], plan: Plan) -> ProbeResults:
    fold_rows, null_parts, half_rows = [], [], []
    kinds = {t.name: t.probe for t in plan.targets}
    for (component, layer), result in cells.items():
        for target, res in result["full"].items():
            for metric, values in res["folds"].items():
                for k, value in enumerate(values):
                    fold_rows.append((target, component, layer, metric, k, float(value)))
            null = np.asarray(res["null"], dtype=float)
            if len(null):
                null_parts.append(
                    pd.DataFrame(
                        {
                            "target": target,
                            "component": component,
                            "layer": layer,
                            "metric": metrics.PRIMARY[kinds[target]],
                            "perm": np.arange(len(null)),
                            "score": null,
                        }
                    )
                )
        for h, half in enumerate(result["halves"]):
            for target, res in half.items():
                metric = metrics.PRIMARY[kinds[target]]
                with np.errstate(invalid="ignore"):
                    value = float(np.nanmean(res["folds"][metric]))
                half_rows.append((target, component, layer, metric, h // 2, h % 2, value))
    keys = ["target", "component", "layer", "metric"]
    null_scores = (
        pd.concat(null_parts, ignore_index=True)
        if null_parts
        else pd.DataFrame(columns=[*keys, "perm", "score"])
    )
    return ProbeResults(
        fold_scores=pd.DataFrame(fold_rows, columns=[*keys, "fold", "score"]),
        null_scores=null_scores,
        half_scores=pd.DataFrame(half_rows, columns=[*keys, "split", "half", "score"]),
        predictions=_prediction_table(cells, plan),
        targets=_target_table(plan),
        folds=plan.fold,
        settings=plan.settings,
    )


def probe_grid(
    activations: Mapping[str, np.ndarray],
    stimuli: StimulusSet,
    settings: ProbeSettings | None = None,
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    done: Mapping[tuple[str, int], dict] | None = None,
    on_cell: Callable[[tuple[str, int], dict, int, int], None] | None = None,
) -> ProbeResults:
    """Probe every layer × component × target.

    Parameters
    ----------
    activations : mapping of component to ndarray of shape (n_items, n_layers, d_model)
    stimuli : StimulusSet
        Rows in the same order as the activations.
    settings : ProbeSettings, optional
    n_jobs : int, default=1
        Cells fitted in parallel.
    backend : str, default="loky"
        joblib backend (``"ray"`` or ``"dask"`` when a cluster is set up).
    done : mapping, optional
        Results of cells finished earlier (``(component, layer)`` → cell result), reused.
    on_cell : callable, optional
        Called as ``on_cell(cell, result, n_done, n_cells)`` when a cell finishes, to keep
        it (resume) and report progress.

    Returns
    -------
    ProbeResults
    """
    settings = settings or ProbeSettings()
    plan = make_plan(stimuli, settings)
    cells = [(c, layer) for c, acts in activations.items() for layer in range(acts.shape[1])]
    results: dict[tuple[str, int], dict] = {c: done[c] for c in cells if done and c in done}
    todo = [cell for cell in cells if cell not in results]
    jobs = (
        delayed(probe_cell)(np.asarray(activations[c][:, layer, :], dtype=np.float32), plan)
        for c, layer in todo
    )
    with (
        cluster(backend) as name,
        parallel_config(backend=name, n_jobs=min(n_jobs, max(len(todo), 1))),
    ):
        outputs = Parallel(return_as="generator")(jobs) if todo else []
        for cell, output in zip(todo, outputs):
            results[cell] = output
            if on_cell is not None:
                on_cell(cell, output, len(results), len(cells))
    return _tables({cell: results[cell] for cell in cells}, plan)
