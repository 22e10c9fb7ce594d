"""The results database: contract columns, idempotent writes, versions, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import time

import duckdb
import pandas as pd
import pytest

from core.storage import store
from tests.helpers import score_row

CONTRACT = {
    "model": "VARCHAR",
    "stimulus_set": "VARCHAR",
    "pooling": "VARCHAR",
    "target": "VARCHAR",
    "component": "VARCHAR",
    "layer": "INTEGER",
    "n_layers": "INTEGER",
    "probe": "VARCHAR",
    "metric": "VARCHAR",
    "score": "DOUBLE",
    "score_se": "DOUBLE",
}


def _scores(n_layers=3, value=0.7):
    rows = []
    for layer in range(n_layers):
        for component in ("resid_pre", "attn_out", "mlp_out"):
            rows.append(
                score_row(
                    component=component, layer=layer, n_layers=n_layers, score=value, run_id="r"
                )
            )
    return pd.DataFrame(rows)


def _run(run_id="r", model="m"):
    return {
        "run_id": run_id,
        "model": model,
        "stimulus_set": "s",
        "pooling": "mean",
        "n_layers": 3,
        "settings": {"n_perm": 99},
        "versions": {"strata": "x"},
    }


def _write(db, value=0.7, run_id="r", model="m"):
    scores = _scores(value=value).assign(run_id=run_id)
    store.write_run(db, run=_run(run_id, model), tables={"probe_scores": scores})


def test_contract_columns(tmp_path):
    db = tmp_path / "r.duckdb"
    _write(db)
    with duckdb.connect(str(db), read_only=True) as con:
        types = {r[0]: r[1] for r in con.execute("DESCRIBE probe_scores").fetchall()}
    for column, kind in CONTRACT.items():
        assert types[column] == kind


def test_writing_the_same_result_twice_replaces_it(tmp_path):
    db = tmp_path / "r.duckdb"
    _write(db, value=0.6, run_id="a")
    _write(db, value=0.8, run_id="b")
    scores = store.query(db, "probe_scores")
    assert len(scores) == 9 and set(scores["score"]) == {0.8}
    assert store.latest_run(db, "m", "s", "mean")["run_id"] == "b"
    assert store.latest_run(db, "m", "s", "mean")["settings"] == {"n_perm": 99}


def test_newer_schema_is_refused_older_is_migrated(tmp_path):
    db = tmp_path / "r.duckdb"
    _write(db)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE strata_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(store.StoreError, match="schema version 99, made by a newer Strata"):
        store.ensure_schema(db)
    with pytest.raises(store.StoreError, match="newer Strata"):
        _write(db)
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # version 0: an empty file from before the schema
    store.ensure_schema(old)
    with duckdb.connect(str(old), read_only=True) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "junk.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(store.StoreError, match="is not a DuckDB database file"):
        store.query(bad, "probe_scores")


def test_export_and_import_merge_results(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    _write(a, model="big", run_id="x")
    _write(b, model="small", run_id="y")
    out = tmp_path / "travel.duckdb"
    assert store.export_results(a, out) == 1
    keys = store.import_results(b, out)
    assert keys == [("big", "s", "mean")]
    assert set(store.results_index(b)["model"]) == {"big", "small"}
    assert store.latest_run(b, "big", "s", "mean")["run_id"] == "x"
    with pytest.raises(store.StoreError, match="exists"):
        store.export_results(a, out)


def _reader(db, seconds, queue):
    seen, errors = set(), []
    end = time.time() + seconds
    while time.time() < end:
        try:
            frame = store.query(db, "probe_scores")
            if len(frame):
                assert len(frame) == 9, len(frame)  # never a half-written run
                seen.add(float(frame["score"].iloc[0]))
        except Exception as exc:
            errors.append(repr(exc))
    queue.put((sorted(seen), errors))


def _writer(db, values, queue):
    errors = []
    for i, value in enumerate(values):
        try:
            _write(db, value=value, run_id=f"w{value}-{i}")
        except Exception as exc:
            errors.append(repr(exc))
    queue.put(errors)


# five processes contending for one file: ~8 s; the fast tier keeps the writer-lock test,
# in one process
@pytest.mark.slow
def test_readers_and_two_writers_in_parallel_processes(tmp_path):
    db = tmp_path / "r.duckdb"
    _write(db, value=0.5)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    readers = [ctx.Process(target=_reader, args=(db, 6, queue)) for _ in range(3)]
    writers = [
        ctx.Process(target=_writer, args=(db, [0.6 + 0.01 * i] * 5, queue)) for i in range(2)
    ]
    for p in readers + writers:
        p.start()
    results = [queue.get(timeout=120) for _ in readers + writers]
    for p in readers + writers:
        p.join(timeout=60)
    reader_results = [r for r in results if isinstance(r, tuple)]
    writer_errors = [r for r in results if isinstance(r, list)]
    assert all(errors == [] for errors in writer_errors), writer_errors
    for seen, errors in reader_results:
        assert errors == [], errors[:3]
        assert seen  # readers kept reading while writers wrote
    final = store.query(db, "probe_scores")
    assert len(final) == 9 and final["score"].iloc[0] in (0.6, 0.61)
    assert len(store.query(db, "runs")) == 11  # every write landed, none lost


# --------------------------------------------------------------------------- reliability
def _bytes(path):
    return path.read_bytes() if path.exists() else None


def _v1(path, model="old"):
    """A database as the released Strata (schema v1) left it: no v2 tables."""
    _write(path, model=model, run_id=f"run-{model}")
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE item_predictions")
        con.execute("DROP TABLE baseline_scores")
        for table in store.V3_TABLES:
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE strata_meta SET value = '1' WHERE key = 'schema_version'")
    return path


def _foreign(path):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE probe_scores (id INTEGER, note TEXT)")
        con.execute("INSERT INTO probe_scores VALUES (1, 'theirs')")
    return path


def test_a_reader_never_writes_an_older_or_missing_database(tmp_path):
    old = _v1(tmp_path / "old.duckdb")
    before = old.read_bytes()
    assert list(store.results_index(old)["model"]) == ["old"]
    assert len(store.query(old, "probe_scores")) == 9
    predictions = store.query(old, "item_predictions")  # absent in v1: empty, with columns
    assert predictions.empty and "decision" in predictions.columns
    assert store.latest_run(old, "old", "s", "mean")["run_id"] == "run-old"
    assert old.read_bytes() == before and not (tmp_path / "old.duckdb.wal").exists()
    with duckdb.connect(str(old), read_only=True) as con:
        assert store.schema_version(con) == 1
    missing = tmp_path / "missing.duckdb"
    assert store.results_index(missing).empty and "n_layers" in store.query(missing, "probe_scores")
    assert not missing.exists()
    _write(old, model="new", run_id="w")  # a write migrates it
    with duckdb.connect(str(old), read_only=True) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION


def test_a_foreign_duckdb_file_is_refused_untouched(tmp_path):
    other = _foreign(tmp_path / "other.duckdb")
    before = other.read_bytes()
    with pytest.raises(store.StoreError, match="not Strata's"):
        store.results_index(other)
    with pytest.raises(store.StoreError, match="not Strata's"):
        _write(other)
    with pytest.raises(store.StoreError, match="not Strata's"):
        store.import_results(tmp_path / "mine.duckdb", other)
    with pytest.raises(store.StoreError, match="not Strata's"):
        store.import_results(other, _v1(tmp_path / "v1.duckdb"))
    assert other.read_bytes() == before
    assert not (tmp_path / "mine.duckdb").exists()


@pytest.mark.parametrize("offset", [4096, 12388])
def test_a_damaged_database_is_named_at_once_never_busy(tmp_path, offset):
    db = tmp_path / "r.duckdb"
    _write(db)
    data = bytearray(db.read_bytes())
    for i in range(offset, offset + 64):
        data[i] ^= 0x5A
    db.write_bytes(bytes(data))
    started = time.monotonic()
    with pytest.raises(store.StoreDamaged, match=r"is damaged \(checksum mismatch") as caught:
        store.results_index(db)
    assert not isinstance(caught.value, store.StoreBusy)
    with pytest.raises(store.StoreDamaged):
        _write(db)
    assert time.monotonic() - started < 10  # no wait for a lock that nobody holds
    assert not store.dbfile.is_lock_error(
        duckdb.Error("Corrupt database file: checksum ... in block at location 4096")
    )


def test_older_sources_travel_without_being_modified(tmp_path):
    old = _v1(tmp_path / "old.duckdb")
    before = old.read_bytes()
    out = tmp_path / "travel.duckdb"
    assert store.export_results(old, out) == 1
    assert list(store.results_index(out)["model"]) == ["old"]
    target = tmp_path / "target.duckdb"
    _write(target, model="mine", run_id="m")
    assert store.import_results(target, old) == [("old", "s", "mean")]
    assert set(store.results_index(target)["model"]) == {"mine", "old"}
    assert store.latest_run(target, "old", "s", "mean")["run_id"] == "run-old"
    assert old.read_bytes() == before
    with pytest.raises(store.StoreError, match="is the results database itself"):
        store.import_results(target, target)


def test_a_failed_export_leaves_no_file(tmp_path):
    bad = tmp_path / "junk.duckdb"
    bad.write_bytes(b"not duckdb" * 500)
    out = tmp_path / "out.duckdb"
    with pytest.raises(store.StoreError, match="not a DuckDB database file"):
        store.export_results(bad, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.duckdb"]


def test_writing_tells_whether_a_run_holds_the_writer_lock(tmp_path):
    import threading

    db = tmp_path / "r.duckdb"
    assert not store.writing(db) and not (tmp_path / "r.duckdb.lock").exists()
    inside, leave = threading.Event(), threading.Event()

    def hold():
        with store.writer(db):
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(10)
    assert store.writing(db)
    leave.set()
    thread.join()
    assert not store.writing(db)


def test_a_database_folder_that_does_not_exist_is_not_created(tmp_path):
    db = tmp_path / "no" / "such" / "r.duckdb"
    with pytest.raises(store.StoreError, match="does not exist: create it first"):
        _write(db)
    assert not (tmp_path / "no").exists()
