"""The results index, cached and keyed by the database's state so a new run shows at once.

``st.cache_data`` keys each call on its arguments; the state token (file size and time of
the last commit) is one of them, so a rerun of a page reuses the cached frame and a
finished run invalidates it.  Pages key their own cached analyses on :func:`token` too.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.present import views
from core.storage import store


def token() -> str:
    return store.state_token(None)


@st.cache_data(show_spinner=False, max_entries=64)
def _index(db, state: str) -> pd.DataFrame:
    return views.results_index(db)


def index() -> pd.DataFrame:
    return _index(None, token())
