"""The probe grid on real SmolLM2 activations: its tables, resuming, and the Dask backend."""

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
    settings = ProbeSettings(permutations=5, half_splits=1, svm_null_layers=2)
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
    settings = ProbeSettings(permutations=3, half_splits=1)
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
    settings = ProbeSettings(permutations=2, half_splits=1)
    local = probe_grid(arrays, stimuli, settings, n_jobs=2)
    dask = probe_grid(arrays, stimuli, settings, n_jobs=2, backend="dask")
    pd.testing.assert_frame_equal(local.fold_scores, dask.fold_scores)
    pd.testing.assert_frame_equal(local.null_scores, dask.null_scores)
