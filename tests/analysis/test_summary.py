"""One-number summaries of a layer curve, on a curve with a known answer."""

from __future__ import annotations

import pytest

from core.analysis import (
    curve_summary,
)
from tests.analysis.synthetic import bump, make_curve


def test_summary_of_a_symmetric_bump():
    scores, _ = make_curve(bump(31, 15, 3), se=0.001)
    row = curve_summary(scores).iloc[0]
    assert row["peak_layer"] == 15
    assert row["expected_layer"] == pytest.approx(15, abs=0.3)
    assert row["band_lo"] <= 15 <= row["band_hi"]
    assert row["area_above_chance"] > 0
