"""The probe grid on real SmolLM2 activations: its tables, predictions, resuming, Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from core.probe import (
    ProbeSettings,
    probe_grid,
    reference,
)
from core.probe.summary import summarize


@pytest.mark.slow
def test_grid_tables_and_summary(real):
    stimuli, acts = real
    arrays = {c: a[:, :4] for c, a in acts.items()}  # four layers keep it quick
    settings = ProbeSettings(permutations=20, half_splits=1)
    results = probe_grid(arrays, stimuli, settings)
    n_targets = len(stimuli.targets)
    assert len(results.fold_scores) == 3 * 4 * n_targets * 2 * 6
    # nulls at every layer, for every target, SVM and ridge alike
    assert len(results.null_scores) == 3 * 4 * n_targets * 20
    layers = results.null_scores.groupby("target")["layer"].unique()
    assert set(layers.index) == set(stimuli.targets)
    assert all(set(each) == {0, 1, 2, 3} for each in layers)
    assert set(results.half_scores["half"]) == {0, 1}
    scores = summarize(results, n_layers=30)
    assert len(scores) == 3 * 4 * n_targets * 2
    primary = scores[scores["is_primary"]]
    assert (primary["n_null"] == 20).all()
    assert (primary["p_value"] >= 1 / 21).all() and primary["p_value"].le(1).all()
    assert primary["null_lo"].le(primary["null_hi"]).all()
    assert (scores.loc[scores["metric"] == "balanced_accuracy", "chance"] == 0.5).all()
    # each cell's p-value comes from its own permutations
    row = primary.query("target == 'is_living' and component == 'mlp_out' and layer == 2")
    own = results.null_scores.query(
        "target == 'is_living' and component == 'mlp_out' and layer == 2"
    )["score"]
    expected = (1 + (own >= row["score"].iloc[0] - 1e-12).sum()) / (1 + len(own))
    assert row["p_value"].iloc[0] == pytest.approx(expected)
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
def test_item_predictions_give_back_the_stored_scores(real):
    """Per layer, accuracy and r recomputed from the per-stimulus predictions equal the
    stored fold-averaged scores once each fold is weighted by its size."""
    stimuli, acts = real
    arrays = {c: a[:, 10:12] for c, a in acts.items()}
    results = probe_grid(arrays, stimuli, ProbeSettings(permutations=0, half_splits=0))
    pred = results.predictions
    assert len(pred) == len(stimuli) * len(stimuli.targets) * 3 * 2
    assert set(pred["item_id"]) == set(stimuli.frame["item_id"])
    assert pred["decision"].notna().all() and pred["y_pred"].notna().all()
    folds = results.fold_scores.set_index(["target", "component", "layer", "metric", "fold"])
    folds = folds.sort_index()
    for (target, component, layer), rows in pred.groupby(["target", "component", "layer"]):
        continuous = stimuli.targets[target] == "continuous"
        sizes = rows.groupby("fold").size()
        if continuous:
            per_fold = rows.groupby("fold").apply(
                lambda f: np.corrcoef(f["y_true"], f["y_pred"])[0, 1], include_groups=False
            )
            stored = folds.loc[(target, component, layer, "pearson_r")]["score"]
            np.testing.assert_allclose(per_fold.sort_index(), stored.sort_index(), atol=1e-9)
        else:
            correct = (rows["y_true"] == rows["y_pred"]).mean()
            stored = folds.loc[(target, component, layer, "accuracy")]["score"].sort_index()
            weighted = float((stored.to_numpy() * sizes.sort_index().to_numpy()).sum())
            assert correct == pytest.approx(weighted / sizes.sum())
            # binary decisions carry the prediction in their sign
            assert ((rows["decision"] >= 0) == (rows["y_pred"] == 1)).all()


@pytest.mark.slow
def test_resumed_grid_equals_a_fresh_one(real):
    stimuli, acts = real
    arrays = {"resid_pre": acts["resid_pre"][:, :3]}
    settings = ProbeSettings(permutations=3, half_splits=1)
    kept = {}
    fresh = probe_grid(arrays, stimuli, settings, on_cell=lambda c, r, n, t: kept.setdefault(c, r))
    partial = {c: r for c, r in kept.items() if c[1] < 2}
    resumed = probe_grid(arrays, stimuli, settings, done=partial)
    assert fresh.fold_scores.equals(resumed.fold_scores)
    assert fresh.null_scores.equals(resumed.null_scores)
    assert fresh.predictions.equals(resumed.predictions)


@pytest.mark.slow
def test_dask_backend_gives_the_same_grid(real):
    pytest.importorskip("dask.distributed")
    stimuli, acts = real
    arrays = {"mlp_out": acts["mlp_out"][:, :3]}
    settings = ProbeSettings(permutations=2, half_splits=1)
    local = probe_grid(arrays, stimuli, settings, n_jobs=2)
    dask = probe_grid(arrays, stimuli, settings, n_jobs=2, backend="dask")
    pd.testing.assert_frame_equal(local.fold_scores, dask.fold_scores)
    pd.testing.assert_frame_equal(local.null_scores, dask.null_scores)
