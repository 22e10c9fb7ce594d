"""Findings with the controls: sink layers, shared dips at them, the analogy effect."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.present import report, views
from core.storage import store
from tests.analysis.synthetic import bump, make_curve

N_LAYERS, SINK = 24, 10


def _write(db, pooling: str, profiles: np.ndarray) -> None:
    """One pooling of ``analogies``: a target per row of ``profiles``, fold noise 0.01."""
    scores, folds = [], []
    for t, profile in enumerate(profiles):
        s, f = make_curve(profile, se=0.01, seed=t + 10 * len(pooling), target=f"t{t}")
        scores.append(s.assign(component="resid_pre", stimulus_set="analogies"))
        folds.append(f.assign(component="resid_pre"))
    scores, folds = pd.concat(scores), pd.concat(folds)
    columns = [c for c, _ in store._columns()["probe_scores"] if c not in store.RESULT_KEY]
    scores = scores.reindex(columns=columns).assign(probe="svm", run_id=pooling, n_perm=0)
    folds = folds.drop(columns=["model", "stimulus_set", "pooling"])
    run = {"run_id": pooling, "model": "m", "stimulus_set": "analogies", "pooling": pooling}
    store.write_run(db, run=run, tables={"probe_scores": scores, "fold_scores": folds})


def test_findings_flag_a_shared_dip_at_the_sink_and_measure_the_analogy_effect(tmp_path):
    db = tmp_path / "r.duckdb"
    rng = np.random.default_rng(0)
    centres = rng.uniform(8, 16, 6)
    half = np.stack([bump(N_LAYERS, c, 5.0, height=0.2, base=0.6) for c in centres])
    full = half + 0.1
    full[:, SINK] -= 0.12  # every target drops at the sink layer
    _write(db, "mean", full)
    _write(db, "mean_ab", half)
    _write(db, "mean_cd", half - 0.05)
    ratio = np.r_[np.full(SINK, 1.0), np.full(N_LAYERS - SINK, 80.0)]
    stats = pd.DataFrame(
        {"layer": range(N_LAYERS), "norm_ratio": ratio, "attn_pos0": 0.7, "n_attn_texts": 32}
    )
    store.write_sink_stats(db, model="m", stimulus_set="analogies", stats=stats)

    assert views.sinks_of(db, model="m") == [SINK]
    assert views.half_poolings_of(db, model="m", stimulus_set="analogies") == [
        "mean_ab",
        "mean_cd",
    ]
    tables = views.findings(db, model="m", components=("resid_pre",))
    assert tables["sinks"]["sink_layers"].tolist() == [str(SINK)]
    dips = tables["shared_dips"]
    flagged = dips[dips["shared"]]
    assert flagged["layer"].tolist() == [SINK] and flagged["at_sink"].all()
    effect = tables["analogy_effect"]
    assert effect["range"].tolist() == ["early", "middle", "late"]
    # normalised scale: 0.1 balanced accuracy over chance 0.5 is 0.2; the sink dip pulls
    # the middle third down
    early = effect.set_index("range")["effect"]
    assert abs(early["early"] - 0.2) < 0.03 and early["middle"] < early["early"]
    assert (tables["analogy_layers"]["better_half"] == "mean_ab").all()
    text = report.text(tables, model="m", pooling="mean")
    assert f"sink layer(s) {SINK}: first-token residual norm 80.0×" in text
    assert f"a dip shared across targets at layer {SINK} (6 of 6 targets dip" in text
    assert "an attention-sink layer" in text
    assert "full stimulus minus the better half" in text


def test_the_double_peak_sentence_names_a_valley_at_a_sink_layer():
    row = dict(
        stimulus_set="analogies",
        component="resid_pre",
        verdict="double peak",
        peak_layer=12.0,
        peak_depth=0.4,
        second_peak_layer=28.0,
        second_peak_depth=0.35,
        valley_layer=24.0,
        dip=0.05,
        n_sim=200,
        p_value=0.01,
    )
    at_sink = report.double_peak_sentences(pd.DataFrame([{**row, "valley_at_sink": True}]))
    assert "the valley at layer 24 coincides with an attention-sink layer" in at_sink[0]
    for other in ({**row, "valley_at_sink": False}, row):
        assert "attention-sink" not in report.double_peak_sentences(pd.DataFrame([other]))[0]
    shared = report.double_peak_sentences(pd.DataFrame([{**row, "valley_shared": 11 / 12}]))
    assert "the valley at layer 24 is a dip most targets share (92% of them" in shared[0]
    for other in ({**row, "valley_shared": float("nan")}, row):
        assert "targets share" not in report.double_peak_sentences(pd.DataFrame([other]))[0]
