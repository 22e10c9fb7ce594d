"""The command line contract (DESIGN.md) and the one-line errors of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from core.__main__ import main
from core.analysis import property_targets
from tests.helpers import items_subset, run_args, run_main, subset_csv

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
    )


GOOD = {
    "item_id": [f"i{k}" for k in range(12)],
    "text": [f"A word{k}" for k in range(12)],
    "group": [f"g{k}" for k in range(12)],
    "y:binary": ["0", "1"] * 6,
    "r:continuous": [str(k) for k in range(12)],
}


def _text(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _csv(tmp_path, **changes) -> str:
    frame = pd.DataFrame({**GOOD, **changes})
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_models_and_stimuli_list_one_name_per_line():
    out = cli("models")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert "smollm2-135m" in lines and "gemma3-270m" in lines
    out = cli("stimuli")
    assert out.returncode == 0 and "items" in out.stdout.splitlines()


@pytest.mark.slow
def test_run_export_and_rerun_on_smollm2(tmp_path):
    csv = subset_csv(tmp_path)
    db = tmp_path / "results.duckdb"
    args = run_args(
        csv, db, "--permutations", "3", "--half-splits", "1", "--pooling", "mean", "last"
    )
    first = cli(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "computed; model loaded" in first.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        scores = con.execute("SELECT * FROM probe_scores").df()
    n_targets = len(items_subset(36).targets)
    assert (
        len(scores) == 2 * n_targets * 3 * 30 * 2
    )  # poolings × targets × comps × layers × metrics
    assert set(scores["component"]) == {"resid_pre", "attn_out", "mlp_out"}
    assert scores["layer"].min() == 0 and scores["layer"].max() == 29
    assert (scores["n_layers"] == 30).all() and set(scores["probe"]) == {"svm", "ridge"}
    assert scores["score"].notna().all()

    second = cli(*args)
    assert second.returncode == 0
    assert "already in the results database; model not loaded" in second.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM probe_scores").fetchone()[0] == len(scores)

    report = cli("report", "--model", "smollm2-135m", "--db", str(db), "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr[-2000:]
    assert (
        "## Anti-persistence" in report.stdout and "small · attn_out · split-half" in report.stdout
    )
    curves = pd.read_csv(tmp_path / "r" / "curves.csv")
    assert set(curves["component"]) == {"resid_pre", "attn_out", "mlp_out"}
    properties = len(property_targets(items_subset(36).targets))  # controls are left out
    assert curves["peak_layer"].between(0, 29).all() and (curves["n_targets"] == properties).all()
    assert (tmp_path / "results.analyses.duckdb").is_file()  # kept for the app and reruns
    missing = cli("report", "--model", "gpt-17", "--db", str(db))
    assert missing.returncode == 2 and missing.stderr.startswith("error: no results for model")

    out = tmp_path / "export"
    exported = cli("export", "--model", "smollm2-135m", "--stimuli", str(csv), "--out", str(out))
    assert exported.returncode == 0, exported.stderr[-2000:]
    arrays = np.load(out / "activations.npz")
    frame = pd.read_csv(out / "stimuli.csv")
    targets = json.loads((out / "targets.json").read_text())
    assert list(frame.columns[:4]) == ["item_id", "text", "group", "words"]  # DESIGN.md
    assert (frame["words"] == frame["item_id"]).all()  # the target word of each text
    assert list(frame.columns[4:]) == list(targets)
    assert set(targets.values()) <= {"binary", "continuous"}
    for component in ("resid_pre", "attn_out", "mlp_out"):
        assert arrays[component].shape == (36, 30, 576)
        assert arrays[component].dtype == np.float32


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _csv(p).replace("s.csv", "missing.csv"), "does not exist"),
        (lambda p: _text(p / "e.csv", ""), "the file is empty"),
        (lambda p: _text(p / "m.csv", 'item_id,text,group\n"a,b\n'), "not a readable CSV"),
        (
            lambda p: _text(
                p / "t.csv", pd.DataFrame(GOOD).drop(columns="text").to_csv(index=False)
            ),
            "column 'text': missing required",
        ),
        (lambda p: _csv(p, item_id=["a"] * 12), "row 2, column 'item_id': duplicate id 'a'"),
        (lambda p: _csv(p, **{"y:binary": ["1"] * 12}), "constant"),
        (
            lambda p: _csv(p, **{"r:continuous": ["1"] * 11 + ["nan"]}),
            "row 12, column 'r:continuous': missing value",
        ),
        (
            lambda p: _csv(p, **{"r:continuous": ["1"] * 11 + ["x"]}),
            "row 12, column 'r:continuous': 'x' is not a finite number",
        ),
        (lambda p: _csv(p, group=["g1", "g2"] * 6), "only 2 distinct groups; grouped 6-fold CV"),
        (
            lambda p: _csv(p, **{"y:binary": ["1"] * 3 + ["0"] * 9}),
            "class '1' occurs in only 3 groups",
        ),
        (lambda p: _csv(p, spans=["0:99"] * 12), "row 1, column 'spans': span 0:99 is not inside"),
        (
            lambda p: _csv(p, words=["apple"] * 12),
            "row 1, column 'words': 'apple' is not in the text",
        ),
    ],
)
def test_bad_stimulus_files_give_one_error_line(tmp_path, capsys, make, message):
    path = make(tmp_path)
    code = main(["run", "--model", "smollm2-135m", "--stimuli", path, "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert message in err[0]


@pytest.mark.parametrize(
    "model, message",
    [
        ("gpt-7-imaginary", "unknown model 'gpt-7-imaginary'"),
        ("someorg/not-downloaded", "not in the local Hugging Face cache"),
        ("/nonexistent/model/dir", "is not a directory with config.json"),
    ],
)
def test_bad_models_give_one_error_line(tmp_path, capsys, model, message):
    code = main(["run", "--model", model, "--stimuli", _csv(tmp_path), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and message in err[0], err


def test_newer_database_is_refused(tmp_path, capsys):
    from core.storage import store

    db = tmp_path / "new.duckdb"
    store.ensure_schema(db)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE strata_meta SET value = '7' WHERE key = 'schema_version'")
    code = main(["results", "--db", str(db)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith("error: ") and "newer Strata" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--folds", "1"], "folds=1: cross-validation needs at least 2 folds"),
        (["--permutations", "-1"], "permutations=-1 cannot be negative"),
        (["--half-splits", "-2"], "half_splits=-2 cannot be negative"),
        (["--device", "gpu"], "device 'gpu' is not one of cpu, cuda, cuda:N, mps"),
        (["--jobs", "0"], "jobs=0: use a positive number, or -1"),
        (["--seed", "-1"], "seed=-1: use a seed of 0 or more"),
        (["--batch-tokens", "0"], "batch_tokens=0 must be at least 1"),
        (["--max-memory", "0:3"], "is not DEVICE=AMOUNT"),
        (["--joblib-backend", "spark"], "unknown joblib backend 'spark'"),
        (["--pooling", "max"], "unknown pooling 'max'; use one of mean, last, mean_skip0"),
    ],
)
def test_bad_settings_are_refused_before_any_work(tmp_path, capsys, monkeypatch, extra, message):
    from core import pipeline

    monkeypatch.setattr(pipeline, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    code = run_main(["run", "--model", "smollm2-135m", "--stimuli", _csv(tmp_path), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert message in err[0]
    assert not (tmp_path / "cache" / "strata.duckdb").exists()


def test_export_to_an_unwritable_place_fails_before_extracting(tmp_path, capsys, monkeypatch):
    from core import pipeline

    monkeypatch.setattr(pipeline, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["export", "--stimuli", _csv(tmp_path), "--out", str(blocker / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(f"error: cannot write to '{blocker / 'out'}'")


def _set_csv(folder: Path, name: str, n: int = 36) -> Path:
    """``n`` rows of a built-in set as a stimulus CSV named like it (spans kept)."""
    stimuli = items_subset(n, name=name)
    frame = stimuli.frame.copy()
    frame["spans"] = [";".join(f"{a}:{b}" for a, b in s) for s in stimuli.spans]
    frame = frame.rename(columns={t: f"{t}:{k}" for t, k in stimuli.targets.items()})
    path = folder / name / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_transfer_pairs_to_buried_stores_the_diagonal_and_one_matrix(tmp_path):
    pairs, buried = _set_csv(tmp_path, "pairs"), _set_csv(tmp_path, "buried")
    db = tmp_path / "results.duckdb"
    base = ["--model", "smollm2-135m", "--db", str(db), "--pooling", "last", "--quiet"]
    out = cli("transfer", *base, "--train", str(pairs), "--test", str(buried), "--jobs", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pairs → buried" in out.stdout and "transfer_peak" in out.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT * FROM transfer_scores WHERE is_primary").df()
    targets = set(rows["target"])
    assert targets and targets <= {"related", "relation"}
    diag = rows[rows["train_layer"] == rows["test_layer"]]
    assert len(diag) == len(targets) * 3 * 30  # targets × components × layers
    matrix = rows[rows["component"] == "resid_pre"]
    assert len(matrix) == len(targets) * 30 * 30
    assert set(rows.loc[rows["train_layer"] != rows["test_layer"], "component"]) == {"resid_pre"}
    assert rows["score"].between(0, 1).all() and (rows["n_test"] == 36).all()
