"""Synthetic layer curves with known answers, shaped like ``probe_scores`` and ``fold_scores``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_curve(
    mean: np.ndarray,
    *,
    se: float = 0.01,
    n_folds: int = 6,
    seed: int = 0,
    target: str = "t",
    model: str = "m",
    stimulus_set: str = "items",
    chance=0.5,
):
    """probe_scores and fold_scores rows of one curve with the given true profile."""
    rng = np.random.default_rng(seed)
    n_layers = len(mean)
    folds = mean + rng.normal(0, se * np.sqrt(n_folds), size=(n_folds, n_layers))
    keys = dict(
        model=model,
        stimulus_set=stimulus_set,
        pooling="mean",
        target=target,
        component="attn_out",
        metric="balanced_accuracy",
    )
    scores = pd.DataFrame(
        {
            **keys,
            "layer": np.arange(n_layers),
            "n_layers": n_layers,
            "score": folds.mean(0),
            "score_se": folds.std(0, ddof=1) / np.sqrt(n_folds),
            "chance": chance,
            "is_primary": True,
        }
    )
    fold_rows = pd.DataFrame(
        [
            {**keys, "layer": layer, "fold": f, "score": folds[f, layer]}
            for f in range(n_folds)
            for layer in range(n_layers)
        ]
    )
    return scores, fold_rows


def bump(n, centre, width, height=0.3, base=0.5):
    x = np.arange(n)
    return base + height * np.exp(-((x - centre) ** 2) / (2 * width**2))
