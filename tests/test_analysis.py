"""Analyses on synthetic curves with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from core.analysis import (
    align,
    cka_matrix,
    curve_summary,
    double_peak,
    find_curve_peaks,
    hierarchy,
    layer_correlation,
    linear_cka,
    mark_significant,
    mean_curve,
    naive_rho,
    peak_shift,
    relative_depth,
    split_half_rho,
)


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


def test_relative_depth_and_alignment_keep_original_points():
    assert list(relative_depth([0, 14, 28], 29)) == [0.0, 0.5, 1.0]
    a, _ = make_curve(bump(28, 8, 3), model="small")
    b, _ = make_curve(bump(80, 20, 6), model="large")
    aligned = align(pd.concat([a, b]), by=["model"])
    for model, part in aligned.groupby("model"):
        original = part[part["original"]]
        assert len(original) == (28 if model == "small" else 80)
        source = a if model == "small" else b
        np.testing.assert_allclose(original["score"].to_numpy(), source["score"].to_numpy())
    assert aligned.groupby("model")["relative_depth"].nunique().nunique() == 1  # one grid


def test_summary_of_a_symmetric_bump():
    scores, _ = make_curve(bump(31, 15, 3), se=0.001)
    row = curve_summary(scores).iloc[0]
    assert row["peak_layer"] == 15
    assert row["expected_layer"] == pytest.approx(15, abs=0.3)
    assert row["band_lo"] <= 15 <= row["band_hi"]
    assert row["area_above_chance"] > 0


def test_single_bump_gives_one_peak_at_its_layer():
    scores, folds = make_curve(bump(30, 10, 2.5), se=0.005)
    peaks = find_curve_peaks(scores)
    assert len(peaks) == 1 and abs(peaks["layer"].iloc[0] - 10) <= 1
    assert double_peak(scores, folds).iloc[0]["verdict"] == "single peak"


def test_two_bumps_with_a_dip_give_a_double_peak_and_its_valley():
    profile = bump(40, 10, 2.5) + bump(40, 28, 3, base=0)
    scores, folds = make_curve(profile, se=0.005, seed=3)
    row = double_peak(scores, folds).iloc[0]
    assert row["double_peak"] and row["verdict"] == "double peak"
    assert abs(row["peak1_layer"] - 10) <= 1 and abs(row["peak2_layer"] - 28) <= 1
    assert 15 <= row["valley_layer"] <= 23
    assert row["dip_lo"] > 0 and row["p_value"] < 0.05


def test_flat_noisy_curves_rarely_claim_a_double_peak():
    claims = 0
    for seed in range(60):
        scores, folds = make_curve(np.full(30, 0.7), se=0.015, seed=seed)
        claims += bool(double_peak(scores, folds, n_sim=100).iloc[0]["double_peak"])
    assert claims <= 6  # alpha = 0.05, and at most 10 % here


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


def test_linear_cka_identity_rotation_and_scale():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 20))
    Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    assert linear_cka(X, X) == pytest.approx(1.0)
    assert linear_cka(X, 3.5 * X @ Q) == pytest.approx(1.0)
    assert linear_cka(X, rng.normal(size=(50, 20))) < 0.6
    acts = np.stack([X, X @ Q, rng.normal(size=(50, 20))], axis=1)
    matrix = cka_matrix(acts)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert matrix.iloc[0, 1] == pytest.approx(1.0) and matrix.iloc[0, 2] < 0.6
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)


def test_layer_correlation_shows_alternation_as_a_checkerboard():
    rows = []
    rng = np.random.default_rng(1)
    for t in range(12):
        phase = rng.normal(size=10)
        for layer in range(10):
            rows.append(
                dict(
                    target=f"t{t}",
                    layer=layer,
                    score=0.6 + 0.1 * phase[layer] * (-1) ** layer,
                    chance=0.5,
                )
            )
    matrix = layer_correlation(pd.DataFrame(rows), zscore=True)
    assert matrix.shape == (10, 10)
    np.testing.assert_allclose(np.diag(matrix), 1.0)


def test_benjamini_hochberg_matches_hand_computed_and_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    frame = pd.DataFrame({"target": "t", "layer": range(5), "p_value": p})
    out = mark_significant(frame, family=("target",))
    # by hand: sorted p 0.005,0.01,0.03,0.04,0.5 → p*m/rank = .025,.025,.05,.05,.5
    np.testing.assert_allclose(out["q_value"], [0.025, 0.05, 0.05, 0.025, 0.5])
    np.testing.assert_allclose(out["q_value"], false_discovery_control(p))
    assert list(out["significant"]) == [True, True, True, True, False]


def test_peak_shift_and_hierarchy_on_planted_curves():
    a_scores, a_folds = make_curve(bump(28, 7, 2), se=0.005, model="small")
    b_scores, b_folds = make_curve(bump(80, 50, 5), se=0.005, model="large")
    shift = peak_shift(a_scores, a_folds, b_scores, b_folds, n_boot=300).iloc[0]
    assert shift["peak_depth_a"] == pytest.approx(7 / 27, abs=0.04)
    assert shift["peak_depth_b"] == pytest.approx(50 / 79, abs=0.03)
    assert shift["shift_lo"] > 0 and shift["p_same"] < 0.05
    frames = []
    for name, centre in (("items", 5), ("pairs", 12), ("analogies", 19)):
        for t in range(5):
            s, _ = make_curve(
                bump(28, centre + t % 2, 2),
                se=0.005,
                seed=t,
                target=f"{name}{t}",
                stimulus_set=name,
            )
            frames.append(s)
    order = hierarchy(pd.concat(frames), n_boot=300)
    assert list(order["stimulus_set"]) == ["items", "pairs", "analogies"]
    assert order["holds"].all() and order["p_order"].iloc[0] > 0.95
    assert order["holds_peak"].all() and order["p_order_peak"].iloc[0] > 0.95
    mean = mean_curve(pd.concat(frames))
    assert set(mean["stimulus_set"]) == {"items", "pairs", "analogies"}
    assert (mean["n_targets"] == 5).all()


def test_findings_report_the_planted_peaks_double_peak_and_order():
    from core.analysis.findings import findings

    scores, folds = [], []
    centres = {"items": 5, "pairs": 12, "analogies": 19}
    for name, centre in centres.items():
        for t in range(4):
            profile = bump(28, centre, 2)
            if name == "analogies":  # a second peak with a clear valley
                profile = profile + bump(28, 8, 1.5, base=0)
            s, f = make_curve(profile, se=0.004, seed=t, target=f"{name}{t}", stimulus_set=name)
            scores.append(s)
            folds.append(f.assign(metric="balanced_accuracy"))
    tables = findings(pd.concat(scores), pd.concat(folds), pd.DataFrame(), n_sim=100, n_boot=200)
    curves = tables["curves"].set_index("stimulus_set")
    for name, centre in centres.items():
        assert abs(curves.loc[name, "peak_layer"] - centre) <= 1
        assert curves.loc[name, "n_targets"] == 4
    verdicts = tables["double_peaks"].set_index("stimulus_set")["verdict"]
    assert verdicts["items"] == "single peak" and verdicts["analogies"] == "double peak"
    assert tables["hierarchy"]["holds_peak"].all()
    assert set(tables["persistence"]["estimator"]) == {"naive"}  # no halves were given
