"""The frame every page shares: the results index, the sidebar picker, one-line errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd
import streamlit as st

from core.errors import StrataError, first_line
from core.storage import store
from ui import data, jobs, state
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
    selection = sidebar(index)
    _warn_outdated(selection, index)
    return selection, index


def _warn_outdated(selection: Selection, index: pd.DataFrame) -> None:
    """Say so when the selected results were computed on an earlier version of the set."""
    if index.empty or "current" not in index or selection.stimulus_set is None:
        return
    mine = (index["model"] == selection.model) & (index["stimulus_set"] == selection.stimulus_set)
    if index.loc[mine, "current"].eq(False).any():
        st.warning(
            f"These results were computed on an earlier version of '{selection.stimulus_set}': "
            "the set has changed since (rebuilt or re-uploaded). They are not results of the "
            "set as it is now; rerun it on the Run page."
        )


def runs_going(*, compact: bool = False) -> list[jobs.JobStatus]:
    """Say what runs are going (with their progress); returns them."""
    going = jobs.running()
    for job in going:
        fraction, text = jobs.progress_text(job)
        box = st.container(border=True)
        box.markdown(f"**Running: {job.title}**" + ("" if compact else f" · `{job.job_id}`"))
        box.progress(fraction, text=text)
    return going


@st.fragment(run_every=3.0)
def _reload_when_results_change(seen: str) -> None:
    """While a run goes, rerun the page as soon as it has written new results."""
    if data.token() != seen:
        st.rerun(scope="app")


def need_results(selection: Selection, index: pd.DataFrame) -> None:
    """Stop with a pointer to the Run page when there is nothing to show.

    While a run is going, say so (with its progress) and show its results as soon as the
    first set is stored, instead of "No results yet".
    """
    if index.empty or selection.model is None or selection.stimulus_set is None:
        going = jobs.running()
        if going:
            st.info(
                "No results yet: a run is going, and this page shows its results as soon as "
                "its first stimulus set is stored."
            )
            runs_going(compact=True)
            _reload_when_results_change(data.token())
        else:
            st.info(
                "No results yet. Start a run on the **Run** page (SmolLM2 on the built-in "
                "sets takes a few minutes on a laptop)."
            )
        st.page_link("pages/run.py", label="Go to Run", icon=":material/play_circle:")
        st.stop()


def results_page(title: str, caption: str | None = None) -> tuple[Selection, pd.DataFrame]:
    """:func:`setup` for a page of stored results: it stops at :func:`need_results` when
    there are none to show."""
    selection, index = setup(title, caption)
    need_results(selection, index)
    return selection, index


def need_components(components) -> None:
    if not components:
        st.warning("Pick at least one component.")
        st.stop()


class ModelsRow(NamedTuple):
    """What :func:`models_row` picked."""

    model2: str | None
    components: list[str]
    rest: list
    models: list[str]
    """The page's model, then ``model2`` when one is picked: the models the page shows."""


def models_row(
    selection: Selection, index: pd.DataFrame, *, key: str, widths: Sequence[int] = (2, 3)
) -> ModelsRow:
    """A row for a page that can show a second model: the model to compare with, then this
    page's components (kept in the URL under ``key``; the page stops without one).

    Parameters
    ----------
    selection : Selection
    index : DataFrame
        The stored results (:func:`setup`'s index).
    key : str
    widths : sequence of int
        Relative column widths; columns beyond the first two are the page's own.

    Returns
    -------
    ModelsRow
        ``model2`` (str or None), ``components`` (list of str), ``rest`` (the row's further
        columns) and ``models`` (the page's model, then ``model2`` if any).
    """
    columns = st.columns(list(widths))
    model2 = state.second_model(
        index, selection.model, container=columns[0], pooling=selection.pooling
    )
    components = list(state.components(key=key, container=columns[1]))
    need_components(components)
    models = [m for m in (selection.model, model2) if m]
    return ModelsRow(model2, components, columns[2:], models)


def guarded(fn, *args, **kwargs):
    """Call into core; a user-facing problem becomes one ``st.error`` line, not a traceback."""
    try:
        return fn(*args, **kwargs)
    except StrataError as exc:
        st.error(first_line(exc))
        st.stop()
