"""The results database (DuckDB): schema, migrations, idempotent writes, the views' queries.

DuckDB lets one process write a file, or several read it, never both at once.  So no
connection is held open: every read and write opens, works and closes, retrying while
another process has the file; writers also take a lock file, so two runs queue instead of
failing.  A run's rows replace the previous run of the same (model, stimulus_set, pooling)
in one short transaction (every frame is prepared before it begins): readers see the old
rows or the new ones, never half.

Reading never writes.  A missing file reads as an empty database, and one made by an older
Strata is read through views over the file opened read-only (its missing tables read as
empty); only a write migrates it.  A DuckDB file that is not Strata's (tables but no
``strata_meta``) is refused untouched, by readers and writers alike.  A damaged file is
named as damaged, never reported as busy.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from core.paths import cache_dir, default_db
from core.storage import dbfile

# the errors callers catch live with the file handling; re-exported here
from core.storage.dbfile import StoreBusy as StoreBusy
from core.storage.dbfile import StoreDamaged as StoreDamaged
from core.storage.dbfile import StoreError as StoreError

SCHEMA_VERSION = 3
RESULT_KEY = ("model", "stimulus_set", "pooling")


# Probes trained on one set and tested on another (core.probe.transfer): keyed by the pair
# of sets, so not a result table; written by `python -m core transfer` (schema v3).
TRANSFER_DDL = """
    CREATE TABLE IF NOT EXISTS transfer_scores (
        model TEXT NOT NULL, train_set TEXT NOT NULL, test_set TEXT NOT NULL,
        pooling TEXT NOT NULL, target TEXT NOT NULL, component TEXT NOT NULL,
        train_layer INTEGER NOT NULL, test_layer INTEGER NOT NULL, metric TEXT NOT NULL,
        score DOUBLE, score_se DOUBLE, n_folds INTEGER, n_test INTEGER, chance DOUBLE,
        is_primary BOOLEAN, train_hash TEXT, test_hash TEXT, settings TEXT,
        finished_at TIMESTAMP,
        PRIMARY KEY (model, train_set, test_set, pooling, target, component, train_layer,
                     test_layer, metric)
    );
