"""Show a figure with its caption and downloads: 16:9 slide PNG and SVG, the data as CSV.

The PNG (1920 × 1080) and SVG (960 × 540) are made on click through kaleido, laid out as a
slide by :func:`core.present.plots.slide` (presentation fonts, the caption under the plot),
whatever the page's own mode; the buttons say what they give in words, so they stay
readable in a narrow column.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.present.plots import caption_of, to_image
from core.safe_csv import to_csv

MIME = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".csv": "text/csv",
    ".html": "text/html",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}
"""The MIME type a download gets from its file's ending."""


def download(container, label: str, data, file_name: str, *, key: str, **kw) -> None:
    """A download button that does not rerun the page, typed by its file's ending.

    Parameters
    ----------
    container
        Where the button goes (``st`` or a container).
    label : str
    data : bytes, str or callable
        The file, or what makes it on click.
    file_name : str
    key : str
    **kw
        Further ``st.download_button`` arguments (``help``).
    """
    container.download_button(
        label,
        data=data,
        file_name=file_name,
        mime=MIME[Path(file_name).suffix],
        key=key,
        on_click="ignore",
        **kw,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "figure"


SLIDE_FILES = {
    "png": "16:9, 1920 × 1080, large fonts, caption under the plot",
    "svg": "16:9, 960 × 540 points: 18 pt text on a widescreen slide",
}
"""The slide downloads under every figure, with what each gives."""


def show(fig: go.Figure, data: pd.DataFrame | None, *, name: str, key: str, **chart):
    """The figure, its caption (if the builder was given one), then the download buttons.

    Extra keyword arguments go to ``st.plotly_chart`` (e.g. ``on_select="rerun"``).

    Returns
    -------
    The chart's selection state when ``on_select`` is given (``event.selection.points``),
    else the chart element.
    """
    event = st.plotly_chart(fig, key=f"chart_{key}", config={"displaylogo": False}, **chart)
    caption = caption_of(fig)
    if caption:
        st.caption(caption.replace("\n", "  \n"))
    slug = _slug(name)
    row = st.container(horizontal=True, gap="small")

    def image(fmt: str):
        def make() -> bytes:
            return to_image(fig, fmt)

        return make

    for fmt, help_ in SLIDE_FILES.items():
        label = f"Slide {fmt.upper()}"
        download(row, label, image(fmt), f"{slug}.{fmt}", key=f"{fmt}_{key}", help=help_)
    if data is not None:
        csv_button(data, name=name, key=key, container=row)
    return event


def csv_button(data: pd.DataFrame, *, name: str, key: str, container=st) -> None:
    """A table's data (all numbers, intervals in their own columns) as a CSV download, safe
    to open in a spreadsheet (no formulas run)."""
    download(container, "Data CSV", to_csv(data), f"{_slug(name)}.csv", key=f"csv_{key}")
