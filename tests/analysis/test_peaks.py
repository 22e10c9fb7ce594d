"""Peaks and the double-peak test: known answers, and its false-positive rate on flat noise."""

from __future__ import annotations

import numpy as np

from core.analysis import (
    double_peak,
    find_curve_peaks,
)
from tests.analysis.synthetic import bump, make_curve


def test_single_bump_gives_one_peak_at_its_layer():
    scores, folds = make_curve(bump(30, 10, 2.5), se=0.005)
    peaks = find_curve_peaks(scores)
    assert len(peaks) == 1 and abs(peaks["layer"].iloc[0] - 10) <= 1
    assert double_peak(scores, folds).iloc[0]["verdict"] == "single peak"


def test_two_bumps_with_a_dip_give_a_double_peak_and_its_valley():
    profile = bump(40, 10, 2.5) + bump(40, 28, 3, base=0)
    scores, folds = make_curve(profile, se=0.005, seed=3)
    row = double_peak(scores, folds).iloc[0]
    assert row["double_peak"] and row["verdict"] == "double peak"
    assert abs(row["peak1_layer"] - 10) <= 1 and abs(row["peak2_layer"] - 28) <= 1
    assert 15 <= row["valley_layer"] <= 23
    assert row["dip_lo"] > 0 and row["p_value"] < 0.05


def test_flat_noisy_curves_rarely_claim_a_double_peak():
    claims = 0
    for seed in range(60):
        scores, folds = make_curve(np.full(30, 0.7), se=0.015, seed=seed)
        claims += bool(double_peak(scores, folds, n_sim=100).iloc[0]["double_peak"])
    assert claims <= 6  # alpha = 0.05, and at most 10 % here
