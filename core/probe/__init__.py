"""Grouped-CV linear probes: SVM for classes, ridge for ratings, with nulls and halves."""

from core.probe.folds import FoldError, group_halves, group_permutations, outer_folds
from core.probe.grid import DEFAULT_ALPHAS, ProbeResults, ProbeSettings, probe_grid

__all__ = [
    "DEFAULT_ALPHAS",
    "FoldError",
    "ProbeResults",
    "ProbeSettings",
    "group_halves",
    "group_permutations",
    "outer_folds",
    "probe_grid",
]