"""
TRANSFER_KEY = ("model", "train_set", "test_set", "pooling")

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
    # v3: the surface baselines' fold scores, so a layer is tested against its baseline
    # fold by fold (the same folds: core.probe.baselines), probes trained on one set and
    # tested on another (core.probe.transfer), and the per-layer attention-sink statistics
    # of each model × stimulus set (core.lm.sinks).
    """
    CREATE TABLE IF NOT EXISTS baseline_fold_scores (
        model TEXT, stimulus_set TEXT, pooling TEXT, target TEXT, baseline TEXT, metric TEXT,
        fold INTEGER, score DOUBLE,
        PRIMARY KEY (model, stimulus_set, pooling, target, baseline, metric, fold)
    );
    CREATE TABLE IF NOT EXISTS sink_stats (
        model TEXT NOT NULL, stimulus_set TEXT NOT NULL, layer INTEGER NOT NULL,
        n_layers INTEGER, norm_ratio DOUBLE, attn_pos0 DOUBLE,
        n_norm_texts INTEGER, n_attn_texts INTEGER, norm_source TEXT,
        PRIMARY KEY (model, stimulus_set, layer)
    );
    """
    + TRANSFER_DDL,
]
# The tables the v3 step adds (a v2 file lacks them; readers see them as empty).
V3_TABLES = ("baseline_fold_scores", "sink_stats", "transfer_scores")
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
    "baseline_fold_scores",
)


# Tables a stored result may hold beside them (read through views for an older file).
KNOWN_TABLES = (*RESULT_TABLES, "runs", "transfer_scores", "sink_stats")


def _newer(path: Path, version: int, role: str = "results database") -> StoreError:
    remedy = (
        "upgrade Strata or use another --db"
        if role == "results database"
        else ("upgrade Strata to read it")
    )
    return StoreError(
        f"{role} '{path}' has schema version {version}, made by a newer Strata; "
        f"this one reads up to version {SCHEMA_VERSION}: {remedy}"
    )


def _foreign(path: Path, role: str) -> StoreError:
    return StoreError(
        f"{role} '{path}' is a DuckDB file but not Strata's (it has tables and no "
        "strata_meta table); it was left untouched: use another file"
    )


# --------------------------------------------------------------------------- opening
def _path(db: str | Path | None) -> Path:
    return Path(db) if db is not None else default_db()


def schema_version(con: duckdb.DuckDBPyConnection, *, catalog: str | None = None) -> int | None:
    """The Strata schema version of a database.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    catalog : str, optional
        An attached database to ask about instead of the connection's own.

    Returns
    -------
    int or None
        0 for a database without any table; ``None`` for one with tables but no
        ``strata_meta`` (a DuckDB file that is not Strata's).
    """
    tables = dbfile.tables(con, catalog)
    if not tables:
        return 0
    if "strata_meta" not in tables:
        return None
    prefix = f"{catalog}." if catalog else ""
    row = con.execute(
        f"SELECT value FROM {prefix}strata_meta WHERE key = 'schema_version'"
    ).fetchone()
    return int(row[0]) if row else 0


def _version(con, path: Path, role: str, catalog: str | None = None) -> int:
    """:func:`schema_version`, refusing a foreign or newer file and naming a damaged one."""
    try:
        version = schema_version(con, catalog=catalog)
    except duckdb.Error as exc:
        if dbfile.is_damage(exc):
            raise dbfile.damaged(path, role, exc) from None
        raise
    if version is None:
        raise _foreign(path, role)
    if version > SCHEMA_VERSION:
        raise _newer(path, version, role)
    return version


def _empty_schema() -> duckdb.DuckDBPyConnection:
    """An in-memory database with the current schema and no rows."""
    con = duckdb.connect(":memory:")
    for step in _MIGRATIONS:
        con.execute(step)
    return con


@functools.cache
def _columns() -> dict[str, list[tuple[str, str]]]:
    """(name, type) of every column of every known table, in the current schema."""
    con = _empty_schema()
    try:
        return {
            t: [(r[0], r[1]) for r in con.execute(f"DESCRIBE {t}").fetchall()] for t in KNOWN_TABLES
        }
    finally:
        con.close()


def _read_older(path: Path | None, *, timeout: float, role: str) -> duckdb.DuckDBPyConnection:
    """Read a missing file, or one made by an older Strata, without writing to it.

    An in-memory database holds the current schema; each table the file has is replaced by
    a view over the file (attached read-only), its columns added since read as NULL.
    """
    con = _empty_schema()
    if path is None:
        return con
    try:
        dbfile.attach(con, path, "src", timeout=timeout, role=role)
        present = dbfile.tables(con, "src")
        for table in KNOWN_TABLES:
            if table not in present:
                continue
            have = {r[0] for r in con.execute(f"DESCRIBE src.{table}").fetchall()}
            select = ", ".join(
                f'"{name}"' if name in have else f'CAST(NULL AS {kind}) AS "{name}"'
                for name, kind in _columns()[table]
            )
            con.execute(f"DROP TABLE {table}")
            con.execute(f"CREATE VIEW {table} AS SELECT {select} FROM src.{table}")
    except BaseException:
        con.close()
        raise
    return con


def _reader(path: Path, *, timeout: float, role: str) -> duckdb.DuckDBPyConnection:
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return _read_older(None, timeout=timeout, role=role)  # nothing stored yet
    if path.is_dir():
        raise StoreError(f"{role} '{path}' is a folder, not a database file")
    _wait_for_writer(path, timeout=timeout, role=role)
    con = dbfile.open_file(path, read_only=True, timeout=timeout, role=role)
    try:
        version = _version(con, path, role)
        complete = set(KNOWN_TABLES) <= set(dbfile.tables(con))
    except BaseException:
        con.close()
        raise
    if version == SCHEMA_VERSION and complete:
        return con
    con.close()
    return _read_older(path, timeout=timeout, role=role)


@contextmanager
def connect(
    db: str | Path | None = None,
    *,
    read_only: bool = True,
    timeout: float = 60.0,
    check_version: bool = True,
    role: str = "results database",
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database briefly, retrying while another process holds it.

    A reader (``read_only`` with ``check_version``) sees the current schema whatever the
    file: a missing file reads as empty, an older one through views; nothing is written.

    Parameters
    ----------
    role : str, default="results database"
        What the file is to the command, for the messages ("results file", "analysis
        cache").

    Raises
    ------
    StoreBusy
        When the file stays busy for ``timeout`` seconds.
    StoreDamaged
        When it is damaged (also when the damage shows while reading it) or not DuckDB's.
    StoreError
        When it is not Strata's or has a newer schema.
    """
    path = _path(db)
    if read_only and check_version:
        con = _reader(path, timeout=timeout, role=role)
    else:
        con = dbfile.open_file(path, read_only=read_only, timeout=timeout, role=role)
    try:
        yield con
    except duckdb.Error as exc:
        if dbfile.is_damage(exc):
            raise dbfile.damaged(path, role, exc) from None
        raise
    finally:
        con.close()


def check_exists(db: str | Path | None = None, *, role: str = "results database") -> Path:
    """Refuse a database file that is not there (a mistyped --db would read as empty).

    Parameters
    ----------
    db : path, optional
        Default: ``cache/strata.duckdb``.
    role : str, default="results database"
        What the file is to the command, for the message.

    Returns
    -------
    Path

    Raises
    ------
    StoreError
        When the file does not exist.
    """
    path = _path(db)
    if not path.is_file():
        raise StoreError(
            f"{role} '{path}' does not exist" + (" (it is a folder)" if path.is_dir() else "")
        )
    return path


def check_writable(db: str | Path | None = None) -> Path:
    """What a write command checks before any work: a file it may create or migrate.

    ``db`` is a path (default ``cache/strata.duckdb``); returns it as a ``Path``.

    The folder must exist (a --db into a missing folder is refused, never created; only
    Strata's own cache folder is made on demand), and an existing file must be a Strata
    database (or a new, empty one) no newer than this Strata.  Nothing else is written.

    Raises
    ------
    StoreError
        Naming the problem.
    """
    path = _path(db)
    if path.is_dir():
        raise StoreError(f"results database '{path}' is a folder; give a file name in it")
    # Strata's own cache folder is made on demand (cache_dir() makes it); no other folder
    if not path.parent.is_dir() and path.parent.resolve() != cache_dir().resolve():
        raise StoreError(
            f"the folder of results database '{path}' does not exist: create it first "
            "(Strata does not create folders for --db)"
        )
    if not os.access(path.parent, os.W_OK):
        raise StoreError(f"cannot write results database '{path}': its folder is read-only")
    if path.exists() and path.stat().st_size > 0:
        with connect(path, read_only=True, check_version=False) as con:
            _version(con, path, "results database")
    return path


# --------------------------------------------------------------------------- writing
# After a write, the next writer waits this long before it takes the file, so readers
# held off by the first write get their turn (else two runs writing back to back would
# keep every reader waiting for both).
READER_WINDOW_S = 0.2


@contextmanager
def _writer_lock(path: Path, timeout: float) -> Iterator[None]:
    """One writer at a time across processes; the next one waits its turn.

    The lock file's modification time records when the last write ended: a writer that
    gets the lock within :data:`READER_WINDOW_S` of it lets go and comes back after.
    """
    lock = f"{path}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        os.utime(fd, (0, 0))  # new: no write has ended yet
    except FileExistsError:
        fd = os.open(lock, os.O_RDWR)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"another Strata run has been writing '{path}' for over {timeout:.0f} s; "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.05)
                continue
            since = time.time() - os.fstat(fd).st_mtime
            if 0 <= since < READER_WINDOW_S:  # a write just ended: readers first
                fcntl.flock(fd, fcntl.LOCK_UN)
                time.sleep(READER_WINDOW_S - since)
                continue
            break
        yield
    finally:
        with contextlib.suppress(OSError):
            os.utime(fd)  # when this write ended, for the next writer
        os.close(fd)  # releases the lock


