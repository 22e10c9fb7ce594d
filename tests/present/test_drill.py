"""Drill-down queries on a stored result: a cell's stimuli, margins, settling layers, the
selection of a curve point, one stimulus's margins and the error analysis (planted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import StrataError
from core.present import drill, plots
from core.probe import ProbeSettings
from core.probe.grid import probe_grid
from core.probe.summary import summarize
from core.stimuli import load
from core.storage import store

N_LAYERS = 4
PLANTED = "part_of"  # related pairs of this relation point the wrong way in the activations


def _activations(stimuli, rng) -> dict[str, np.ndarray]:
    """``related`` readable from layer 1 on, better with depth; the planted subgroup's
    related pairs sit on the unrelated side at every layer (the probe gets them wrong)."""
    n, d = len(stimuli), 12
    y = stimuli.labels("related") * 2.0 - 1
    flip = (stimuli.frame["relation"] == PLANTED).to_numpy()
    sign = np.where(flip, -y, y)
    X = rng.normal(size=(n, N_LAYERS, d))
    for layer in range(1, N_LAYERS):
        X[:, layer, 0] += 1.2 * layer * sign
    return {"resid_pre": X.astype(np.float32)}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    stimuli = load("pairs")
    rng = np.random.default_rng(0)
    settings = ProbeSettings(permutations=0, half_splits=0)
    results = probe_grid(_activations(stimuli, rng), stimuli, settings)
    scores = summarize(results, n_layers=N_LAYERS).assign(run_id="r1")
    targets = results.targets.assign(
        kind=lambda t: t["target"].map(stimuli.targets), position=range(len(results.targets))
    )
    path = tmp_path_factory.mktemp("drill") / "r.duckdb"
    store.write_run(
        path,
        run={"run_id": "r1", "model": "m", "stimulus_set": "pairs", "pooling": "mean"},
        tables={
            "probe_scores": scores,
            "fold_scores": results.fold_scores,
            "targets": targets,
            "item_predictions": results.predictions,
        },
    )
    return path


KEY = dict(model="m", stimulus_set="pairs", pooling="mean")


def test_a_cells_stimuli_come_with_their_text_and_metadata_wrong_ones_first(db):
    table = drill.cell_stimuli(db, **KEY, target="related", component="resid_pre", layer=3)
    assert len(table) == len(load("pairs"))
    assert {"text", "label", "prediction", "margin", "group", "meta_x_synset"} <= set(table)
    wrong = table["correct"].astype(bool).to_numpy()
    assert not wrong[: (~wrong).sum()].any()  # every wrong one before every right one
    # binary margins: positive exactly when correct (the decision signed by the true class)
    assert ((table["margin"] > 0) == table["correct"].astype(bool)).all()
    assert (table["label"] == table["prediction"]).eq(table["correct"].astype(bool)).all()
    # the planted related part_of pairs are the wrong ones
    pairs = load("pairs").frame.set_index("item_id")
    wrong_ids = table.loc[~table["correct"].astype(bool), "item_id"]
    assert (pairs.loc[wrong_ids, "relation"] == PLANTED).mean() > 0.9


def test_the_cell_accuracy_is_the_stored_accuracy_up_to_fold_weighting(db):
    table = drill.cell_stimuli(db, **KEY, target="related", component="resid_pre", layer=2)
    folds = store.query(db, "fold_scores", **KEY, target="related", layer=2, metric="accuracy")
    per_fold = table.groupby("fold")["correct"].mean()
    assert np.allclose(np.sort(per_fold.to_numpy()), np.sort(folds["score"].to_numpy()))


def test_stimuli_settle_at_the_first_layer_from_which_they_stay_correct():
    frame = pd.DataFrame(
        {
            "item_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
            "layer": [0, 1, 2, 3] * 3,
            "correct": np.array([[0, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]], bool).ravel(),
        }
    )
    settle = drill.stays_correct_from(frame)
    assert settle["a"] == 3 and settle["b"] == 1 and np.isnan(settle["c"])


def test_heatmap_rows_are_sorted_by_settling_layer(db):
    rows = drill.cell_layers(db, **KEY, target="related", component="resid_pre")
    fig = plots.margin_heatmap(rows)
    order = rows.drop_duplicates("item_id").set_index("item_id")["stays_correct_from"]
    z_ids = rows.pivot_table(
        index="item_id", columns="layer", values="margin"
    ).index  # the figure rows are these ids reordered
    settled = order.loc[z_ids].dropna().sort_values()
    hover = fig.data[0].customdata[:, 0, 0].astype(int)
    shown = hover[hover >= 0]
    assert list(shown) == sorted(shown) and len(shown) == len(settled)
    assert (hover[len(shown) :] == -1).all()  # never settled: last


def test_a_plotly_selection_point_maps_back_to_its_cell(db):
    scores = store.query(db, "probe_scores", **KEY, metric="balanced_accuracy")
    row = scores[(scores["target"] == "related") & (scores["layer"] == 2)].iloc[0]
    points = [{"curve_number": 1, "point_index": 2, "x": 2, "y": float(row["score"])}]
    cells = drill.selected_cells(points, scores, x="layer")
    assert cells.to_dict("records") == [{"target": "related", "component": "resid_pre", "layer": 2}]
    assert drill.selected_cells([{"x": 2, "y": -5.0}], scores).empty


def test_one_stimulus_has_a_margin_at_every_layer_of_every_target(db):
    item = load("pairs").frame["item_id"].iloc[0]
    rows = drill.stimulus_margins(db, **KEY, item_id=item)
    assert set(rows["target"]) == {"related", "relation"}
    assert len(rows) == 2 * N_LAYERS
    fig = plots.stimulus_margins(rows)
    assert len([t for t in fig.data if t.mode == "lines+markers"]) == 2
    with pytest.raises(StrataError, match="no predictions"):
        drill.stimulus_margins(db, **KEY, item_id="no-such-pair")


def test_the_error_analysis_finds_the_planted_subgroup(db):
    """Done-when: a subgroup the probe gets wrong is flagged in the error-analysis view."""
    found = drill.error_analysis(
        db, **KEY, target="related", components=["resid_pre"], by="relation", n_shuffles=2000
    )
    flags = found["flags"]
    assert set(flags.loc[flags["flagged"], "subgroup"]) == {PLANTED}
    curves = found["curves"]
    assert curves.loc[curves["subgroup"] == PLANTED, "label"].str.contains("flagged").all()
    deep = curves[curves["layer"] == N_LAYERS - 1].set_index("subgroup")["score"]
    assert deep[PLANTED] < 0.7 < deep.drop(PLANTED).min()
    fig = plots.subgroup_curves(curves)
    assert len(fig.layout.annotations) >= curves["subgroup"].nunique()


def test_bad_drill_requests_are_refused_in_one_line(db):
    with pytest.raises(StrataError, match="no per-stimulus predictions"):
        drill.cell_stimuli(db, **KEY, target="related", component="mlp_out", layer=0)
    with pytest.raises(StrataError, match="not a column"):
        drill.error_analysis(db, **KEY, target="related", components=["resid_pre"], by="nope")
