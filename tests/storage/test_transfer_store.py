"""``transfer_scores``: created by the v3 step (a v2 file is migrated by the first write),
replaced per key and target,
and a write that fails half-way leaves the previous rows."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from core.probe.transfer import COLUMNS
from core.storage import store

KEY = {"model": "m", "train_set": "pairs", "test_set": "buried", "pooling": "last"}


def _frame(score: float, target: str = "related") -> pd.DataFrame:
    rows = [
        dict(
            target=target,
            component="resid_pre",
            train_layer=la,
            test_layer=lb,
            metric="balanced_accuracy",
            score=score,
            score_se=0.01,
            n_folds=6,
            n_test=336,
            chance=0.5,
            is_primary=True,
        )
        for la in range(3)
        for lb in range(3)
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.assign(train_hash="a", test_hash="b", settings="{}", finished_at=pd.Timestamp(0))


def test_a_v2_file_reads_empty_and_gets_the_table_on_the_first_write(tmp_path):
    db = tmp_path / "r.duckdb"
    store.ensure_schema(db)
    con = duckdb.connect(str(db))  # as the released v2 left it
    for table in store.V3_TABLES:
        con.execute(f"DROP TABLE {table}")
    con.execute("UPDATE strata_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    assert store.query(db, "transfer_scores").empty
    store.write_transfer(db, _frame(0.7), key=KEY)
    got = store.query(db, "transfer_scores", **KEY)
    assert len(got) == 9 and (got["score"] == 0.7).all()


def test_a_rerun_replaces_its_target_and_keeps_the_others(tmp_path):
    db = tmp_path / "r.duckdb"
    store.write_transfer(db, _frame(0.7), key=KEY)
    store.write_transfer(db, _frame(0.6, target="relation"), key=KEY)
    store.write_transfer(db, _frame(0.8), key=KEY)
    got = store.query(db, "transfer_scores", **KEY).groupby("target")["score"].agg(["mean", "size"])
    assert got.loc["related"].tolist() == [0.8, 9] and got.loc["relation"].tolist() == [0.6, 9]


def test_a_failed_write_leaves_the_previous_rows(tmp_path, monkeypatch):
    db = tmp_path / "r.duckdb"
    store.write_transfer(db, _frame(0.7), key=KEY)

    def boom(name):
        raise RuntimeError(f"killed at {name}")

    monkeypatch.setattr(store, "_fault_point", boom)
    with pytest.raises(RuntimeError, match="killed at transfer"):
        store.write_transfer(db, _frame(0.9), key=KEY)
    assert (store.query(db, "transfer_scores", **KEY)["score"] == 0.7).all()


def test_transfers_travel_with_export_and_import(tmp_path):
    from tests.storage.test_store import _write

    db = tmp_path / "r.duckdb"
    _write(db)  # one result of model "m"
    store.write_transfer(db, _frame(0.7), key=KEY)
    store.write_transfer(db, _frame(0.6), key={**KEY, "model": "other"})
    out = tmp_path / "out.duckdb"
    store.export_results(db, out, model=["m"])
    assert set(store.query(out, "transfer_scores")["model"]) == {"m"}
    none = tmp_path / "none.duckdb"
    store.export_results(db, none, stimulus_set=["pairs"])  # buried not exported
    assert store.query(none, "transfer_scores").empty
    other = tmp_path / "other.duckdb"
    store.write_transfer(other, _frame(0.9), key=KEY)
    store.import_results(other, out)
    got = store.query(other, "transfer_scores", **KEY)
    assert len(got) == 9 and (got["score"] == 0.7).all()