def _wait_for_writer(path: Path, *, timeout: float, role: str) -> None:
    """Let a writer that is waiting for the file go first.

    DuckDB gives the file to readers as long as any reader has it open, so readers in a
    loop (app sessions) could hold a run's write off for as long as they keep reading.
    A writer takes the lock file before it opens the database: a reader that sees it held
    waits its turn, and the writer only waits for the reads already under way.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while writing(path):
        if time.monotonic() > deadline:
            raise StoreBusy(
                f"{role} '{path}' stayed busy for {timeout:.0f} s "
                "(another run is writing); try again when it has finished"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, dbfile.MAX_POLL_S)


def writing(db: str | Path | None = None) -> bool:
    """Whether a run holds the writer lock now, so a read would wait (the app says so).

    Asks the lock file without creating it; nothing is written.

    Parameters
    ----------
    db : path, optional
        Default: ``cache/strata.duckdb``.

    Returns
    -------
    bool
    """
    try:
        fd = os.open(f"{_path(db)}.lock", os.O_RDONLY)
    except OSError:
        return False  # never written by a run: nobody is writing
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextmanager
def writer(db: str | Path | None = None, *, timeout: float = 600.0):
    """A read-write connection inside the cross-process writer lock, schema up to date.

    Checked first (:func:`check_writable`): a foreign, newer or damaged file is refused
    before anything is written to it.  Read through the connection it yields, never
    through :func:`connect` inside it: a reader waits for this very writer.
    """
    path = check_writable(db)
    with _writer_lock(path, timeout):
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()  # an empty file holds nothing, and DuckDB cannot open it
        with connect(path, read_only=False, timeout=timeout) as con:
            _migrate(con, path)
            yield con


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction: committed when the block ends, rolled back (and re-raised) on any
    error, the commit's own included.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection with no transaction open.

    Yields
    ------
    duckdb.DuckDBPyConnection
        ``con`` itself.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame``'s rows to ``table`` (its columns already in the table's order).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    table : str
    frame : DataFrame
    """
    con.register("incoming", frame)
    con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
    con.unregister("incoming")


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    version = _version(con, path, "results database")
    if version == SCHEMA_VERSION:
        return
    with _transaction(con):
        con.execute("CREATE TABLE IF NOT EXISTS strata_meta (key TEXT PRIMARY KEY, value TEXT)")
        for step in range(version, SCHEMA_VERSION):
            con.execute(_MIGRATIONS[step])
        con.execute(
            "INSERT OR REPLACE INTO strata_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )


def ensure_schema(db: str | Path | None = None) -> None:
    """Create or migrate the database for writing (a no-op when it is current).

    Raises
    ------
    StoreError
        For a database made by a newer Strata, a foreign or damaged file.
    """
    path = _path(db)
    if path.is_file() and path.stat().st_size > 0:
        with connect(path, read_only=True, check_version=False) as con:
            if _version(con, path, "results database") == SCHEMA_VERSION:
                return
    with writer(path):
        pass


def _prepare(table: str, frame: pd.DataFrame, key: list) -> pd.DataFrame:
    """A frame with the result key added and the table's columns in order (before BEGIN)."""
    if table not in RESULT_TABLES:
        raise ValueError(f"unknown result table {table}")
    frame = frame.assign(**dict(zip(RESULT_KEY, key)))
    return frame[[name for name, _ in _columns()[table]]]


@dataclass(frozen=True)
class WriteTiming:
    """How long a write waited for its turn, and held the file (what readers wait for)."""

    waited_s: float
    held_s: float


def write_run(
    db: str | Path | None,
    *,
    run: dict,
    tables: dict[str, pd.DataFrame],
) -> WriteTiming:
    """Replace one (model, stimulus_set, pooling) result with a new run, atomically.

    ``tables`` maps table names in :data:`RESULT_TABLES` to frames holding every column
    except the result key, which comes from ``run``.  Everything is prepared before the
    database is opened, so readers wait only for the deletes and inserts themselves.

    Returns
    -------
    WriteTiming
        Seconds spent waiting for the writer lock and the file, and holding the file.
    """
    started = time.perf_counter()
    key = [run[k] for k in RESULT_KEY]
    frames = {table: _prepare(table, frame, key) for table, frame in tables.items()}
    row = {k: _jsonable(v) for k, v in run.items()}
    run_columns = [name for name, _ in _columns()["runs"]]
    values = [row.get(c) for c in run_columns]
    with writer(db) as con:
        opened = time.perf_counter()
        with _transaction(con):
            for table in RESULT_TABLES:
                con.execute(
                    f"DELETE FROM {table} WHERE model = ? AND stimulus_set = ? AND pooling = ?", key
                )
            _fault_point("store")
            for table, frame in frames.items():
                _insert(con, table, frame)
            con.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(run_columns)}) "
                f"VALUES ({', '.join('?' for _ in run_columns)})",
                values,
            )
    return WriteTiming(waited_s=opened - started, held_s=time.perf_counter() - opened)


