"""The probe grid: every layer × component × target, with folds, nulls and group halves.

A cell is one (component, layer) activation matrix; all its targets, folds, alphas,
permutations and halves share the cell's fold Gram matrices.  Cells run in parallel through
joblib, whose backend a user can switch to Ray or Dask (``joblib.parallel_config``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config

from core.errors import ConfigError
from core.probe import metrics
from core.probe.backends import cluster
from core.probe.folds import group_halves, group_permutations, outer_folds
from core.probe.solvers import ridge_fold, standardized_gram, svm_fold
from core.stimuli import StimulusSet

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-1, 7, 9))


@dataclass(frozen=True)
class ProbeSettings:
    """Everything that determines probe scores, recorded with every run.

    Attributes
    ----------
    n_folds : grouped outer CV folds (the paper's 6).
    seed : fixes folds, permutations and halves.
    C : SVM regularisation (the paper's linear SVM, C=1).
    alphas : ridge grid; alpha is chosen per target by inner grouped CV.
    inner_folds : inner folds for choosing alpha.
    permutations : group-respecting label permutations for the null.
    svm_null_layers : SVM nulls are refitted at this many evenly spaced layers per
        component (``None``: every layer); ridge nulls are nearly free and cover every
        layer.  A refitted SVM on permuted labels costs as much as the real fits times
        ``permutations``, and the null hardly changes with depth, so p-values and null bands
        pool the permutations over a component's layers (see ``core.probe.summary``).
    half_splits : random halvings of the groups for split-half statistics (0 = none).
    """

    folds: int = 6
    seed: int = 0
    C: float = 1.0
    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    inner_folds: int = 5
    permutations: int = 20
    svm_null_layers: int | None = 3
    half_splits: int = 1

    def __post_init__(self):
        checks = [
            (self.folds >= 2, f"folds={self.folds}: cross-validation needs at least 2 folds"),
            (self.C > 0, f"C={self.C}: the SVM's C must be positive"),
            (len(self.alphas) > 0 and min(self.alphas) > 0, "ridge alphas must be positive"),
            (
                self.inner_folds >= 2,
                f"inner_folds={self.inner_folds}: choosing alpha needs 2 inner folds",
            ),
            (
                self.permutations >= 0,
                f"permutations={self.permutations} cannot be negative",
            ),
            (
                self.svm_null_layers is None or self.svm_null_layers >= 0,
                f"svm_null_layers={self.svm_null_layers} cannot be negative",
            ),
            (self.half_splits >= 0, f"half_splits={self.half_splits} cannot be negative"),
            (self.seed >= 0, f"seed={self.seed}: use a seed of 0 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["alphas"] = list(self.alphas)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ProbeSettings:
        """Inverse of :meth:`to_dict`; an unknown setting is refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown probe setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "alphas" in values:
            values["alphas"] = tuple(float(a) for a in values["alphas"])
        return cls(**values)


@dataclass(frozen=True)
class _Target:
    name: str
    probe: str  # "svm" or "ridge"
    labels: np.ndarray


@dataclass(frozen=True)
class _Plan:
    targets: list[_Target]
    groups: np.ndarray
    fold: np.ndarray
    permutations: np.ndarray  # (n_permutations, n_rows): labels[p] is a null labelling
    halves: list[tuple[np.ndarray, np.ndarray]]  # (rows, fold id within those rows)
    settings: ProbeSettings


def make_plan(stimuli: StimulusSet, settings: ProbeSettings) -> _Plan:
    """Folds, permutations and halves for a stimulus set, decided once for all cells."""
    groups = stimuli.groups
    targets = [
        _Target(t, "ridge" if kind == "continuous" else "svm", stimuli.labels(t))
        for t, kind in stimuli.targets.items()
    ]
    fold = outer_folds(groups, n_folds=settings.folds, seed=settings.seed)
    permutations = group_permutations(
        groups, n_permutations=settings.permutations, seed=settings.seed + 1
    )
    halves = []
    for mask in group_halves(groups, n_splits=settings.half_splits, seed=settings.seed + 2):
        for rows in (np.flatnonzero(mask), np.flatnonzero(~mask)):
            n_folds = min(settings.folds, len(np.unique(groups[rows])))
            halves.append((rows, outer_folds(groups[rows], n_folds=n_folds, seed=settings.seed)))
    return _Plan(targets, groups, fold, permutations, halves, settings)


def _cv_scores(
    X: np.ndarray,
    rows: np.ndarray,
    fold: np.ndarray,
    plan: _Plan,
    *,
    ridge_null: bool,
    svm_null: bool,
) -> dict[str, dict]:
    """Fold scores of every target (and its permutations) over the given rows.

    Returns ``{target: {"folds": {metric: (n_folds,)}, "null": (n_permutations,)}}``; the null is
    the fold mean of the primary metric under each permutation.
    """
    settings = plan.settings
    groups = plan.groups[rows]
    folds = np.unique(fold)
    none = np.empty((0, len(plan.groups)), dtype=np.int64)
    perms = plan.permutations if ridge_null or svm_null else none
    out: dict[str, dict] = {}
    fold_scores = {t.name: {} for t in plan.targets}
    null_folds = {t.name: np.full((len(folds), len(perms)), np.nan) for t in plan.targets}
    # positions within `rows` of each permuted labelling, restricted to `rows`
    ridge_targets = [t for t in plan.targets if t.probe == "ridge"]
    svm_targets = [t for t in plan.targets if t.probe == "svm"]
    for k in folds:
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        G = standardized_gram(X[rows], train)
        if ridge_targets:
            columns = [t.labels[rows] for t in ridge_targets]
            ridge_perms = perms if ridge_null else none
            columns += [t.labels[p][rows] for t in ridge_targets for p in ridge_perms]
            Y = np.column_stack(columns).astype(np.float64)
            pred, _ = ridge_fold(
                G,
                train,
                test,
                Y,
                groups,
                alphas=np.asarray(settings.alphas),
                n_inner=settings.inner_folds,
            )
            scores = metrics.score_all("ridge", Y[test], pred)
            n_t = len(ridge_targets)
            for j, t in enumerate(ridge_targets):
                for metric, values in scores.items():
                    fold_scores[t.name].setdefault(metric, []).append(values[j])
                if ridge_null:
                    null_cols = slice(n_t + j * len(perms), n_t + (j + 1) * len(perms))
                    null_folds[t.name][k] = scores[metrics.PRIMARY["ridge"]][null_cols]
        for t in svm_targets:
            y = t.labels[rows]
            pred = svm_fold(G, train, test, y, C=settings.C)
            scores = (
                metrics.score_all("svm", y[test][:, None], pred[:, None])
                if pred is not None
                else dict.fromkeys(metrics.CLASSIFICATION, np.array([np.nan]))
            )
            for metric, values in scores.items():
                fold_scores[t.name].setdefault(metric, []).append(values[0])
            for p, perm in enumerate(perms if svm_null else none):
                y_perm = t.labels[perm][rows]
                pred = svm_fold(G, train, test, y_perm, C=settings.C)
                if pred is not None:
                    null_folds[t.name][k, p] = metrics.balanced_accuracy(
                        y_perm[test][:, None], pred[:, None]
                    )[0]
    for t in plan.targets:
        has_null = ridge_null if t.probe == "ridge" else svm_null
        with np.errstate(invalid="ignore"):
            null = np.nanmean(null_folds[t.name], axis=0) if has_null else np.empty(0)
        out[t.name] = {
            "folds": {m: np.asarray(v) for m, v in fold_scores[t.name].items()},
            "null": null,
        }
    return out


def null_layers(n_layers: int, settings: ProbeSettings) -> list[int]:
    """The layers whose SVM nulls are refitted: evenly spaced, both ends included."""
    k = settings.svm_null_layers
    if k is None or k >= n_layers:
        return list(range(n_layers))
    if k <= 0 or settings.permutations == 0:
        return []
    return sorted({int(np.rint(x)) for x in np.linspace(0, n_layers - 1, k)})


def probe_cell(X: np.ndarray, plan: _Plan, *, svm_null: bool = True) -> dict:
    """All probes of one (component, layer) activation matrix ``X`` of shape (n, d)."""
    all_rows = np.arange(len(plan.groups))
    with_null = plan.settings.permutations > 0
    full = _cv_scores(
        X, all_rows, plan.fold, plan, ridge_null=with_null, svm_null=with_null and svm_null
    )
    halves = [
        _cv_scores(X, rows, fold, plan, ridge_null=False, svm_null=False)
        for rows, fold in plan.halves
    ]
    return {"full": full, "halves": halves}


@dataclass
class ProbeResults:
    """Long tables of one probe run (see ``core.store`` for their columns)."""

    fold_scores: pd.DataFrame
    null_scores: pd.DataFrame
    half_scores: pd.DataFrame
    targets: pd.DataFrame
    folds: np.ndarray
    settings: ProbeSettings
    extra: dict = field(default_factory=dict)


def _tables(cells: dict[tuple[str, int], dict], plan: _Plan) -> ProbeResults:
    fold_rows, null_rows, half_rows = [], [], []
    kinds = {t.name: t.probe for t in plan.targets}
    for (component, layer), result in cells.items():
        for target, res in result["full"].items():
            for metric, values in res["folds"].items():
                for k, value in enumerate(values):
                    fold_rows.append((target, component, layer, metric, k, float(value)))
            metric = metrics.PRIMARY[kinds[target]]
            for p, value in enumerate(res["null"]):
                null_rows.append((target, component, layer, metric, p, float(value)))
        for h, half in enumerate(result["halves"]):
            for target, res in half.items():
                metric = metrics.PRIMARY[kinds[target]]
                with np.errstate(invalid="ignore"):
                    value = float(np.nanmean(res["folds"][metric]))
                half_rows.append((target, component, layer, metric, h // 2, h % 2, value))
    keys = ["target", "component", "layer", "metric"]
    targets = pd.DataFrame(
        [
            {
                "target": t.name,
                "probe": t.probe,
                "n_classes": 0 if t.probe == "ridge" else len(np.unique(t.labels)),
                "chance_balanced_accuracy": metrics.chance("balanced_accuracy", t.labels)
                if t.probe == "svm"
                else np.nan,
                "chance_accuracy": metrics.chance("accuracy", t.labels)
                if t.probe == "svm"
                else np.nan,
                "positive_rate": float(np.mean(t.labels == 1))
                if t.probe == "svm" and len(np.unique(t.labels)) == 2
                else np.nan,
            }
            for t in plan.targets
        ]
    )
    return ProbeResults(
        fold_scores=pd.DataFrame(fold_rows, columns=[*keys, "fold", "score"]),
        null_scores=pd.DataFrame(null_rows, columns=[*keys, "perm", "score"]),
        half_scores=pd.DataFrame(half_rows, columns=[*keys, "split", "half", "score"]),
        targets=targets,
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
    """
    settings = settings or ProbeSettings()
    plan = make_plan(stimuli, settings)
    cells = [(c, layer) for c, acts in activations.items() for layer in range(acts.shape[1])]
    results: dict[tuple[str, int], dict] = {c: done[c] for c in cells if done and c in done}
    todo = [cell for cell in cells if cell not in results]
    n_layers = {c: acts.shape[1] for c, acts in activations.items()}
    jobs = (
        delayed(probe_cell)(
            np.asarray(activations[c][:, layer, :], dtype=np.float32),
            plan,
            svm_null=layer in null_layers(n_layers[c], settings),
        )
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
