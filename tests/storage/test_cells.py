"""Finished probe cells: exact round trip with predictions; an altered cell is never used."""

from __future__ import annotations

import json
import logging

import numpy as np

from core.probe import ProbeSettings
from core.probe.grid import make_plan, probe_cell
from core.storage.cells import CellStore
from tests.helpers import tiny_stimuli


def _cell():
    stimuli = tiny_stimuli()
    X = np.random.default_rng(0).normal(size=(len(stimuli), 30)).astype(np.float32)
    plan = make_plan(stimuli, ProbeSettings(folds=3, permutations=4, half_splits=1))
    return probe_cell(X, plan)


def _same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def test_cells_round_trip_exactly_with_their_predictions(tmp_path):
    result = _cell()
    assert "y_pred" in result["full"]["is_food"] and "decision" in result["full"]["n_letters"]
    store = CellStore("key", root=tmp_path)
    store.save(("resid_pre", 3), result)
    back = store.load()
    assert list(back) == [("resid_pre", 3)]
    _same(result, back[("resid_pre", 3)])


def test_an_edited_but_valid_cell_is_named_removed_and_recomputed(tmp_path, caplog):
    store = CellStore("key", root=tmp_path)
    store.save(("mlp_out", 0), _cell())
    store.save(("mlp_out", 1), _cell())
    file = store.folder / "mlp_out-1.json"
    data = json.loads(file.read_text())
    data["cell"]["full"]["is_food"]["folds"]["accuracy"][0] = 1.0  # still valid JSON
    file.write_text(json.dumps(data))
    (store.folder / "attn_out-2.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        kept = store.load()
    assert list(kept) == [("mlp_out", 0)]
    assert not file.exists() and not (store.folder / "attn_out-2.json").exists()
    assert "mlp_out-1.json" in caplog.text and "checksum" in caplog.text
    assert "attn_out-2.json" in caplog.text


def test_cells_of_the_old_format_are_recomputed(tmp_path, caplog):
    store = CellStore("key", root=tmp_path)
    store.folder.mkdir(parents=True)
    (store.folder / "resid_pre-0.json").write_text(json.dumps({"full": {}, "halves": []}))
    with caplog.at_level(logging.WARNING):
        assert store.load() == {}
    assert "resid_pre-0.json" in caplog.text
