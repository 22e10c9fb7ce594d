"""The one peak definition, curve summaries and control targets, on known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import curve_summary, is_control, mean_curve, peak_index, property_targets
from tests.analysis.synthetic import bump, make_curve


def test_summary_of_a_symmetric_bump():
    scores, _ = make_curve(bump(31, 15, 3), se=0.001)
    row = curve_summary(scores).iloc[0]
    assert row["peak_layer"] == 15
    assert row["expected_layer"] == pytest.approx(15, abs=0.3)
    assert row["band_lo"] <= 15 <= row["band_hi"]
    assert row["area_above_chance"] > 0


def test_the_peak_is_the_smoothed_maximum_not_one_noisy_layer():
    values = [0.5, 0.6, 0.7, 0.72, 0.7, 0.6, 0.5, 0.8, 0.5, 0.5]
    assert int(np.argmax(values)) == 7 and peak_index(values) == 3
    assert peak_index(values, smooth=0) == 7  # without smoothing, the raw maximum
    assert peak_index([0.1, 0.2, 0.3, 0.4]) == 3  # a maximum at the end counts
    batch = np.array([values, values[::-1], [np.nan] * 10, [0.1, np.nan, 0.9, 0.2] + [0] * 6])
    assert list(peak_index(batch)) == [3, 6, -1, 2]  # NaN layers filled, all-NaN gives -1
    frame = pd.DataFrame({"layer": range(10), "score": values, "n_layers": 10, "chance": 0.5})
    assert curve_summary(frame).iloc[0]["peak_layer"] == 3  # the summary uses the same peak


def test_controls_are_recognised_and_never_averaged_into_a_property_curve():
    names = ["is_living", "frequency_zipf", "concreteness", "length", "n_tokens", "valid"]
    assert [n for n in names if is_control(n)] == ["frequency_zipf", "length", "n_tokens"]
    assert property_targets(names, controls=["valid"]) == ["is_living", "concreteness"]
    # a property set peaking at layer 10 and a frequency "target" peaking at 22: averaged
    # in, the control would move the set's peak (the 10 → 22)
    frames = [
        make_curve(bump(30, 10, 2, height=0.1), se=0.002, seed=t, target=f"p{t}")[0]
        for t in range(3)
    ]
    frames.append(make_curve(bump(30, 22, 2, height=0.45), se=0.002, target="frequency_zipf")[0])
    scores = pd.concat(frames)
    by = ("model", "stimulus_set", "pooling", "component")
    clean = mean_curve(scores, by=by)
    assert (clean["n_targets"] == 3).all() and peak_index(clean["score"].to_numpy()) == 10
    polluted = mean_curve(scores, by=by, targets=scores["target"].unique())
    assert (polluted["n_targets"] == 4).all() and peak_index(polluted["score"].to_numpy()) == 22
