"""A model's findings recover planted peaks, a double peak, the layer-0 share and the order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis.findings import TABLES, findings
from core.present import report
from tests.analysis.synthetic import bump, make_curve, prediction_rows, simulate_predictions


def _planted():
    rng = np.random.default_rng(0)
    scores, folds, halves, predictions, groups = [], [], [], [], []
    centres = {"items": 5, "pairs": 12, "analogies": 19}
    for name, centre in centres.items():
        profile = bump(28, centre, 2)
        if name == "analogies":  # a second peak with a clear valley
            profile = profile + bump(28, 8, 1.5, height=0.2, base=0)
        for component in ("resid_pre", "attn_out"):
            head = dict(stimulus_set=name, component=component)
            for t in range(4):
                s, f = make_curve(
                    profile, se=0.004, seed=t, target=f"{name}{t}", **{"stimulus_set": name}
                )
                scores.append(s.assign(**head))
                folds.append(f.assign(**head))
                for half in (0, 1):
                    h = s.assign(**head, split=0, half=half)
                    h["score"] = profile + rng.normal(0, 0.01, 28)
                    halves.append(h)
            s, f = make_curve(bump(28, 25, 2, height=0.45), se=0.004, target="frequency_zipf")
            scores.append(s.assign(**head))
            folds.append(f.assign(**head))
        accuracy = np.tile(profile, (4, 1))
        y_true, y_pred, group = simulate_predictions(rng, accuracy, n_groups=40, per_group=6)
        rows, assigned = prediction_rows(y_true, y_pred, group, stimulus_set=name)
        rows["target"] = rows["target"].str.replace("t", name)
        predictions += [rows.assign(component=c) for c in ("resid_pre", "attn_out")]
        groups.append(assigned)
    return centres, *(
        pd.concat(x, ignore_index=True) for x in (scores, folds, halves, predictions, groups)
    )


def test_findings_report_the_planted_peaks_double_peak_and_order():
    centres, scores, folds, halves, predictions, groups = _planted()
    tables = findings(
        scores,
        folds,
        halves,
        predictions=predictions,
        groups=groups,
        n_sim=100,
        n_boot=200,
        n_baseline=200,
    )
    assert set(tables) == set(TABLES)
    curves = tables["curves"].set_index(["stimulus_set", "component"])
    for name, centre in centres.items():
        assert abs(curves.loc[(name, "attn_out"), "peak_layer"] - centre) <= 1
        assert curves.loc[(name, "attn_out"), "n_targets"] == 4  # frequency_zipf left out
    assert (tables["curves"]["controls"] == "frequency_zipf").all()
    verdicts = tables["double_peaks"].set_index(["stimulus_set", "component"])["verdict"]
    assert verdicts["items", "attn_out"] == "single peak"
    assert verdicts["analogies", "attn_out"] == "double peak"
    lexical = tables["lexical"]
    assert len(lexical) == 6 and (lexical["verdict"] == "mostly built after layer 0").all()
    assert (tables["hierarchy"]["method"] == "stimulus bootstrap").all()
    order = tables["order"]
    assert set(order["component"]) == {"resid_pre", "attn_out"}
    assert order["verdict"].str.contains("peaks before").all()
    assert set(tables["persistence"]["estimator"]) == {"naive", "split-half"}
    text = report.text(tables, model="m", pooling="mean")
    assert "attn_out: items < pairs < analogies holds by peak depth" in text
    assert "stimulus groups of the held-out predictions" in text
    assert "Controls left out of every mean curve" in text and "frequency_zipf" in text
    assert text.count("noise alone gives") == 12  # sets × components × estimators


def test_a_valley_at_a_dip_most_targets_share_is_marked():
    from core.analysis.findings import _mark_shared_valleys

    head = {"model": "m", "stimulus_set": "items", "pooling": "mean"}
    peaks = pd.DataFrame(
        [
            {**head, "component": "attn_out", "valley_layer": 24.0},
            {**head, "component": "mlp_out", "valley_layer": 24.0},
            {**head, "component": "resid_pre", "valley_layer": np.nan},
        ]
    )
    dips = pd.DataFrame(
        [
            {**head, "component": "attn_out", "layer": 24, "share": 1.0, "shared": True},
            {**head, "component": "mlp_out", "layer": 24, "share": 0.5, "shared": False},
        ]
    )
    marked = _mark_shared_valleys(peaks, dips)["valley_shared"].tolist()
    assert marked[0] == 1.0 and np.isnan(marked[1]) and np.isnan(marked[2])


def test_valley_flags_test_the_property_targets_of_each_curve():
    """What the Double peaks page asks of a valley computed there: the shared-dip test on
    that curve's property targets (a control's dip does not count), and the sink layers."""
    from core.analysis.findings import valley_flags
    from tests.analysis.test_dips import _targets

    rng = np.random.default_rng(7)
    planted = _targets(rng, dip_at=12, depth=0.15)  # 10 property targets, one shared dip
    flat = _targets(rng)  # the other component: none
    rows = []
    for component, curves in (("attn_out", planted), ("mlp_out", flat)):
        for t, curve in enumerate(curves):
            for layer, value in enumerate(curve):
                rows.append((component, f"t{t}", layer, value))
        for layer in range(curves.shape[1]):  # a control, flat but for a plunge at 20
            rows.append((component, "frequency_zipf", layer, -1.0 if layer == 20 else 0.2))
    scores = pd.DataFrame(rows, columns=["component", "target", "layer", "score"]).assign(
        model="m", stimulus_set="items", pooling="mean", chance=0.0
    )
    peaks = pd.DataFrame(
        {
            "model": "m",
            "component": ["attn_out", "attn_out", "mlp_out"],
            "valley_layer": [12.0, 20.0, 12.0],
        }
    )
    flagged = valley_flags(peaks, scores, sink_layers={"m": [20]})
    # all 10 properties dip at 12 (with the control counted, 10 of 11 would)
    assert flagged["valley_shared"].iloc[0] == 1.0
    assert flagged["valley_shared"].iloc[1:].isna().all()  # the control's dip; no dip
    assert flagged["valley_at_sink"].tolist() == [False, True, False]
