"""Controls: the gain over layer 0 and the surface-baseline verdict, on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis.controls import (
    MEAN,
    VERDICTS,
    controls_table,
    gain_curve,
    gain_scores,
    surface_test,
)
from core.analysis.summary import peak_index
from tests.analysis.synthetic import bump, make_curve


def _folds_frame(values: np.ndarray) -> pd.DataFrame:
    """fold_scores rows of a (n_folds, n_layers) array."""
    k, n = values.shape
    return pd.DataFrame(
        {"fold": np.repeat(np.arange(k), n), "layer": np.tile(np.arange(n), k)}
        | {"score": values.ravel()}
    )


def test_gain_is_the_fold_paired_difference_from_layer_0():
    rng = np.random.default_rng(0)
    curve = 0.7 + rng.normal(0, 0.03, size=(6, 12))
    base = 0.6 + rng.normal(0, 0.03, size=6)
    gain = gain_curve(_folds_frame(curve), pd.DataFrame({"fold": range(6), "score": base}))
    diff = curve - base[:, None]
    assert np.allclose(gain["gain"], diff.mean(axis=0))
    assert np.allclose(gain["gain_se"], diff.std(axis=0, ddof=1) / np.sqrt(6))
    # pairing removes the fold effect both sides share: a shared shift leaves SE 0
    shared = rng.normal(0, 0.05, size=6)
    paired = gain_curve(
        _folds_frame(0.8 + np.tile(shared[:, None], (1, 5))),
        pd.DataFrame({"fold": range(6), "score": 0.7 + shared}),
    )
    assert np.allclose(paired["gain"], 0.1) and np.allclose(paired["gain_se"], 0, atol=1e-12)


def test_the_gain_curve_peaks_where_the_raw_curve_does():
    """One number per fold subtracted moves no peak: the order test holds on gains."""
    rng = np.random.default_rng(1)
    for seed in range(20):
        scores, folds = make_curve(bump(30, 5 + seed, 3) + rng.normal(0, 0.02, 30), seed=seed)
        layer0 = folds[folds["layer"] == 0]
        gain = gain_curve(folds, layer0)
        assert peak_index(gain["gain"].to_numpy()) == peak_index(scores["score"].to_numpy())


def test_gain_scores_replace_scores_by_gains_of_the_same_target():
    s, f = make_curve(bump(10, 5, 2), se=0.005)
    a, g = make_curve(bump(10, 3, 2, height=0.1), se=0.005, seed=3)
    scores = pd.concat([s.assign(component="resid_pre"), a.assign(component="attn_out")])
    folds = pd.concat([f.assign(component="resid_pre"), g.assign(component="attn_out")])
    out = gain_scores(scores, folds)
    attn = out[out["component"] == "attn_out"].sort_values("layer")
    resid0 = f[f["layer"] == 0].set_index("fold")["score"]
    expected = g.pivot_table(index="fold", columns="layer", values="score").sub(resid0, axis=0)
    assert np.allclose(attn["score"], expected.mean(axis=0))
    assert (out["chance"] == 0).all() and len(out) == len(scores)


def test_surface_test_needs_a_layer_above_the_baseline_beyond_the_bonferroni_bound():
    rng = np.random.default_rng(2)
    base = 0.7 + rng.normal(0, 0.03, 6)
    above = _folds_frame(base[:, None] + bump(20, 10, 3, 0.2, 0) + rng.normal(0, 0.01, (6, 20)))
    equal = _folds_frame(base[:, None] + rng.normal(0, 0.01, (6, 20)))
    reference = pd.DataFrame({"fold": range(6), "score": base})
    won = surface_test(above, reference).iloc[0]
    assert won["verdict"] == VERDICTS[0] and abs(won["best_layer"] - 10) <= 2
    assert won["p_baseline"] < 0.05 and won["t_baseline"] > won["t_bound"]
    lost = surface_test(equal, reference).iloc[0]
    assert lost["verdict"] == VERDICTS[1] and lost["p_baseline"] > 0.05
    assert surface_test(equal, pd.DataFrame()).iloc[0]["verdict"] == VERDICTS[2]
    # a layer exactly at the baseline in every fold (both at chance) never hides a winner
    tied = base[:, None] + np.tile(np.r_[0.0, np.full(19, 0.3)], (6, 1))
    tied[:, 1:] += rng.normal(0, 0.01, (6, 19))
    assert surface_test(_folds_frame(tied), reference).iloc[0]["verdict"] == VERDICTS[0]


# ------------------------------------------------------------ planted, through the engine


def _frequency_set(n_per_class: int = 60):
    """Items whose label is word frequency (common vs rare words), and a second label that
    only the activations carry."""
    from wordfreq import top_n_list, zipf_frequency

    from core.stimuli import validate

    words = [w for w in top_n_list("en", 60000) if w.isalpha() and w.isascii() and len(w) > 3]
    common = [w for w in words if zipf_frequency(w, "en") > 5.0][:n_per_class]
    rare = [w for w in words if zipf_frequency(w, "en") < 3.3][:n_per_class]
    rng = np.random.default_rng(0)
    chosen = common + rare
    frame = pd.DataFrame(
        {
            "item_id": chosen,
            "text": [f"The {w}" for w in chosen],
            "group": chosen,
            "words": chosen,
            "is_common:binary": ["1"] * len(common) + ["0"] * len(rare),
            "hidden:binary": [str(v) for v in rng.permutation([0, 1] * n_per_class)],
        }
    )
    return validate(frame, name="planted")


def _word_tokenizer(texts):
    """Pieces of four characters: token counts that vary with length, as real ones do."""
    return {"input_ids": [[t[i : i + 4] for i in range(0, len(t), 4)] for t in texts]}


def test_a_target_carried_by_word_frequency_does_not_beat_its_surface_baseline():
    """Real engine, synthetic activations: frequency alone gives ``is_common``; only the
    activations carry ``hidden`` (at layers 2-3)."""
    from core.probe import ProbeSettings, probe_grid
    from core.probe.baselines import probe_baselines
    from core.stimuli.surface import surface_features

    stimuli = _frequency_set()
    n, n_layers, d = len(stimuli), 5, 16
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(n, n_layers, d)).astype(np.float32)
    hidden = stimuli.labels("hidden")
    acts[:, 2:, 0] += 2.5 * (hidden[:, None] - 0.5)
    settings = ProbeSettings(permutations=0, half_splits=0)
    results = probe_grid({"resid_pre": acts}, stimuli, settings)
    features = surface_features(stimuli, _word_tokenizer)
    assert features["frequency"].groupby(stimuli.labels("is_common")).mean().diff().iloc[-1] > 1.5
    base, base_folds = probe_baselines(features, stimuli, settings)
    # "The {word}": the position never varies, so it is no baseline here
    assert set(base["baseline"]) == {"frequency", "length", "tokens", "surface"}
    folds = results.fold_scores[results.fold_scores["metric"] == "balanced_accuracy"]
    folds = folds.assign(component="resid_pre")
    scores = folds.groupby(["target", "layer"], as_index=False)["score"].mean()
    scores = scores.assign(
        metric="balanced_accuracy", chance=0.5, n_layers=n_layers, component="resid_pre"
    )
    layer0 = folds[folds["layer"] == 0]
    table = controls_table(scores, folds, layer0, base, base_folds).set_index("target")
    common = table.loc["is_common"]
    assert common["baseline"] in ("frequency", "surface") and common["baseline_score"] > 0.85
    assert common["baseline_verdict"] == VERDICTS[1]
    assert common["above_baseline"] < 0
    carried = table.loc["hidden"]
    assert carried["baseline_verdict"] == VERDICTS[0] and carried["peak_layer"] >= 2
    assert carried["gain"] > 0.2 and carried["gain"] > 3 * carried["gain_se"]
    # the mean row averages each target's best baseline on the normalised scale
    assert table.loc[MEAN, "metric"] == "normalized"
    assert table.loc[MEAN, "baseline_score"] == pytest.approx(
        np.mean([(table.loc[t, "baseline_score"] - 0.5) / 0.5 for t in ("is_common", "hidden")]),
        abs=1e-9,
    )