def write_transfer(db: str | Path | None, frame: pd.DataFrame, *, key: dict) -> WriteTiming:
    """Replace the transfer scores of one (model, train_set, test_set, pooling), atomically.

    Only the targets in ``frame`` are replaced (a run for one ``--target`` keeps the
    others).  The frame is prepared before the file is opened; the deletes and inserts are
    one transaction, so a killed write leaves the previous rows.

    Parameters
    ----------
    frame : DataFrame
        :data:`core.probe.transfer.COLUMNS` plus ``train_hash``, ``test_hash``,
        ``settings`` (JSON text) and ``finished_at``.
    key : dict
        ``model``, ``train_set``, ``test_set``, ``pooling``.

    Returns
    -------
    WriteTiming
    """
    started = time.perf_counter()
    values = [key[k] for k in TRANSFER_KEY]
    columns = [name for name, _ in _columns()["transfer_scores"]]
    rows = frame.assign(**{k: key[k] for k in TRANSFER_KEY})[columns]
    targets = sorted(rows["target"].unique())
    with writer(db) as con:
        opened = time.perf_counter()
        with _transaction(con):
            con.execute(
                "DELETE FROM transfer_scores WHERE model = ? AND train_set = ? AND test_set = ? "
                f"AND pooling = ? AND target IN ({', '.join('?' for _ in targets)})",
                values + targets,
            )
            _fault_point("transfer")
            _insert(con, "transfer_scores", rows)
    return WriteTiming(waited_s=opened - started, held_s=time.perf_counter() - opened)


