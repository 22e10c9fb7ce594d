"""Analyses of layer curves: pure functions, DataFrames in and out (no database, no UI).

- ``depth``: relative depth and alignment of models of different depth
- ``summary``: peak, peak band, expected layer, area above chance; mean over targets
- ``peaks``: peaks, double peak and valley, with a test against the fold noise
- ``persistence``: anti-persistence of adjacent layers, naive and split-half, with baselines
- ``matrices``: layer × layer and target × target correlations; linear CKA between layers
- ``compare``: two models side by side; the items < pairs < analogies ordering
- ``stats``: Benjamini-Hochberg across layers × components
"""

from core.analysis.compare import hierarchy, peak_shift
from core.analysis.depth import align, relative_depth
from core.analysis.matrices import cka_matrix, layer_correlation, linear_cka, target_correlation
from core.analysis.peaks import double_peak, find_curve_peaks
from core.analysis.persistence import naive_rho, split_half_rho
from core.analysis.stats import mark_significant
from core.analysis.summary import CURVE_KEYS, curve_summary, mean_curve

__all__ = [
    "CURVE_KEYS",
    "align",
    "cka_matrix",
    "curve_summary",
    "double_peak",
    "find_curve_peaks",
    "hierarchy",
    "layer_correlation",
    "linear_cka",
    "mark_significant",
    "mean_curve",
    "naive_rho",
    "peak_shift",
    "relative_depth",
    "split_half_rho",
    "target_correlation",
]
