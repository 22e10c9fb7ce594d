"""A DuckDB file opened briefly and safely: busy, damaged and foreign files told apart.

DuckDB lets one process write a file, or several read it, never both at once, and says
so with "Could not set lock on file ...: Conflicting lock is held".  Only those words mean
busy: a failed block checksum, a truncated file or a file that is not DuckDB's is damage,
named as such, never waited on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from core.errors import StrataError, first_line

T = TypeVar("T")


class StoreError(StrataError, RuntimeError):
    """The results database is busy, damaged, foreign, missing or from a newer Strata."""


class StoreBusy(StoreError):
    """Another process kept the database (or its writer lock) past the timeout."""


class StoreDamaged(StoreError):
    """The file fails DuckDB's block checksums, is truncated, or is not a DuckDB file."""


# Longest pause between two tries to open a busy file: short, so a reader slips in as
# soon as a writer closes (a failed try costs well under a millisecond).
MAX_POLL_S = 0.1

# What to do about a damaged file, by what the file is to the command.
_REMEDY = {
    "results database": "restore it from a copy or use another --db",
    "results file": "copy it again from where it was made",
    "analysis cache": "it is rebuilt on demand",
}


# --------------------------------------------------------------------------- errors
def is_lock_error(exc: Exception) -> bool:
    """Another process holds the file: DuckDB's own words for its lock, nothing looser.

    (Matching "lock" alone took "checksum ... in block at location 4096", a damaged
    file, for a busy one.)
    """
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and (
        "could not set lock" in text
        or "conflicting lock" in text
        or "being used by another process" in text
    )


def is_damage(exc: Exception) -> bool:
    """A failed block checksum, a file shorter than its header says, an unreadable block."""
    if isinstance(exc, duckdb.SerializationException | duckdb.InternalException):
        return True
    text = str(exc).lower()
    return any(
        words in text
        for words in ("corrupt", "checksum", "could not read enough bytes", "failed to read")
    )


def _what_is_damaged(exc: Exception) -> str:
    text = first_line(exc)
    block = re.search(r"in block at location (\d+)", text)
    if block:
        return f"checksum mismatch in the block at byte {block[1]}"
    if "could not read enough bytes" in text.lower():
        return "the file ends early: truncated?"
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    return text if len(text) <= 120 else text[:117] + "..."


def damaged(path: Path, role: str, exc: Exception) -> StoreDamaged:
    """The one-line error for a damaged file.

    Parameters
    ----------
    path : Path
        The file.
    role : str
        What it is to the command ("results database", "results file", "analysis cache").
    exc : Exception
        DuckDB's error, reduced to where the damage is.

    Returns
    -------
    StoreDamaged
    """
    remedy = _REMEDY.get(role, "restore it from a copy")
    return StoreDamaged(f"{role} '{path}' is damaged ({_what_is_damaged(exc)}): {remedy}")


def open_error(path: Path, role: str, exc: Exception) -> StoreError:
    """The one-line error for a file DuckDB would not open (not a lock: see the caller).

    Parameters
    ----------
    path : Path
    role : str
        What the file is to the command, as in :func:`damaged`.
    exc : Exception
        DuckDB's error.

    Returns
    -------
    StoreError
        :class:`StoreDamaged` for damage or a file that is not DuckDB's.
    """
    text = str(exc).lower()
    if "not a valid duckdb database file" in text:
        return StoreDamaged(f"{role} '{path}' is not a DuckDB database file: use another file")
    if is_damage(exc):
        return damaged(path, role, exc)
    if "permission denied" in text:
        return StoreError(f"cannot open {role} '{path}': permission denied")
    return StoreError(f"cannot open {role} '{path}': {first_line(exc)}")


# --------------------------------------------------------------------------- opening
def _retrying(action: Callable[[], T], path: Path, *, timeout: float, role: str) -> T:
    """``action()``, tried again while another process holds ``path``'s lock.

    Raises
    ------
    StoreBusy
        When the file stays locked for ``timeout`` seconds.
    StoreDamaged, StoreError
        For a damaged or foreign-format file, or one that cannot be opened.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            return action()
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise open_error(path, role, exc) from None
            if time.monotonic() > deadline:
                raise StoreBusy(
                    f"{role} '{path}' stayed busy for {timeout:.0f} s "
                    "(another run is writing); try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_S)


def open_file(
    path: Path, *, read_only: bool, timeout: float, role: str
) -> duckdb.DuckDBPyConnection:
    """A connection to ``path``, retrying while another process holds the file.

    Parameters
    ----------
    path : Path
    read_only : bool
    timeout : float
        Seconds to keep trying while the file is locked.
    role : str
        What the file is to the command, for the messages.

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    StoreBusy, StoreDamaged, StoreError
        As :func:`_retrying`.
    """
    return _retrying(
        lambda: duckdb.connect(str(path), read_only=read_only), path, timeout=timeout, role=role
    )


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, *, timeout: float, role: str):
    """``ATTACH path AS alias (READ_ONLY)`` on ``con``, retrying while a writer holds it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    path : Path
    alias : str
        The attached database's name in ``con``.
    timeout : float
    role : str
        As :func:`open_file`.
    """
    sql = f"ATTACH '{sql_path(path)}' AS {alias} (READ_ONLY)"
    _retrying(lambda: con.execute(sql), path, timeout=timeout, role=role)


def tables(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> set[str]:
    """The tables of the connection's own database, or of an attached one.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    catalog : str, optional
        An attached database's name (default: the connection's own).

    Returns
    -------
    set of str
    """
    if catalog is None:
        catalog = con.execute("SELECT current_database()").fetchone()[0]
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [catalog]
    ).fetchall()
    return {r[0] for r in rows}


def sql_path(path: Path) -> str:
    """``path`` made absolute and quoted for a SQL string literal."""
    return str(path.resolve()).replace("'", "''")
