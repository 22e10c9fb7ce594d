"""The results database (DuckDB): schema, migrations, idempotent writes, the views' queries.

DuckDB lets one process write a file, or several read it, never both at once.  So no
connection is held open: every read and write opens, works and closes, retrying while
another process has the file; writers also take a lock file, so two runs queue instead of
failing.  A run's rows replace the previous run of the same (model, stimulus_set, pooling)
in one transaction: readers see the old rows or the new ones, never half.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from core.errors import StrataError
from core.paths import default_db

SCHEMA_VERSION = 2
RESULT_KEY = ("model", "stimulus_set", "pooling")


class StoreError(StrataError, RuntimeError):
    """The results database is busy, damaged or from a newer Strata."""


class StoreBusy(StoreError):
    """Another process kept the database (or its writer lock) past the timeout."""


# Each migration takes a database at version i to i+1.  Version 0 is an empty file.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        model TEXT NOT NULL, stimulus_set TEXT NOT NULL, pooling TEXT NOT NULL,
        stimuli_hash TEXT, activation_key TEXT,
        n_items INTEGER, n_layers INTEGER, d_model INTEGER,
        model_info TEXT, settings TEXT, versions TEXT, machine TEXT, timings TEXT,
        started_at TIMESTAMP, finished_at TIMESTAMP
    );
    CREATE TABLE IF NOT EXISTS probe_scores (
        model TEXT NOT NULL, stimulus_set TEXT NOT NULL, pooling TEXT NOT NULL,
        target TEXT NOT NULL, component TEXT NOT NULL, layer INTEGER NOT NULL,
        n_layers INTEGER NOT NULL, probe TEXT NOT NULL, metric TEXT NOT NULL,
        score DOUBLE, score_se DOUBLE, chance DOUBLE,
        null_mean DOUBLE, null_sd DOUBLE, null_lo DOUBLE, null_hi DOUBLE,
        p_value DOUBLE, n_perm INTEGER, n_null INTEGER, n_folds INTEGER, is_primary BOOLEAN,
        run_id TEXT,
        PRIMARY KEY (model, stimulus_set, pooling, target, component, layer, metric)
    );
    CREATE TABLE IF NOT EXISTS fold_scores (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, component TEXT,
        layer INTEGER, metric TEXT, fold INTEGER, score DOUBLE,
        PRIMARY KEY (model, stimulus_set, pooling, target, component, layer, metric, fold)
    );
    CREATE TABLE IF NOT EXISTS null_scores (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, component TEXT,
        layer INTEGER, metric TEXT, perm INTEGER, score DOUBLE,
        PRIMARY KEY (model, stimulus_set, pooling, target, component, layer, metric, perm)
    );
    CREATE TABLE IF NOT EXISTS half_scores (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, component TEXT,
        layer INTEGER, metric TEXT, split INTEGER, half INTEGER, score DOUBLE,
        PRIMARY KEY (model, stimulus_set, pooling, target, component, layer, metric, split, half)
    );
    CREATE TABLE IF NOT EXISTS targets (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, kind TEXT, probe TEXT,
        n_classes INTEGER, positive_rate DOUBLE, position INTEGER,
        PRIMARY KEY (model, stimulus_set, pooling, target)
    );
    CREATE TABLE IF NOT EXISTS folds (
        model TEXT, stimulus_set TEXT, pooling TEXT, item_id TEXT, "group" TEXT,
        fold INTEGER, row_index INTEGER,
        PRIMARY KEY (model, stimulus_set, pooling, item_id)
    );
    """,
    # v2: per-stimulus held-out predictions (drill-down, resampling over stimuli) and the
    # surface baselines every curve is measured against (DESIGN.md contracts 6 and 7).
    # No primary-key index on item_predictions: ~0.6 M rows per result, replaced as a whole.
    """
    CREATE TABLE IF NOT EXISTS item_predictions (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, component TEXT,
        layer INTEGER, item_id TEXT, fold INTEGER,
        y_true DOUBLE, y_pred DOUBLE, decision DOUBLE
    );
    CREATE TABLE IF NOT EXISTS baseline_scores (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, baseline TEXT, metric TEXT,
        score DOUBLE, score_se DOUBLE,
        PRIMARY KEY (model, stimulus_set, pooling, target, baseline, metric)
    );
    """,
]
# Tables whose rows belong to one (model, stimulus_set, pooling) result and are replaced
# together when that result is rewritten.
RESULT_TABLES = (
    "probe_scores",
    "fold_scores",
    "null_scores",
    "half_scores",
    "targets",
    "folds",
    "item_predictions",
    "baseline_scores",
)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "used by another" in text


