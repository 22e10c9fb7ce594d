"""The probe engine against scikit-learn's own estimators, on real SmolLM2 activations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, balanced_accuracy_score, r2_score

from core.extract import extract
from core.probe import (
    DEFAULT_ALPHAS,
    FoldError,
    ProbeSettings,
    group_halves,
    group_permutations,
    metrics,
    outer_folds,
    probe_grid,
    reference,
    solvers,
)
from core.probe.summary import summarize
from tests.helpers import items_subset


@pytest.fixture(scope="module")
def real(smollm2):
    stimuli = items_subset(48)
    acts = extract(smollm2, stimuli, poolings=("mean",))["mean"]
    return stimuli, acts


def test_folds_keep_groups_whole_and_are_deterministic():
    groups = np.repeat(np.arange(20), 3).astype(str)
    fold = outer_folds(groups, n_folds=6, seed=3)
    for g in np.unique(groups):
        assert len(set(fold[groups == g])) == 1
    assert np.array_equal(fold, outer_folds(groups, n_folds=6, seed=3))
    assert set(fold) == set(range(6))
    with pytest.raises(FoldError, match="only 5 distinct groups; grouped 6-fold CV"):
        outer_folds(groups[:15], n_folds=6)


def test_permutations_move_whole_groups():
    groups = np.array(list("aabbbccdddee"))
    labels = np.arange(len(groups))
    for perm in group_permutations(groups, n_perm=20, seed=0):
        assert sorted(perm) == list(range(len(groups)))
        for g in np.unique(groups):
            moved = labels[perm][groups == g]
            source = groups[moved]
            assert len(set(source)) == 1  # one group's labels, kept together, in order
            assert (groups == source[0]).sum() == (groups == g).sum()
            assert list(moved) == sorted(moved)


def test_halves_split_groups_in_two():
    groups = np.repeat(np.arange(30), 2)
    for mask in group_halves(groups, n_splits=3, seed=0):
        assert set(groups[mask]).isdisjoint(groups[~mask])
        assert abs(mask.sum() - (~mask).sum()) <= 2


def test_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (50, 4))
    p = rng.integers(0, 3, (50, 4))
    for j in range(4):
        assert metrics.accuracy(y, p)[j] == pytest.approx(accuracy_score(y[:, j], p[:, j]))
        assert metrics.balanced_accuracy(y, p)[j] == pytest.approx(
            balanced_accuracy_score(y[:, j], p[:, j])
        )
    yc, pc = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    for j in range(3):
        assert metrics.r2(yc, pc)[j] == pytest.approx(r2_score(yc[:, j], pc[:, j]))
        assert metrics.pearson_r(yc, pc)[j] == pytest.approx(pearsonr(yc[:, j], pc[:, j])[0])


@pytest.mark.slow
@pytest.mark.parametrize("component, layer", [("resid_pre", 3), ("attn_out", 14), ("mlp_out", 25)])
def test_svm_equals_sklearn_on_real_activations(real, component, layer):
    stimuli, acts = real
    X = acts[component][:, layer]
    fold = outer_folds(stimuli.groups)
    for target, kind in stimuli.targets.items():
        if kind == "continuous":
            continue
        y = stimuli.labels(target)
        for k in range(6):
            train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            G = solvers.standardized_gram(X, train)
            ours = solvers.svm_fold(G, train, test, y)
            _, theirs = reference.svm_fold(X.astype(np.float64), y, train, test)
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("component, layer", [("resid_pre", 5), ("mlp_out", 20)])
def test_ridge_equals_sklearn_on_real_activations(real, component, layer):
    stimuli, acts = real
    X = acts[component][:, layer].astype(np.float64)
    fold = outer_folds(stimuli.groups)
    targets = [t for t, k in stimuli.targets.items() if k == "continuous"]
    assert targets
    for target in targets:
        y = stimuli.labels(target)
        for k in range(6):
            train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            G = solvers.standardized_gram(X, train)
            ours, best = solvers.ridge_fold(
                G, train, test, y[:, None], stimuli.groups, alphas=np.array(DEFAULT_ALPHAS)
            )
            theirs, alpha = reference.ridge_fold(
                X, y, stimuli.groups, train, test, alphas=DEFAULT_ALPHAS
            )
            assert DEFAULT_ALPHAS[best[0]] == alpha
            np.testing.assert_allclose(ours[:, 0], theirs, rtol=1e-6, atol=1e-9 * np.abs(y).max())


@pytest.mark.slow
def test_grid_tables_and_summary(real):
    stimuli, acts = real
    arrays = {c: a[:, :4] for c, a in acts.items()}  # four layers keep it quick
    settings = ProbeSettings(n_perm=5, n_half_splits=1, svm_null_layers=2)
    results = probe_grid(arrays, stimuli, settings)
    n_targets = len(stimuli.targets)
    n_svm = sum(k != "continuous" for k in stimuli.targets.values())
    assert len(results.fold_scores) == 3 * 4 * n_targets * 2 * 6
    # ridge nulls at every layer, SVM nulls at the first and last layer only
    assert len(results.null_scores) == 3 * 5 * (4 * (n_targets - n_svm) + 2 * n_svm)
    assert set(results.null_scores.query("target == 'is_animal'")["layer"]) == {0, 3}
    assert set(results.half_scores["half"]) == {0, 1}
    scores = summarize(results, n_layers=30)
    assert len(scores) == 3 * 4 * n_targets * 2
    primary = scores[scores["is_primary"]]
    assert (primary["p_value"] >= 1 / (1 + primary["n_null"])).all()
    assert primary["p_value"].le(1).all() and primary["n_null"].isin([10, 20]).all()
    assert primary["null_lo"].le(primary["null_hi"]).all()
    assert (scores.loc[scores["metric"] == "balanced_accuracy", "chance"] == 0.5).all()
    # fold scores agree with a direct sklearn computation of the same cell
    row = scores.query("component == 'resid_pre' and layer == 2 and metric == 'accuracy'").iloc[0]
    X = acts["resid_pre"][:, 2].astype(np.float64)
    y = stimuli.labels(row["target"])
    accs = []
    for k in range(6):
        train, test = np.flatnonzero(results.folds != k), np.flatnonzero(results.folds == k)
        accs.append(accuracy_score(y[test], reference.svm_fold(X, y, train, test)[1]))
    assert row["score"] == pytest.approx(np.mean(accs))
    assert row["score_se"] == pytest.approx(np.std(accs, ddof=1) / np.sqrt(6))


@pytest.mark.slow
def test_resumed_grid_equals_a_fresh_one(real):
    stimuli, acts = real
    arrays = {"resid_pre": acts["resid_pre"][:, :3]}
    settings = ProbeSettings(n_perm=3, n_half_splits=1)
    kept = {}
    fresh = probe_grid(arrays, stimuli, settings, on_cell=lambda c, r, n, t: kept.setdefault(c, r))
    partial = {c: r for c, r in kept.items() if c[1] < 2}
    resumed = probe_grid(arrays, stimuli, settings, done=partial)
    assert fresh.fold_scores.equals(resumed.fold_scores)
    assert fresh.null_scores.equals(resumed.null_scores)


@pytest.mark.slow
def test_dask_backend_gives_the_same_grid(real):
    pytest.importorskip("dask.distributed")
    stimuli, acts = real
    arrays = {"mlp_out": acts["mlp_out"][:, :3]}
    settings = ProbeSettings(n_perm=2, n_half_splits=1)
    local = probe_grid(arrays, stimuli, settings, n_jobs=2)
    dask = probe_grid(arrays, stimuli, settings, n_jobs=2, backend="dask")
    pd.testing.assert_frame_equal(local.fold_scores, dask.fold_scores)
    pd.testing.assert_frame_equal(local.null_scores, dask.null_scores)
