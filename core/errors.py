"""Error types and helpers shared by the command line, the app and the library."""

from __future__ import annotations


class StrataError(Exception):
    """A problem the user can fix (bad input, missing model, busy database).

    The command line prints its message as one ``error:`` line; the app shows it with
    ``st.error``.  Anything else is a bug and keeps its traceback (behind STRATA_DEBUG).
    """


class ConfigError(StrataError, ValueError):
    """A setting out of range or of the wrong kind."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message: library errors can run to pages."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ModelError(StrataError, RuntimeError):
    """A model cannot be found, read or loaded; the message says which and what to do."""
