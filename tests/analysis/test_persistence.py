"""Anti-persistence: estimators, their nulls, verdicts that follow sign and null, robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import naive_rho, split_half_rho
from core.analysis.persistence import noise_model
from core.present import report
from tests.analysis.synthetic import bump, make_curve, simulate_run

KEYS = dict(model="m", stimulus_set="s", pooling="mean", component="attn_out")


def _frames(folds: np.ndarray, halves: np.ndarray) -> tuple[pd.DataFrame, ...]:
    """probe_scores, fold_scores and half_scores rows of one simulated run."""
    n_folds, n_targets, n_layers = folds.shape
    layer = np.arange(n_layers)
    scores = pd.concat(
        pd.DataFrame(
            {
                **KEYS,
                "target": f"t{t}",
                "metric": "balanced_accuracy",
                "layer": layer,
                "n_layers": n_layers,
                "score": folds[:, t].mean(axis=0),
                "score_se": folds[:, t].std(axis=0, ddof=1) / np.sqrt(n_folds),
                "chance": 0.5,
            }
        )
        for t in range(n_targets)
    )
    fold_rows = pd.concat(
        pd.DataFrame(
            {**KEYS, "target": f"t{t}", "metric": "balanced_accuracy", "fold": f}
            | {"layer": layer, "score": folds[f, t]}
        )
        for f in range(n_folds)
        for t in range(n_targets)
    )
    half_rows = pd.concat(
        pd.DataFrame(
            {**KEYS, "target": f"t{t}", "metric": "balanced_accuracy", "split": s, "half": h}
            | {"layer": layer, "score": halves[s, h, t]}
        )
        for s in range(halves.shape[0])
        for h in (0, 1)
        for t in range(n_targets)
    )
    return scores, fold_rows, half_rows


def _run(truth: np.ndarray, seed: int = 0, **kw) -> tuple[pd.DataFrame, ...]:
    folds, halves = simulate_run(np.random.default_rng(seed), truth, n_sims=1, **kw)
    return _frames(folds[0], halves[0])


def test_pure_noise_naive_rho_is_minus_half_split_half_is_zero():
    scores, folds, halves = _run(np.full((12, 30), 0.7), n_splits=2)
    naive = naive_rho(scores, folds, n_baseline=300).iloc[0]
    assert naive["rho"] == pytest.approx(-0.5, abs=0.12)
    assert naive["baseline_mean"] == pytest.approx(-0.5, abs=0.05)
    assert naive["verdict"] == "no anti-persistence beyond noise"
    assert naive["null_from"] == "fold noise"
    split = split_half_rho(halves, folds, n_baseline=300).iloc[0]
    assert split["rho"] == pytest.approx(0.0, abs=0.08)
    assert split["verdict"] == "no anti-persistence beyond noise"
    assert split["null_from"] == "fold noise" and split["n_splits"] == 2
    assert split_half_rho(halves, n_baseline=100).iloc[0]["null_from"].endswith("(weaker)")


def test_planted_zigzag_gives_a_clearly_negative_split_half_rho():
    truth = np.tile(0.7 + 0.02 * (-1) ** np.arange(30), (8, 1))
    scores, folds, halves = _run(truth)
    split = split_half_rho(halves, folds, n_baseline=300).iloc[0]
    assert split["rho"] < -0.5 and split["p_value"] < 0.01
    assert split["verdict"] == "anti-persistent beyond noise"
    naive = naive_rho(scores, folds, n_baseline=300).iloc[0]
    assert naive["rho"] < naive["baseline_lo"] and naive["verdict"] == split["verdict"]


def test_two_one_layer_dips_are_not_called_anti_persistent():
    # the case: a smooth curve with one-layer dips at 20 and 24 has a positive
    # naive ρ (≈ +0.38); the old trend-plus-noise baseline sat higher still (≈ +0.8) and
    # the verdict read "anti-persistent beyond noise" in 95 % of such curves
    profile = bump(30, 12, 5, height=0.25)
    profile[[20, 24]] -= 0.04
    rhos = []
    for seed in range(10):
        scores, folds = make_curve(profile, se=0.005, seed=seed)
        row = naive_rho(scores, folds, n_baseline=200, seed=seed).iloc[0]
        rhos.append(row["rho"])
        assert row["verdict"] == "no anti-persistence beyond noise"
    assert np.median(rhos) == pytest.approx(0.38, abs=0.15)


def test_a_verdict_carried_by_one_layer_is_reported_as_fragile():
    # flat noise plus a single alternating pair of layers: interpolating that layer alone
    # removes the anti-persistence, and the sink version (interpolated) says so too
    truth = np.full((8, 30), 0.7)
    truth[:, 20] -= 0.08
    truth[:, 21] += 0.08
    _, folds, halves = _run(truth, sd=0.01)
    row = split_half_rho(halves, folds, n_baseline=300, sink_layers=[20, 21]).iloc[0]
    assert row["verdict"] == "anti-persistent beyond noise"
    assert {"20", "21"} & set(row["fragile_layers"].split(", "))
    assert row["rho_drop1_hi"] > row["rho"]
    assert row["verdict_sinks"] == "no anti-persistence beyond noise" and row["p_sinks"] > 0.05
    sentence = report.persistence_sentences(
        pd.DataFrame([row]).assign(stimulus_set="s", component="attn_out", estimator="split-half")
    )[0]
    assert f"interpolating layer {row['fragile_layers']} alone changes the verdict" in sentence
    assert "with the sink layers interpolated" in sentence


def test_noise_model_recovers_layer_autocorrelation_and_target_correlation():
    rng = np.random.default_rng(0)
    folds, _ = simulate_run(
        rng, np.zeros((6, 40)), n_sims=1, n_groups=240, n_folds=30, phi=0.7, target_corr=0.6
    )
    deviations = folds[0] - folds[0].mean(axis=0)
    left, right = noise_model(deviations, max_lag=3)
    cov = left @ left.T
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert corr[~np.eye(6, dtype=bool)].mean() == pytest.approx(0.6, abs=0.1)
    assert (right @ right.T)[0, 1] == pytest.approx(0.7, abs=0.1)