def write_sink_stats(
    db: str | Path | None, *, model: str, stimulus_set: str, stats: pd.DataFrame
) -> None:
    """Replace the ``sink_stats`` rows of one model × stimulus set, in one transaction.

    Parameters
    ----------
    stats : DataFrame
        One row per layer: ``layer``, ``norm_ratio``, ``attn_pos0`` and optionally
        ``n_norm_texts``, ``n_attn_texts``, ``norm_source`` (:mod:`core.lm.sinks`).
    """
    frame = stats.assign(model=model, stimulus_set=stimulus_set, n_layers=len(stats))
    columns = [name for name, _ in _columns()["sink_stats"]]
    frame = frame.reindex(columns=columns)
    with writer(db) as con, _transaction(con):
        con.execute(
            "DELETE FROM sink_stats WHERE model = ? AND stimulus_set = ?", [model, stimulus_set]
        )
        _insert(con, "sink_stats", frame)


def sink_stats(db: str | Path | None = None, **filters) -> pd.DataFrame:
    """``sink_stats`` rows (empty for a file without the table), filtered like :func:`query`."""
    where, params = _where(filters)
    with connect(db) as con:
        if "sink_stats" not in dbfile.tables(con) and "sink_stats" not in _views(con):
            return pd.DataFrame(columns=[name for name, _ in _columns()["sink_stats"]])
        return con.execute(f"SELECT * FROM sink_stats{where}", params).df()


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}


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
    if table not in KNOWN_TABLES:
        raise ValueError(f"unknown table {table}")
    where, params = _where(filters)
    with connect(db) as con:
        return con.execute(f"SELECT * FROM {table}{where}", params).df()


