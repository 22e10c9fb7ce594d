"""The frame every page shares: the results index, the sidebar picker, one-line errors."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import StrataError, first_line
from core.storage import store
from ui import data
from ui.state import Selection, sidebar


def setup(title: str, caption: str | None = None) -> tuple[Selection, pd.DataFrame]:
    """Title, caption and the shared picker; stops the page with a message on a bad database."""
    st.title(title)
    if caption:
        st.caption(caption)
    notice = st.empty()
    if store.writing(None):  # reads wait for the writer: say why the page is slow
        notice.info(
            "A run is writing its results to the database; the page waits for it to finish.",
            icon=":material/hourglass_top:",
        )
    try:
        index = data.index()
    except StrataError as exc:
        notice.empty()
        st.error(first_line(exc))
        st.stop()
    notice.empty()
    return sidebar(index), index


def need_results(selection: Selection, index: pd.DataFrame) -> None:
    """Stop with a pointer to the Run page when there is nothing to show."""
    if index.empty or selection.model is None or selection.stimulus_set is None:
        st.info(
            "No results yet. Start a run on the **Run** page (SmolLM2 on the built-in sets "
            "takes a few minutes on a laptop)."
        )
        st.page_link("pages/run.py", label="Go to Run", icon=":material/play_circle:")
        st.stop()
    if not selection.components:
        st.warning("Pick at least one component in the sidebar.")
        st.stop()


def guarded(fn, *args, **kwargs):
    """Call into core; a user-facing problem becomes one ``st.error`` line, not a traceback."""
    try:
        return fn(*args, **kwargs)
    except StrataError as exc:
        st.error(first_line(exc))
        st.stop()
