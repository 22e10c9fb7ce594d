"""Findings read from a results database: stored per-stimulus predictions drive the order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.present import views
from core.storage import store
from tests.analysis.synthetic import bump, make_curve, prediction_rows, simulate_predictions


def _write(db, name: str, centre: int, rng, *, with_predictions: bool) -> None:
    """One planted set: probe and fold scores, and optionally predictions and groups."""
    accuracy = np.tile(bump(20, centre, 2, height=0.25, base=0.6), (2, 1))
    scores, folds = [], []
    for t in range(2):
        s, f = make_curve(accuracy[t], se=0.01, seed=t, target=f"t{t}", stimulus_set=name)
        scores.append(s)
        folds.append(f)
    scores, folds = pd.concat(scores), pd.concat(folds)
    columns = [c for c, _ in store._columns()["probe_scores"] if c not in store.RESULT_KEY]
    scores = scores.reindex(columns=columns).assign(probe="svm", run_id=name, n_perm=0)
    folds = folds.drop(columns=["model", "stimulus_set", "pooling"])
    tables = {"probe_scores": scores, "fold_scores": folds}
    if with_predictions:
        y_true, y_pred, group = simulate_predictions(rng, accuracy, n_groups=30, per_group=4)
        rows, assigned = prediction_rows(y_true, y_pred, group, stimulus_set=name)
        tables["item_predictions"] = rows.drop(columns=["model", "stimulus_set", "pooling"])
        tables["folds"] = assigned.drop(columns=["model", "stimulus_set", "pooling"]).assign(
            row_index=range(len(assigned))
        )
    run = {"run_id": name, "model": "m", "stimulus_set": name, "pooling": "mean"}
    store.write_run(db, run=run, tables=tables)


def test_findings_resample_stimuli_when_predictions_are_stored(tmp_path):
    rng = np.random.default_rng(0)
    db = tmp_path / "r.duckdb"
    _write(db, "items", 4, rng, with_predictions=True)
    _write(db, "pairs", 13, rng, with_predictions=True)
    tables = views.findings(db, model="m", components=("attn_out",))
    sets = tables["hierarchy"]
    assert (sets["method"] == "stimulus bootstrap").all() and (sets["n_resampled"] == 30).all()
    assert tables["order"]["verdict"].iloc[0] == "items peaks before pairs"
    # a result without predictions (imported from an older database) falls back, labelled
    _write(db, "pairs", 13, rng, with_predictions=False)
    pairs = views.findings(db, model="m", components=("attn_out",))["order"]
    assert pairs["method"].iloc[0] == "fold bootstrap (weaker)"
