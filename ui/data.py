"""Cached reads of the results database, keyed by its state so a new run shows at once.

``st.cache_data`` keys each call on its arguments; the state token (file size and time of
the last commit) is one of them, so moving a slider reuses the cached frames and a finished
run invalidates them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import store


def token() -> str:
    return store.state_token(None)


@st.cache_data(show_spinner=False, max_entries=64)
def _index(db, state: str) -> pd.DataFrame:
    return store.results_index(db)


@st.cache_data(show_spinner=False, max_entries=256)
def _query(db, state: str, table: str, filters: tuple) -> pd.DataFrame:
    return store.query(
        db, table, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in filters}
    )


def index() -> pd.DataFrame:
    return _index(None, token())


def query(table: str, **filters) -> pd.DataFrame:
    frozen = tuple(
        sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in filters.items())
    )
    return _query(None, token(), table, frozen)
