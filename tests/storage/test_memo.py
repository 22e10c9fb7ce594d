"""The analysis cache: keyed by content, read back exactly, never trusted when damaged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import double_peak
from core.storage import memo
from tests.analysis.synthetic import bump, make_curve

CALLS: list[int] = []


def summarise(frame: pd.DataFrame, *, scale: float = 1.0) -> dict[str, pd.DataFrame]:
    CALLS.append(1)
    out = frame.assign(score=frame["score"] * scale)
    return {"rows": out, "flags": pd.DataFrame({"ok": [True, False], "note": ["a", None]})}


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


def test_second_call_reads_the_cache_and_gives_the_same_tables(tmp_path):
    db = tmp_path / "r.duckdb"
    frame = pd.DataFrame({"layer": [0, 1, 2], "score": [0.5, np.nan, 0.75], "name": list("abc")})
    first = memo.cached(db, summarise, frame, scale=2.0)
    second = memo.cached(db, summarise, frame, scale=2.0)
    assert len(CALLS) == 1
    assert memo.cache_path(db).is_file() and not db.exists()  # the results db is untouched
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], check_dtype=False)
    assert np.isnan(second["rows"]["score"].iloc[1])


def test_other_content_or_arguments_are_computed_anew(tmp_path):
    db = tmp_path / "r.duckdb"
    frame = pd.DataFrame({"layer": [0, 1], "score": [0.5, 0.6]})
    memo.cached(db, summarise, frame)
    memo.cached(db, summarise, frame.assign(score=[0.5, 0.61]))  # a rerun's new numbers
    memo.cached(db, summarise, frame, scale=3.0)
    assert len(CALLS) == 3
    memo.cached(db, summarise, frame.copy())  # same content, another object: a hit
    assert len(CALLS) == 3


def test_a_damaged_cache_file_is_replaced_not_trusted(tmp_path):
    db = tmp_path / "r.duckdb"
    frame = pd.DataFrame({"layer": [0, 1], "score": [0.5, 0.6]})
    memo.cache_path(db).write_bytes(b"not a duckdb file" * 64)
    result = memo.cached(db, summarise, frame)
    assert list(result["rows"]["score"]) == [0.5, 0.6]
    memo.cached(db, summarise, frame)
    assert len(CALLS) == 1  # the fresh file took the result


def test_a_real_analysis_round_trips(tmp_path):
    scores, folds = make_curve(bump(40, 10, 2.5) + bump(40, 28, 3, base=0), se=0.005, seed=3)
    direct = double_peak(scores, folds, n_sim=50)
    memo.cached(tmp_path / "r.duckdb", double_peak, scores, folds, n_sim=50)
    again = memo.cached(tmp_path / "r.duckdb", double_peak, scores, folds, n_sim=50)
    pd.testing.assert_frame_equal(direct, again, check_dtype=False)


def test_a_garbled_cache_block_is_damage_not_a_busy_file(tmp_path, caplog):
    """DuckDB's "checksum ... in block at location 4096" once read as a lock ("block"):
    the cache was bypassed as busy on every call and never rebuilt."""
    db = tmp_path / "r.duckdb"
    frame = pd.DataFrame({"layer": [0, 1], "score": [0.5, 0.6]})
    memo.cached(db, summarise, frame)
    path = memo.cache_path(db)
    data = bytearray(path.read_bytes())
    for i in range(4096, 4160):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING"):
        result = memo.cached(db, summarise, frame)
    assert list(result["rows"]["score"]) == [0.5, 0.6]
    assert "is damaged (checksum mismatch in the block at byte 4096)" in caplog.text
    assert "busy" not in caplog.text
    memo.cached(db, summarise, frame)
    assert len(CALLS) == 2  # computed again once, then read from the rebuilt cache


def test_editing_a_sibling_module_invalidates_the_key(tmp_path, monkeypatch):
    """findings calls peaks, persistence...: an edit in any of them is a new key."""
    import sys
    import types

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "main.py").write_text("def f(x):\n    return x\n")
    (package / "helper.py").write_text("A = 1\n")
    module = types.ModuleType("pkg_main_for_memo")
    module.__file__ = str(package / "main.py")
    monkeypatch.setitem(sys.modules, "pkg_main_for_memo", module)

    def f(frame):
        return frame

    f.__module__ = "pkg_main_for_memo"
    frame = pd.DataFrame({"a": [1]})
    before = memo.key_of(f, (frame,), {})
    (package / "helper.py").write_text("A = 2\n")
    memo._source_digest.cache_clear()
    assert memo.key_of(f, (frame,), {}) != before
