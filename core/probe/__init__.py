"""Grouped-CV linear probes: SVM for classes, ridge for ratings, with nulls and halves.

Names are imported on first use, so reading :class:`ProbeSettings` (the command line's
defaults) does not load scikit-learn.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DEFAULT_ALPHAS": "core.probe.settings",
    "ProbeSettings": "core.probe.settings",
    "FoldError": "core.probe.folds",
    "group_halves": "core.probe.folds",
    "outer_folds": "core.probe.folds",
    "label_permutations": "core.probe.permutations",
    "ProbeResults": "core.probe.grid",
    "probe_grid": "core.probe.grid",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'core.probe' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