@contextmanager
def connect(
    db: str | Path | None = None,
    *,
    read_only: bool = True,
    timeout: float = 60.0,
    check_version: bool = True,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database briefly, retrying while another process holds it.

    A reader first brings a missing or older database up to the current schema, and
    refuses one made by a newer Strata.

    Raises
    ------
    StoreError
        When the file stays busy for ``timeout`` seconds, is not a DuckDB database, or
        has a newer schema.
    """
    path = Path(db) if db is not None else default_db()
    if read_only and check_version:
        ensure_schema(path)
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open results database '{path}': {exc}") from None
            if time.monotonic() > deadline:
                raise StoreBusy(
                    f"results database '{path}' stayed busy for {timeout:.0f} s "
                    "(another run is writing); try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _writer_lock(path: Path, timeout: float) -> Iterator[None]:
    """One writer at a time across processes; the next one waits its turn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"another Strata run has been writing '{path}' for over {timeout:.0f} s; "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def writer(db: str | Path | None = None, *, timeout: float = 600.0):
    """A read-write connection inside the cross-process writer lock, schema up to date."""
    path = Path(db) if db is not None else default_db()
    with _writer_lock(path, timeout), connect(path, read_only=False, timeout=timeout) as con:
        _migrate(con, path)
        yield con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    if "strata_meta" not in tables:
        return 0
    row = con.execute("SELECT value FROM strata_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _newer(path: Path, version: int) -> StoreError:
    return StoreError(
        f"results database '{path}' has schema version {version}, made by a newer Strata; "
        f"this one reads up to version {SCHEMA_VERSION}: upgrade Strata or use another --db"
    )


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        raise _newer(path, version)
    if version == SCHEMA_VERSION:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE TABLE IF NOT EXISTS strata_meta (key TEXT PRIMARY KEY, value TEXT)")
        for step in range(version, SCHEMA_VERSION):
            con.execute(_MIGRATIONS[step])
        con.execute(
            "INSERT OR REPLACE INTO strata_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def ensure_schema(db: str | Path | None = None) -> None:
    """Create or migrate the database (a no-op when it is current).

    Raises
    ------
    StoreError
        For a database made by a newer Strata, or a file that is not a DuckDB database.
    """
    path = Path(db) if db is not None else default_db()
    if path.exists():
        with connect(path, read_only=True, check_version=False) as con:
            version = schema_version(con)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise _newer(path, version)
    with writer(path):
        pass


def write_run(
    db: str | Path | None,
    *,
    run: dict,
    tables: dict[str, pd.DataFrame],
) -> None:
    """Replace one (model, stimulus_set, pooling) result with a new run, atomically.

    ``tables`` maps table names in :data:`RESULT_TABLES` to frames holding every column
    except the result key, which comes from ``run``.
    """
    key = [run[k] for k in RESULT_KEY]
    with writer(db) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for table in RESULT_TABLES:
                con.execute(
                    f"DELETE FROM {table} WHERE model = ? AND stimulus_set = ? AND pooling = ?", key
                )
            _fault_point("store")
            for table, frame in tables.items():
                if table not in RESULT_TABLES:
                    raise ValueError(f"unknown result table {table}")
                frame = frame.assign(**dict(zip(RESULT_KEY, key)))
                columns = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
                frame = frame[columns]
                con.register("incoming", frame)
                con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
                con.unregister("incoming")
            row = {k: _jsonable(v) for k, v in run.items()}
            columns = [c[0] for c in con.execute("DESCRIBE runs").fetchall()]
            con.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                [row.get(c) for c in columns],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _fault_point(name: str) -> None:
    """Reliability tests set ``STRATA_FAULT_PAUSE=<name>`` to be killed at this point."""
    if os.environ.get("STRATA_FAULT_PAUSE") == name:
        Path(os.environ["STRATA_FAULT_FLAG"]).write_text(name)
        time.sleep(60)


def _jsonable(value):
    return json.dumps(value, default=str) if isinstance(value, dict | list) else value


# --------------------------------------------------------------------------- queries
def _where(filters: dict) -> tuple[str, list]:
    clauses, params = [], []
    for column, value in filters.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            values = list(value)
            if not values:
                clauses.append("FALSE")
                continue
            clauses.append(f'"{column}" IN ({", ".join("?" for _ in values)})')
            params.extend(values)
        else:
            clauses.append(f'"{column}" = ?')
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def query(db: str | Path | None, table: str, **filters) -> pd.DataFrame:
    """Rows of a result table, filtered by equality (a list means any of)."""
    if table not in (*RESULT_TABLES, "runs"):
        raise ValueError(f"unknown table {table}")
    where, params = _where(filters)
    with connect(db) as con:
        return con.execute(f"SELECT * FROM {table}{where}", params).df()


def results_index(db: str | Path | None = None) -> pd.DataFrame:
    """One row per stored result: model, stimulus set, pooling, size and when it was made."""
    with connect(db) as con:
        return con.execute(
            """
            SELECT p.model, p.stimulus_set, p.pooling, any_value(p.n_layers) AS n_layers,
                   count(DISTINCT p.target) AS n_targets, count(*) AS n_rows,
                   any_value(r.finished_at) AS finished_at, any_value(r.run_id) AS run_id
            FROM probe_scores p LEFT JOIN runs r ON r.run_id = p.run_id
            GROUP BY p.model, p.stimulus_set, p.pooling
            ORDER BY p.model, p.stimulus_set, p.pooling
            """
        ).df()


def latest_run(db: str | Path | None, model: str, stimulus_set: str, pooling: str) -> dict | None:
    """The run behind a stored result, with its JSON fields decoded."""
    with connect(db) as con:
        frame = con.execute(
            """
            SELECT r.* FROM runs r
            WHERE r.run_id = (SELECT any_value(run_id) FROM probe_scores
                              WHERE model = ? AND stimulus_set = ? AND pooling = ?)
            """,
            [model, stimulus_set, pooling],
        ).df()
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    for column in ("model_info", "settings", "versions", "machine", "timings"):
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    return row


def state_token(db: str | Path | None = None) -> str:
    """Changes whenever a write commits: the key for the app's query caches."""
    path = Path(db) if db is not None else default_db()
    parts = []
    for file in (path, Path(f"{path}.wal")):
        if file.exists():
            stat = file.stat()
            parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
    return "|".join(parts) or "empty"


# --------------------------------------------------------------------------- travel
def export_results(db: str | Path | None, out: str | Path, **filters) -> int:
    """Copy results (all, or filtered by model/stimulus_set/pooling) into a new DuckDB file.

    Returns the number of results (model × stimulus set × pooling) written.
    """
    out = Path(out)
    if out.exists():
        raise StoreError(f"'{out}' exists; choose a new file name for the export")
    ensure_schema(out)
    source = Path(db) if db is not None else default_db()
    where, params = _where(filters)
    with writer(out) as con:
        con.execute(f"ATTACH '{_sql_path(source)}' AS src (READ_ONLY)")
        try:
            con.execute("BEGIN TRANSACTION")
            for table in RESULT_TABLES:
                con.execute(f"INSERT INTO {table} SELECT * FROM src.{table}{where}", params)
            con.execute(
                "INSERT INTO runs SELECT * FROM src.runs WHERE run_id IN "
                "(SELECT DISTINCT run_id FROM probe_scores)"
            )
            con.execute("COMMIT")
            n = con.execute(
                "SELECT count(*) FROM "
                "(SELECT DISTINCT model, stimulus_set, pooling FROM probe_scores)"
            ).fetchone()[0]
        finally:
            con.execute("DETACH src")
    return int(n)


def import_results(db: str | Path | None, source: str | Path) -> list[tuple[str, str, str]]:
    """Merge another results file into this one; its results replace ours of the same key.

    Provenance travels with the runs table (machine, versions, backend).  Returns the
    merged (model, stimulus_set, pooling) keys.
    """
    source = Path(source)
    if not source.is_file():
        raise StoreError(f"results file '{source}' does not exist")
    with connect(source, check_version=False) as con:
        version = schema_version(con)
    if version > SCHEMA_VERSION:
        raise _newer(source, version)
    if version < SCHEMA_VERSION:
        ensure_schema(source)
    with writer(db) as con:
        con.execute(f"ATTACH '{_sql_path(source)}' AS src (READ_ONLY)")
        try:
            keys = con.execute(
                "SELECT DISTINCT model, stimulus_set, pooling FROM src.probe_scores ORDER BY ALL"
            ).fetchall()
            con.execute("BEGIN TRANSACTION")
            for table in RESULT_TABLES:
                con.execute(
                    f"DELETE FROM {table} WHERE (model, stimulus_set, pooling) IN "
                    "(SELECT DISTINCT model, stimulus_set, pooling FROM src.probe_scores)"
                )
                con.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
            con.execute("INSERT OR REPLACE INTO runs SELECT * FROM src.runs")
            con.execute("COMMIT")
        finally:
            con.execute("DETACH src")
    return [tuple(k) for k in keys]


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")
