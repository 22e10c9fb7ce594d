"""Analyses of layer curves: pure functions, DataFrames in and out (no database, no UI).

- ``depth``: relative depth and alignment of models of different depth
- ``summary``: the one peak definition (:func:`peak_index`), peak band, expected layer, area
  above chance; which targets are controls; the mean curve over a set's property targets
- ``peaks``: peaks, double peak and valley, with a test against the fold noise
- ``lexical``: how much of a peak is already decodable from the token embeddings
- ``controls``: the gain over layer 0 and the verdict against the surface baselines
- ``persistence``: anti-persistence of adjacent layers, naive and split-half, with nulls
- ``resample``: curves recomputed from per-stimulus predictions under a group bootstrap
- ``matrices``: layer × layer and target × target correlations; linear CKA between layers
- ``compare``: two models side by side; which sets peak before which
- ``stats``: Benjamini-Hochberg across layers × components
- ``findings``: all of the above for one model's stored sets
"""

from core.analysis.compare import hierarchy, order_test, order_verdict, peak_shift
from core.analysis.depth import align, relative_depth
from core.analysis.lexical import lexical_share
from core.analysis.matrices import cka_matrix, layer_correlation, linear_cka, target_correlation
from core.analysis.peaks import double_peak, find_curve_peaks
from core.analysis.persistence import naive_rho, split_half_rho
from core.analysis.stats import mark_significant
from core.analysis.summary import (
    CURVE_KEYS,
    PEAK_SMOOTH,
    curve_summary,
    is_control,
    mean_curve,
    peak_index,
    property_targets,
)

__all__ = [
    "CURVE_KEYS",
    "PEAK_SMOOTH",
    "align",
    "cka_matrix",
    "curve_summary",
    "double_peak",
    "find_curve_peaks",
    "hierarchy",
    "is_control",
    "layer_correlation",
    "lexical_share",
    "linear_cka",
    "mark_significant",
    "mean_curve",
    "naive_rho",
    "order_test",
    "order_verdict",
    "peak_index",
    "peak_shift",
    "property_targets",
    "relative_depth",
    "split_half_rho",
    "target_correlation",
]
