"""Which sets peak before which: the stimulus bootstrap, its fallback, and two models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import hierarchy, mean_curve, order_test, order_verdict, peak_shift
from core.analysis.compare import FOLD_BOOTSTRAP, NO_RESAMPLING, STIMULUS_BOOTSTRAP
from tests.analysis.synthetic import bump, make_curve, prediction_rows, simulate_predictions

CENTRES = {"items": 5, "pairs": 12, "analogies": 19}


def _planted(centres: dict, *, seed: int = 0, with_control: bool = False):
    """probe_scores, fold_scores, item_predictions and folds rows of planted sets."""
    rng = np.random.default_rng(seed)
    scores, folds, predictions, groups = [], [], [], []
    for name, centre in centres.items():
        accuracy = np.tile(bump(28, centre, 3, height=0.25, base=0.6), (2, 1))
        y_true, y_pred, group = simulate_predictions(rng, accuracy, n_groups=40, per_group=6)
        rows, assigned = prediction_rows(y_true, y_pred, group, stimulus_set=name)
        predictions.append(rows)
        groups.append(assigned)
        for t in range(2):
            s, f = make_curve(accuracy[t], se=0.01, seed=t, target=f"t{t}", stimulus_set=name)
            scores.append(s)
            folds.append(f)
        if with_control:  # a frequency "target" peaking late, strongly: never averaged in
            s, f = make_curve(bump(28, 26, 2, height=0.45), se=0.01, target="frequency_zipf")
            scores.append(s.assign(stimulus_set=name))
            folds.append(f.assign(stimulus_set=name))
    return (pd.concat(x, ignore_index=True) for x in (scores, folds, predictions, groups))


def test_planted_order_is_found_by_the_stimulus_bootstrap():
    scores, _, predictions, groups = _planted(CENTRES, with_control=True)
    out = hierarchy(scores, predictions=predictions, groups=groups, n_boot=300)
    sets, pairs = out["sets"], out["pairs"]
    assert list(sets["stimulus_set"]) == ["items", "pairs", "analogies"]
    assert (sets["n_targets"] == 2).all() and (sets["n_resampled"] == 40).all()
    assert list(sets["peak_layer"]) == [5, 12, 19] and (sets["method"] == STIMULUS_BOOTSTRAP).all()
    assert (sets["peak_lo"] <= sets["peak_depth"]).all() and (
        sets["peak_depth"] <= sets["peak_hi"]
    ).all()
    assert list(pairs["verdict"]) == [
        "items peaks before pairs",
        "items peaks before analogies",
        "pairs peaks before analogies",
    ]
    assert (pairs["shift_lo"] > 0).all() and (pairs["p_before"] > 0.95).all()
    assert order_verdict(pairs) == "holds"


def test_equal_peaks_are_not_determined_and_the_fallback_is_labelled_weaker():
    scores, folds, predictions, groups = _planted({"items": 12, "pairs": 12})
    pairs = hierarchy(scores, predictions=predictions, groups=groups, n_boot=300)["pairs"]
    assert pairs["verdict"].iloc[0] == "not determined"
    assert pairs["shift_lo"].iloc[0] <= 0 <= pairs["shift_hi"].iloc[0]
    assert order_verdict(pairs) == "not determined"
    fallback = hierarchy(scores, folds=folds, n_boot=300)
    assert (fallback["sets"]["method"] == FOLD_BOOTSTRAP).all()
    assert (fallback["sets"]["n_resampled"] == 6).all()
    assert fallback["pairs"]["method"].iloc[0] == FOLD_BOOTSTRAP
    bare = hierarchy(scores, n_boot=50)
    assert bare["pairs"]["verdict"].iloc[0].startswith("not determined")
    assert (bare["sets"]["method"] == NO_RESAMPLING).all()


def test_a_reversed_pair_makes_the_order_fail():
    scores, _, predictions, groups = _planted({"items": 18, "pairs": 6, "analogies": 22})
    pairs = hierarchy(scores, predictions=predictions, groups=groups, n_boot=300)["pairs"]
    assert pairs["verdict"].iloc[0] == "pairs peaks before items"
    assert order_verdict(pairs) == "does not hold"


def test_order_test_on_known_bootstrap_distributions():
    rng = np.random.default_rng(0)
    before = order_test(rng.normal(0.3, 0.02, 1000), rng.normal(0.5, 0.02, 1000))
    assert before["order"] == "before" and before["p_before"] > 0.99
    assert before["shift_lo"] == pytest.approx(0.2 - 1.96 * 0.02 * np.sqrt(2), abs=0.01)
    tied = order_test(np.full(100, 0.4), np.full(100, 0.4))
    assert tied["order"] == "not determined" and tied["p_tie"] == 1.0


def test_peak_shift_between_two_models_of_different_depth():
    a_scores, a_folds = make_curve(bump(28, 7, 2), se=0.005, model="small")
    b_scores, b_folds = make_curve(bump(80, 50, 5), se=0.005, model="large")
    shift = peak_shift(a_scores, a_folds, b_scores, b_folds, n_boot=300).iloc[0]
    assert shift["peak_depth_a"] == pytest.approx(7 / 27, abs=0.04)
    assert shift["peak_depth_b"] == pytest.approx(50 / 79, abs=0.03)
    assert shift["shift_lo"] > 0 and shift["p_same"] < 0.05
    assert shift["method"] == FOLD_BOOTSTRAP
    mean = mean_curve(pd.concat([a_scores, b_scores]))
    assert set(mean["model"]) == {"small", "large"}