def results_index(db: str | Path | None = None) -> pd.DataFrame:
    """One row per stored result: model, stimulus set, pooling, size, when it was made, and
    the content hash of the stimulus set it was computed on (``stimuli_hash``)."""
    with connect(db) as con:
        return con.execute(
            """
            SELECT p.model, p.stimulus_set, p.pooling, any_value(p.n_layers) AS n_layers,
                   count(DISTINCT p.target) AS n_targets, count(*) AS n_rows,
                   any_value(r.finished_at) AS finished_at, any_value(r.run_id) AS run_id,
                   any_value(r.stimuli_hash) AS stimuli_hash
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
    path = _path(db)
    parts = []
    for file in (path, Path(f"{path}.wal")):
        if file.exists():
            stat = file.stat()
            parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
    return "|".join(parts) or "empty"


# --------------------------------------------------------------------------- travel
def _source_version(source: Path, role: str) -> int:
    """Check a file that is only read (export's database, import's file); nothing written."""
    with connect(source, read_only=True, check_version=False, role=role) as con:
        return _version(con, source, role)


def export_results(db: str | Path | None, out: str | Path, **filters) -> int:
    """Copy results (all, or filtered by model/stimulus_set/pooling) into a new DuckDB file.

    The source is only read (an older Strata's file included: the tables it has are
    copied).  The new file is written under a temporary name and renamed when complete.
    Returns the number of results (model × stimulus set × pooling) written.

    Raises
    ------
    StoreError
        When ``out`` exists or its folder does not, or the source is missing, foreign,
        damaged or newer.
    """
    out = Path(out)
    if out.exists():
        raise StoreError(f"'{out}' exists; choose a new file name for the export")
    if not out.parent.is_dir():
        raise StoreError(f"the folder of '{out}' does not exist: create it first")
    source = check_exists(db)
    _source_version(source, "results database")
    where, params = _where(filters)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            _migrate(con, tmp)
            dbfile.attach(con, source, "src", timeout=60.0, role="results database")
            present = dbfile.tables(con, "src")
            con.execute("BEGIN TRANSACTION")
            for table in RESULT_TABLES:
                if table in present:
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM src.{table}{where}", params
                    )
            if "runs" in present:
                con.execute(
                    "INSERT INTO runs BY NAME SELECT * FROM src.runs WHERE run_id IN "
                    "(SELECT DISTINCT run_id FROM probe_scores)"
                )
            if "transfer_scores" in present:
                # a transfer travels when its model and both its sets are exported
                where_t, params_t = _where({"model": filters.get("model")})
                sets = filters.get("stimulus_set")
                if sets is not None:
                    sets = [sets] if isinstance(sets, str) else list(sets)
                    marks = ", ".join("?" for _ in sets) or "NULL"
                    where_t += (" AND " if where_t else " WHERE ") + (
                        f"train_set IN ({marks}) AND test_set IN ({marks})"
                    )
                    params_t += sets + sets
                con.execute(
                    "INSERT INTO transfer_scores BY NAME "
                    f"SELECT * FROM src.transfer_scores{where_t}",
                    params_t,
                )
            if "sink_stats" in present:  # per model × set: a pooling filter does not apply
                by_set = {k: v for k, v in filters.items() if k in ("model", "stimulus_set")}
                sink_where, sink_params = _where(by_set)
                con.execute(
                    f"INSERT INTO sink_stats BY NAME SELECT * FROM src.sink_stats{sink_where}",
                    sink_params,
                )
            con.execute("COMMIT")
            n = con.execute(
                "SELECT count(*) FROM "
                "(SELECT DISTINCT model, stimulus_set, pooling FROM probe_scores)"
            ).fetchone()[0]
            con.execute("DETACH src")
        except duckdb.Error as exc:
            if dbfile.is_damage(exc):
                raise dbfile.damaged(source, "results database", exc) from None
            raise
        finally:
            con.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return int(n)


def import_results(db: str | Path | None, source: str | Path) -> list[tuple[str, str, str]]:
    """Merge another results file into this one; its results replace ours of the same key.

    The source is only read: a file made by an older Strata is merged from the tables it
    has, and a result it lacks a table for loses that table's old rows here too (a result
    is replaced as a whole).  Provenance travels with the runs table (machine, versions,
    backend).  Returns the merged (model, stimulus_set, pooling) keys.

    Raises
    ------
    StoreError
        When the source is missing, the database itself, foreign, damaged or newer.
    """
    source = check_exists(source, role="results file")
    target = _path(db)
    if target.exists() and os.path.samefile(source, target):
        raise StoreError(f"'{source}' is the results database itself; import another file into it")
    if _source_version(source, "results file") == 0:
        raise StoreError(f"results file '{source}' holds no Strata results (it has no tables)")
    with writer(target) as con:
        dbfile.attach(con, source, "src", timeout=60.0, role="results file")
        try:
            present = dbfile.tables(con, "src")
            keys = (
                con.execute(
                    "SELECT DISTINCT model, stimulus_set, pooling FROM src.probe_scores "
                    "ORDER BY ALL"
                ).fetchall()
                if "probe_scores" in present
                else []
            )
            con.execute("BEGIN TRANSACTION")
            for table in RESULT_TABLES if keys else ():
                con.execute(
                    f"DELETE FROM {table} WHERE (model, stimulus_set, pooling) IN "
                    "(SELECT DISTINCT model, stimulus_set, pooling FROM src.probe_scores)"
                )
                if table in present:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src.{table}")
            if keys and "runs" in present:
                con.execute("INSERT OR REPLACE INTO runs BY NAME SELECT * FROM src.runs")
            if "transfer_scores" in present:  # the source's transfers replace ours
                con.execute(
                    "DELETE FROM transfer_scores WHERE (model, train_set, test_set, pooling) IN "
                    "(SELECT DISTINCT model, train_set, test_set, pooling "
                    "FROM src.transfer_scores)"
                )
                con.execute("INSERT INTO transfer_scores BY NAME SELECT * FROM src.transfer_scores")
            if "sink_stats" in present:
                con.execute(
                    "DELETE FROM sink_stats WHERE (model, stimulus_set) IN "
                    "(SELECT DISTINCT model, stimulus_set FROM src.sink_stats)"
                )
                con.execute("INSERT INTO sink_stats BY NAME SELECT * FROM src.sink_stats")
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):  # none open when ATTACH's reads failed
                con.execute("ROLLBACK")
            if dbfile.is_damage(exc):
                raise dbfile.damaged(source, "results file", exc) from None
            raise
        finally:
            con.execute("DETACH src")
    return [tuple(k) for k in keys]
