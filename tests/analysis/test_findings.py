"""A model's findings recover planted peaks, a planted double peak and a planted order."""

from __future__ import annotations

import pandas as pd

from tests.analysis.synthetic import bump, make_curve


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
