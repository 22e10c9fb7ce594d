"""Benjamini-Hochberg across layers × components against SciPy and a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from core.analysis import (
    mark_significant,
)


def test_benjamini_hochberg_matches_hand_computed_and_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    frame = pd.DataFrame({"target": "t", "layer": range(5), "p_value": p})
    out = mark_significant(frame, family=("target",))
    # by hand: sorted p 0.005,0.01,0.03,0.04,0.5 → p*m/rank = .025,.025,.05,.05,.5
    np.testing.assert_allclose(out["q_value"], [0.025, 0.05, 0.05, 0.025, 0.5])
    np.testing.assert_allclose(out["q_value"], false_discovery_control(p))
    assert list(out["significant"]) == [True, True, True, True, False]
