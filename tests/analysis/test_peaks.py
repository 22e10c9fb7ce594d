"""Peaks and the double-peak test on known answers; one peak across every consumer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis import curve_summary, double_peak, find_curve_peaks, peak_index
from core.analysis.findings import mean_fold_curve
from tests.analysis.synthetic import bump, make_curve


def test_single_bump_gives_one_peak_at_its_layer():
    scores, folds = make_curve(bump(30, 10, 2.5), se=0.005)
    peaks = find_curve_peaks(scores)
    assert len(peaks) == 1 and abs(peaks["layer"].iloc[0] - 10) <= 1
    row = double_peak(scores, folds).iloc[0]
    assert row["verdict"] == "single peak" and row["peak_layer"] == peaks["layer"].iloc[0]


def test_two_bumps_with_a_dip_give_a_double_peak_and_its_valley():
    profile = bump(40, 10, 2.5) + bump(40, 28, 3, height=0.25, base=0)
    scores, folds = make_curve(profile, se=0.005, seed=3)
    row = double_peak(scores, folds).iloc[0]
    assert row["double_peak"] and row["verdict"] == "double peak"
    assert abs(row["peak_layer"] - 10) <= 1 and abs(row["second_peak_layer"] - 28) <= 1
    assert 15 <= row["valley_layer"] <= 23
    assert row["dip_lo"] > 0 and row["p_value"] < 0.05 and row["n_sim"] == 200


def test_a_curve_at_chance_has_no_peak_in_at_least_95_percent_of_cases():
    # a peak counts above chance by the Bonferroni bound over layers, not 2 SE at each
    verdicts = [
        double_peak(*make_curve(np.full(20, 0.5), se=0.01, seed=s)).iloc[0]["verdict"]
        for s in range(40)
    ]
    assert verdicts.count("no peak") >= 38


def test_every_consumer_names_the_same_peak_layer():
    # the case: a curve whose raw maximum (13) and most prominent smoothed peak
    # (17) differed; now the peaks table, find_curve_peaks, double_peak and the mean-curve
    # summary all give one layer, the smoothed maximum
    rng = np.random.default_rng(5)
    frames, fold_frames = [], []
    profile = bump(30, 17, 3, height=0.2) + bump(30, 8, 2, height=0.12, base=0)
    for t in range(4):
        s, f = make_curve(profile + rng.normal(0, 0.01, 30), se=0.01, seed=t, target=f"t{t}")
        frames.append(s)
        fold_frames.append(f)
    scores, folds = pd.concat(frames), pd.concat(fold_frames)
    curve, fold_curve = mean_fold_curve(scores, folds)
    layer = int(curve["layer"].iloc[peak_index(curve["score"].to_numpy())])
    assert curve_summary(curve).iloc[0]["peak_layer"] == layer
    assert find_curve_peaks(curve)["layer"].iloc[0] == layer
    assert double_peak(curve, fold_curve).iloc[0]["peak_layer"] == layer
