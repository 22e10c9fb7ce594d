"""Relative depth and the alignment of curves of models of different depth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis import (
    align,
    relative_depth,
)
from tests.analysis.synthetic import bump, make_curve


def test_relative_depth_and_alignment_keep_original_points():
    assert list(relative_depth([0, 14, 28], 29)) == [0.0, 0.5, 1.0]
    a, _ = make_curve(bump(28, 8, 3), model="small")
    b, _ = make_curve(bump(80, 20, 6), model="large")
    aligned = align(pd.concat([a, b]), by=["model"])
    for model, part in aligned.groupby("model"):
        original = part[part["original"]]
        assert len(original) == (28 if model == "small" else 80)
        source = a if model == "small" else b
        np.testing.assert_allclose(original["score"].to_numpy(), source["score"].to_numpy())
    assert aligned.groupby("model")["relative_depth"].nunique().nunique() == 1  # one grid
