"""Transfer between stimulus sets: train a probe on set A, test it on set B (same target).

Same solver and settings as the within-set probes (:mod:`core.probe.reference`: a linear
SVC with ``C`` on features standardised on the training rows, or ridge with alpha chosen
by inner grouped CV), per layer and component (the *diagonal*: train and test at the same
layer), and for one component every train layer × test layer (the *matrix*).

Leakage.  Sets built from the same material share stimuli: every ``buried`` text is a
``pairs`` text plus filler, with the same item ids and groups.  A probe trained on all of
``pairs`` has seen the very word pair it is then asked about inside ``buried``, so its
transfer score would mix memory of the pair with transfer of the relation.  So each test
stimulus *linked* to the training set (its group is a training group, or failing that its
item id is a training item) is predicted by the model of the training set's grouped CV
fold that held that group out: no model ever predicts a stimulus whose group (word pair,
pool) it was trained on.  Test stimuli with no link (a different set of words) are
predicted by the model trained on all of A.  The fold scores are computed within the
training set's folds (linked stimuli) or the test set's own grouped folds (unlinked ones),
so ``score`` is a mean over folds ± SE like a within-set curve, and transferring a set to
itself gives back its own cross-validated scores (tested).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from core.errors import StrataError
from core.probe import metrics
from core.probe.folds import outer_folds
from core.probe.settings import ProbeSettings
from core.probe.solvers import LIBSVM_MAX_ITER
from core.stimuli import StimulusSet

COLUMNS = [
    "target",
    "component",
    "train_layer",
    "test_layer",
    "metric",
    "score",
    "score_se",
    "n_folds",
    "n_test",
    "chance",
    "is_primary",
]


def shared_targets(
    train: StimulusSet, test: StimulusSet, target: str | None = None
) -> dict[str, str]:
    """Targets both sets have, of the same kind (``{name: kind}``, in the train set's order).

    Raises
    ------
    StrataError
        When none is shared, or ``target`` is not one of them.
    """
    shared = {t: k for t, k in train.targets.items() if t in test.targets and test.targets[t] == k}
    if not shared:
        raise StrataError(
            f"stimulus sets '{train.name}' and '{test.name}' share no target of the same kind "
            f"({', '.join(train.targets)} vs {', '.join(test.targets)})"
        )
    if target is not None:
        if target not in shared:
            raise StrataError(
                f"target '{target}' is not shared by '{train.name}' and '{test.name}' "
                f"(shared: {', '.join(shared)})"
            )
        return {target: shared[target]}
    return shared


def assign_test_folds(
    train: StimulusSet, test: StimulusSet, train_fold: np.ndarray, *, settings: ProbeSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Which model predicts each test stimulus, and the folds its score is averaged over.

    Parameters
    ----------
    train, test : StimulusSet
    train_fold : ndarray of int, shape (n_train,)
        The training set's grouped CV folds (:func:`core.probe.folds.outer_folds`).
    settings : ProbeSettings

    Returns
    -------
    model : ndarray of int, shape (n_test,)
        The training fold held out by the model that predicts the row, or -1 for the
        model trained on all of ``train`` (rows with no link to it).
    fold : ndarray of int, shape (n_test,)
        The fold each row's score is computed in (``model`` where linked; the test set's
        own grouped folds elsewhere).
    """
    by_group = dict(zip(train.groups.astype(str), train_fold))
    by_item = dict(zip(train.frame["item_id"].astype(str), train_fold))
    groups = test.groups.astype(str)
    items = test.frame["item_id"].astype(str)
    model = np.array(
        [by_group.get(g, by_item.get(i, -1)) for g, i in zip(groups, items)], dtype=np.int64
    )
    fold = model.copy()
    free = model < 0
    if free.any():
        n_groups = len(np.unique(groups[free]))
        fold[free] = outer_folds(
            groups[free], n_folds=min(settings.folds, n_groups), seed=settings.seed
        )
    return model, fold


def _labels(train: StimulusSet, test: StimulusSet, target: str, kind: str):
    """Labels of both sets in one coding (multi-class: the train set's classes; a test
    class the train set lacks is -1 and left out of the scores)."""
    if kind == "continuous":
        return train.labels(target), test.labels(target)
    if kind == "binary":
        return train.labels(target), test.labels(target)
    classes = pd.Categorical(train.frame[target].astype(str)).categories
    a = pd.Categorical(train.frame[target].astype(str), categories=classes).codes
    b = pd.Categorical(test.frame[target].astype(str), categories=classes).codes
    return a.astype(np.int64), b.astype(np.int64)


def _fit(X, y, groups, kind: str, settings: ProbeSettings):
    """The within-set probe (:mod:`core.probe.reference`) fitted on these rows."""
    if kind == "continuous":
        search = GridSearchCV(
            Ridge(),
            {"alpha": list(settings.alphas)},
            cv=GroupKFold(n_splits=settings.inner_folds),
            scoring="r2",
        )
        model = make_pipeline(StandardScaler(), search)
        model.fit(X, y, gridsearchcv__groups=groups)
        return model
    svm = SVC(kernel="linear", C=settings.C, max_iter=LIBSVM_MAX_ITER)  # libsvm can cycle
    model = make_pipeline(StandardScaler(), svm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def _train_layer(
    train_X: np.ndarray,
    test_X: np.ndarray,
    labels: Mapping[str, tuple[np.ndarray, np.ndarray, str]],
    train_fold: np.ndarray,
    train_groups: np.ndarray,
    model_of: np.ndarray,
    test_layers: Sequence[int],
    settings: ProbeSettings,
) -> dict[str, np.ndarray]:
    """Predictions of every test row at ``test_layers`` from models trained at one layer.

    Returns
    -------
    dict of str to ndarray of shape (len(test_layers), n_test)
    """
    out = {t: np.full((len(test_layers), test_X.shape[0]), np.nan) for t in labels}
    for k in np.unique(model_of):
        rows = np.flatnonzero(model_of == k)
        fit_rows = np.flatnonzero(train_fold != k) if k >= 0 else np.arange(len(train_fold))
        for target, (y_train, _, kind) in labels.items():
            model = _fit(
                train_X[fit_rows], y_train[fit_rows], train_groups[fit_rows], kind, settings
            )
            for j, layer in enumerate(test_layers):
                out[target][j, rows] = model.predict(test_X[rows, layer, :])
    return out


def _scores(
    pred: np.ndarray, y: np.ndarray, fold: np.ndarray, kind: str
) -> dict[str, tuple[float, float, int]]:
    """Mean over folds ± SE of every metric (fold SD / √k), as the within-set scores."""
    probe = "ridge" if kind == "continuous" else "svm"
    keep = y >= 0 if probe == "svm" else np.isfinite(y)
    per_fold: dict[str, list[float]] = {}
    for k in np.unique(fold[keep]):
        rows = keep & (fold == k)
        yk = y[rows]
        pk = pred[rows].astype(yk.dtype) if probe == "svm" else pred[rows]
        for metric, value in metrics.score_all(probe, yk, pk).items():
            per_fold.setdefault(metric, []).append(float(np.asarray(value).ravel()[0]))
    out = {}
    for metric, values in per_fold.items():
        v = np.asarray(values, dtype=float)
        n = int(np.isfinite(v).sum())
        se = float(np.nanstd(v, ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        out[metric] = (float(np.nanmean(v)) if n else np.nan, se, n)
    return out


def transfer(
    train_acts: Mapping[str, np.ndarray],
    test_acts: Mapping[str, np.ndarray],
    train: StimulusSet,
    test: StimulusSet,
    *,
    settings: ProbeSettings | None = None,
    target: str | None = None,
    matrix_component: str | None = "resid_pre",
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Train on ``train`` and test on ``test``: the diagonal, and one component's matrix.

    Parameters
    ----------
    train_acts, test_acts : mapping of component to ndarray of shape (n, n_layers, d_model)
        Activations of the two sets (same model and pooling), rows in stimulus order.
    train, test : StimulusSet
    settings : ProbeSettings, optional
        Folds, seed, C, alphas, inner folds: those of the within-set run.
    target : str, optional
        One shared target; default: every shared target.
    matrix_component : str or None, default="resid_pre"
        The component whose every train layer × test layer pair is scored.
    n_jobs : int, default=1
        Train layers fitted in parallel (joblib).

    Returns
    -------
    DataFrame
        :data:`COLUMNS`: one row per (target, component, train_layer, test_layer, metric);
        ``score`` is the mean over folds, ``score_se`` the fold SD / √k, ``chance`` that
        of the test labels, ``is_primary`` marks balanced accuracy or Pearson r.

    Raises
    ------
    StrataError
        When the sets share no target, their activations differ in shape, or the matrix
        component is not among the activations.
    """
    settings = settings or ProbeSettings()
    kinds = shared_targets(train, test, target)
    components = [c for c in train_acts if c in test_acts]
    if not components:
        raise StrataError("the two sets' activations have no component in common")
    for c in components:
        a, b = train_acts[c], test_acts[c]
        if a.shape[1:] != b.shape[1:]:
            raise StrataError(
                f"{c}: activations of '{train.name}' {a.shape[1:]} and '{test.name}' "
                f"{b.shape[1:]} differ in layers × width: not the same model"
            )
        if a.shape[0] != len(train) or b.shape[0] != len(test):
            raise StrataError(f"{c}: activations and stimulus sets differ in their number of rows")
    if matrix_component is not None and matrix_component not in components:
        raise StrataError(
            f"matrix component '{matrix_component}' is not among {', '.join(components)}"
        )
    train_fold = outer_folds(train.groups, n_folds=settings.folds, seed=settings.seed)
    model_of, fold = assign_test_folds(train, test, train_fold, settings=settings)
    labels = {t: (*_labels(train, test, t, k), k) for t, k in kinds.items()}
    n_layers = next(iter(train_acts.values())).shape[1]
    jobs = []
    for c in components:
        for la in range(n_layers):
            tests = list(range(n_layers)) if c == matrix_component else [la]
            jobs.append((c, la, tests))
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_train_layer)(
            np.asarray(train_acts[c][:, la, :], dtype=np.float64),
            np.asarray(test_acts[c], dtype=np.float64)
            if len(tests) > 1
            else np.asarray(test_acts[c][:, [la], :], dtype=np.float64),
            labels,
            train_fold,
            train.groups,
            model_of,
            tests if len(tests) > 1 else [0],
            settings,
        )
        for c, la, tests in jobs
    )
    rows = []
    for (c, la, tests), preds in zip(jobs, outputs):
        for t, (_, y_test, kind) in labels.items():
            probe = "ridge" if kind == "continuous" else "svm"
            for j, lb in enumerate(tests):
                for metric, (score, se, n) in _scores(preds[t][j], y_test, fold, kind).items():
                    known = y_test[y_test >= 0] if probe == "svm" else y_test
                    rows.append(
                        {
                            "target": t,
                            "component": c,
                            "train_layer": la,
                            "test_layer": lb,
                            "metric": metric,
                            "score": score,
                            "score_se": se,
                            "n_folds": n,
                            "n_test": len(known),
                            "chance": metrics.chance(metric, known),
                            "is_primary": metric == metrics.PRIMARY[probe],
                        }
                    )
    return pd.DataFrame(rows, columns=COLUMNS)
