"""The ``sink_stats`` table and the on-disk sink cache."""

from __future__ import annotations

import duckdb
import pandas as pd

from core.storage import sinks as sink_cache
from core.storage import store


def _stats(top: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"layer": [0, 1, 2], "norm_ratio": [1.0, top, top], "attn_pos0": [0.5, 0.9, 0.8]}
    )


def test_rows_of_a_model_and_set_are_replaced_as_a_whole(tmp_path):
    db = tmp_path / "r.duckdb"
    assert store.sink_stats(db).empty  # no file yet: empty, nothing written
    assert not db.exists()
    store.write_sink_stats(db, model="m", stimulus_set="items", stats=_stats(50.0))
    store.write_sink_stats(db, model="m", stimulus_set="pairs", stats=_stats(40.0))
    store.write_sink_stats(db, model="m", stimulus_set="items", stats=_stats(60.0).head(2))
    rows = store.sink_stats(db, model="m").sort_values(["stimulus_set", "layer"])
    assert rows.groupby("stimulus_set")["layer"].count().to_dict() == {"items": 2, "pairs": 3}
    items = rows[rows["stimulus_set"] == "items"]
    assert items["norm_ratio"].tolist() == [1.0, 60.0] and (items["n_layers"] == 2).all()
    assert "sink_stats" in store.KNOWN_TABLES
    assert len(store.query(db, "sink_stats", stimulus_set="pairs")) == 3


def test_a_v2_file_reads_empty_and_is_migrated_by_the_first_write(tmp_path):
    db = tmp_path / "r.duckdb"
    store.ensure_schema(db)
    with duckdb.connect(str(db)) as con:  # as the released v2 left it
        for table in store.V3_TABLES:
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE strata_meta SET value = '2' WHERE key = 'schema_version'")
    assert store.sink_stats(db).empty
    store.write_sink_stats(db, model="m", stimulus_set="items", stats=_stats(9.0))
    assert len(store.sink_stats(db)) == 3
    with duckdb.connect(str(db), read_only=True) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION == 3


def test_the_sink_cache_keeps_statistics_by_model_and_texts(tmp_path):
    key = sink_cache.sink_key(model_fingerprint="f", text_hash="t", chat_template=False)
    other = sink_cache.sink_key(model_fingerprint="f", text_hash="t", chat_template=True)
    assert key != other
    assert sink_cache.load(key, root=tmp_path) is None
    sink_cache.save(key, _stats(7.0), root=tmp_path)
    pd.testing.assert_frame_equal(sink_cache.load(key, root=tmp_path), _stats(7.0))
    assert sink_cache.load(other, root=tmp_path) is None
    assert not list((tmp_path / "sinks").glob(".sinks-*"))  # no temporary file left


def test_sink_stats_travel_with_export_and_import(tmp_path):
    from tests.storage.test_store import _write

    db, out, merged = tmp_path / "r.duckdb", tmp_path / "out.duckdb", tmp_path / "m.duckdb"
    _write(db)
    store.write_sink_stats(db, model="m", stimulus_set="items", stats=_stats(30.0))
    store.write_sink_stats(db, model="other", stimulus_set="items", stats=_stats(3.0))
    store.export_results(db, out, model="m", pooling="mean")
    assert store.sink_stats(out)["model"].unique().tolist() == ["m"]
    store.write_sink_stats(merged, model="m", stimulus_set="items", stats=_stats(99.0))
    store.import_results(merged, out)
    rows = store.sink_stats(merged)
    assert len(rows) == 3 and rows["norm_ratio"].max() == 30.0
