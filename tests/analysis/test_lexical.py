"""How much of a peak is already in the token embeddings, on curves with known shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import lexical_share
from core.analysis.lexical import VERDICTS
from tests.analysis.synthetic import bump, make_curve


def test_a_property_present_at_layer_0_is_called_lexical():
    # is_living-like: 0.9 balanced accuracy at layer 0, a few points more at its peak
    profile = np.full(30, 0.9) + bump(30, 23, 4, height=0.03, base=0)
    scores, folds = make_curve(profile, se=0.005)
    row = lexical_share(scores, folds).iloc[0]
    assert row["verdict"] == VERDICTS[0] and row["share"] > 0.85
    assert abs(row["peak_layer"] - 23) <= 1 and row["p_lexical"] < 0.01


def test_a_property_built_later_is_not():
    scores, folds = make_curve(bump(30, 14, 3, height=0.3), se=0.005)
    row = lexical_share(scores, folds).iloc[0]
    assert row["verdict"] == VERDICTS[1] and row["share"] == pytest.approx(0, abs=0.1)


def test_another_component_is_measured_against_resid_pre_layer_0():
    attn, attn_folds = make_curve(bump(30, 10, 3, height=0.3), se=0.005)
    _, resid_folds = make_curve(np.full(30, 0.75), se=0.005, seed=1)
    layer0 = resid_folds[resid_folds["layer"] == 0][["fold", "score"]]
    row = lexical_share(attn, attn_folds, layer0=layer0).iloc[0]
    # 0.25 of 0.30 above chance at layer 0 of resid_pre: mostly lexical
    assert row["share"] == pytest.approx(0.5 / 0.6, abs=0.08) and row["verdict"] == VERDICTS[0]
    flat = lexical_share(*make_curve(np.full(30, 0.5), se=0.005, seed=2)).iloc[0]
    assert flat["verdict"] in (VERDICTS[2], VERDICTS[3])
    assert isinstance(flat["n_folds"], int | np.integer) and isinstance(row, pd.Series)
