"""Costly analyses cached in DuckDB, keyed by what goes in.

A double-peak test simulates hundreds of curves and a split-half baseline reshuffles a
thousand times: seconds per curve, paid again by every app session and every restart.
:func:`cached` keeps each result in ``<results db>.analyses.duckdb`` under a key made from
the function's module source, its arguments and the *content* of the DataFrames it is
given (as joblib's ``Memory`` does), so a rerun or an imported result with other numbers
never reads a stale entry, and an identical one hits.

The cache sits in its own file so that writing it never changes the results database
(whose state keys the app's query caches) nor travels with ``export-results``.  It is a
cache: when its file is busy the analysis is computed and returned anyway; when it is
damaged (a failed block checksum, a truncated file: never taken for busy) the file is
dropped with a warning naming the damage, and rebuilt.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd

from core.errors import first_line
from core.paths import default_db
from core.storage import store

log = logging.getLogger(__name__)
T = TypeVar("T", pd.DataFrame, dict)
MAX_ENTRIES = 5000
ROLE = "analysis cache"  # how store's messages name this file
_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, params TEXT,
    created TIMESTAMP, result BLOB
)
"""


def cache_path(db: str | Path | None = None) -> Path:
    """The cache beside a results database: ``strata.duckdb`` → ``strata.analyses.duckdb``."""
    path = Path(db) if db is not None else default_db()
    return path.with_name(f"{path.stem}.analyses.duckdb")


@functools.cache
def _source_digest(module: str) -> str:
    """Hash of the package that defines an analysis: editing its code invalidates its entries.

    The whole package (every ``.py`` beside the module), not the module alone: an analysis
    calls helpers in sibling modules (``findings`` calls ``peaks``, ``persistence``...), and an
    edit there must not leave stale results behind.
    """
    file = getattr(sys.modules.get(module), "__file__", None)
    if not file:
        return hashlib.sha256(module.encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    for source in sorted(Path(file).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _digest(value, h) -> None:
    if isinstance(value, pd.DataFrame):
        h.update(b"frame")
        h.update(json.dumps([list(map(str, value.columns)), list(map(str, value.dtypes))]).encode())
        h.update(pd.util.hash_pandas_object(value, index=False).to_numpy().tobytes())
    elif isinstance(value, np.ndarray):
        h.update(f"array{value.shape}{value.dtype}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, list | tuple):
        h.update(f"seq{len(value)}".encode())
        for item in value:
            _digest(item, h)
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())


def key_of(fn: Callable, args: tuple, kwargs: dict) -> str:
    """What determines a result: the function, its module's source, the arguments' content."""
    h = hashlib.sha256(f"{fn.__module__}.{fn.__qualname__}".encode())
    h.update(_source_digest(fn.__module__).encode())
    _digest(list(args), h)
    _digest(sorted(kwargs.items()), h)
    return h.hexdigest()[:32]


def _encode(result: pd.DataFrame | dict) -> bytes:
    frames = result if isinstance(result, dict) else {"": result}
    payload = {name: frame.to_json(orient="table", index=False) for name, frame in frames.items()}
    return json.dumps({"dict": isinstance(result, dict), "frames": payload}).encode()


def _decode(blob: bytes) -> pd.DataFrame | dict:
    payload = json.loads(bytes(blob).decode())
    frames = {
        name: pd.read_json(io.StringIO(text), orient="table")
        for name, text in payload["frames"].items()
    }
    return frames if payload["dict"] else frames[""]


def _get(path: Path, key: str):
    if not path.exists():
        return None
    with store.connect(path, read_only=False, timeout=2.0, check_version=False, role=ROLE) as con:
        con.execute(_SCHEMA)
        row = con.execute("SELECT result FROM analyses WHERE key = ?", [key]).fetchone()
    return None if row is None else _decode(row[0])


def _put(path: Path, key: str, name: str, params: str, result) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.connect(path, read_only=False, timeout=2.0, check_version=False, role=ROLE) as con:
        con.execute(_SCHEMA)
        now = datetime.now(UTC).replace(tzinfo=None)
        con.execute(
            "INSERT OR REPLACE INTO analyses VALUES (?, ?, ?, ?, ?)",
            [key, name, params, now, _encode(result)],
        )
        con.execute(
            "DELETE FROM analyses WHERE key IN (SELECT key FROM analyses "
            "ORDER BY created DESC OFFSET ?)",
            [MAX_ENTRIES],
        )


def cached(db: str | Path | None, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)``, from the analysis cache when the same call was made before.

    ``fn`` must return a DataFrame or a dict of DataFrames and depend only on its
    arguments (DataFrames are keyed by content, other arguments by their JSON form).

    Examples
    --------
    >>> verdict = cached(None, double_peak, curve, folds, smooth=1.0)  # doctest: +SKIP
    """
    path = cache_path(db)
    key = key_of(fn, args, kwargs)
    try:
        hit = _get(path, key)
    except store.StoreBusy:  # another process is writing it: compute, do not wait
        hit = None
    except (store.StoreError, duckdb.Error, OSError, ValueError, KeyError) as exc:
        # damaged (named by store), or an entry that does not decode: never used
        log.warning("%s; starting the analysis cache afresh", first_line(exc))
        clear(db)
        hit = None
    if hit is not None:
        return hit  # type: ignore[return-value]
    result = fn(*args, **kwargs)
    params = json.dumps(
        {k: v for k, v in kwargs.items() if not isinstance(v, pd.DataFrame | np.ndarray)},
        default=str,
    )
    try:
        _put(path, key, f"{fn.__module__}.{fn.__qualname__}", params, result)
    except (store.StoreError, duckdb.Error, OSError, ValueError) as exc:
        log.warning("analysis cache %s not written (%s)", path, first_line(exc))
    return result


def clear(db: str | Path | None = None) -> None:
    """Drop every cached analysis (they are recomputed on demand)."""
    cache_path(db).unlink(missing_ok=True)
    Path(f"{cache_path(db)}.wal").unlink(missing_ok=True)
