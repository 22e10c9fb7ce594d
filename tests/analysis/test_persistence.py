"""Anti-persistence: the naive estimator's bias on noise and the split-half estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import (
    naive_rho,
    split_half_rho,
)


def _noise_halves(n_curves=20, n_layers=30, splits=2, seed=0, zigzag=0.0):
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_curves):
        truth = 0.7 + zigzag * (-1) ** np.arange(n_layers)
        for split in range(splits):
            for half in (0, 1):
                values = truth + rng.normal(0, 0.02, n_layers)
                rows += [
                    dict(
                        model="m",
                        stimulus_set="s",
                        pooling="mean",
                        component="attn_out",
                        target=f"t{t}",
                        metric="balanced_accuracy",
                        split=split,
                        half=half,
                        layer=layer,
                        score=v,
                    )
                    for layer, v in enumerate(values)
                ]
    return pd.DataFrame(rows)


def test_pure_noise_naive_rho_is_minus_half_split_half_is_zero():
    halves = _noise_halves()
    curves = halves[(halves["split"] == 0) & (halves["half"] == 0)].assign(
        score_se=0.02, n_layers=30
    )
    naive = naive_rho(curves, n_baseline=200).iloc[0]
    assert naive["rho"] == pytest.approx(-0.5, abs=0.08)
    assert naive["verdict"] == "indistinguishable from noise"
    split = split_half_rho(halves, n_baseline=200).iloc[0]
    assert split["rho"] == pytest.approx(0.0, abs=0.08)
    assert split["verdict"] == "indistinguishable from noise"


def test_planted_zigzag_gives_a_clearly_negative_split_half_rho():
    split = split_half_rho(_noise_halves(zigzag=0.03), n_baseline=200).iloc[0]
    assert split["rho"] < -0.5 and split["p_value"] < 0.01
    assert split["verdict"] == "anti-persistent beyond noise"
