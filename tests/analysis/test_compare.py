"""Two models' peak depths and the items < pairs < analogies order, on planted curves."""

from __future__ import annotations

import pandas as pd
import pytest

from core.analysis import (
    hierarchy,
    mean_curve,
    peak_shift,
)
from tests.analysis.synthetic import bump, make_curve


def test_peak_shift_and_hierarchy_on_planted_curves():
    a_scores, a_folds = make_curve(bump(28, 7, 2), se=0.005, model="small")
    b_scores, b_folds = make_curve(bump(80, 50, 5), se=0.005, model="large")
    shift = peak_shift(a_scores, a_folds, b_scores, b_folds, n_boot=300).iloc[0]
    assert shift["peak_depth_a"] == pytest.approx(7 / 27, abs=0.04)
    assert shift["peak_depth_b"] == pytest.approx(50 / 79, abs=0.03)
    assert shift["shift_lo"] > 0 and shift["p_same"] < 0.05
    frames = []
    for name, centre in (("items", 5), ("pairs", 12), ("analogies", 19)):
        for t in range(5):
            s, _ = make_curve(
                bump(28, centre + t % 2, 2),
                se=0.005,
                seed=t,
                target=f"{name}{t}",
                stimulus_set=name,
            )
            frames.append(s)
    order = hierarchy(pd.concat(frames), n_boot=300)
    assert list(order["stimulus_set"]) == ["items", "pairs", "analogies"]
    assert order["holds"].all() and order["p_order"].iloc[0] > 0.95
    assert order["holds_peak"].all() and order["p_order_peak"].iloc[0] > 0.95
    mean = mean_curve(pd.concat(frames))
    assert set(mean["stimulus_set"]) == {"items", "pairs", "analogies"}
    assert (mean["n_targets"] == 5).all()
