"""Show a figure with its downloads: PNG and SVG (kaleido, made on click) and the data as CSV."""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.present.plots import to_image
from core.safe_csv import to_csv


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "figure"


def show(fig: go.Figure, data: pd.DataFrame | None, *, name: str, key: str) -> None:
    """The figure, then one row of download buttons."""
    st.plotly_chart(fig, key=f"chart_{key}", config={"displaylogo": False})
    slug = _slug(name)
    cols = st.columns([1, 1, 1, 5])

    def image(fmt: str):
        def make() -> bytes:
            return to_image(fig, fmt)

        return make

    cols[0].download_button(
        "PNG",
        data=image("png"),
        file_name=f"{slug}.png",
        mime="image/png",
        key=f"png_{key}",
        on_click="ignore",
        icon=":material/image:",
    )
    cols[1].download_button(
        "SVG",
        data=image("svg"),
        file_name=f"{slug}.svg",
        mime="image/svg+xml",
        key=f"svg_{key}",
        on_click="ignore",
        icon=":material/draw:",
    )
    if data is not None:
        csv_button(data, name=name, key=key, container=cols[2])


def csv_button(data: pd.DataFrame, *, name: str, key: str, container=st) -> None:
    """A table's data as a CSV download, safe to open in a spreadsheet (no formulas run)."""
    container.download_button(
        "CSV",
        data=to_csv(data),
        file_name=f"{_slug(name)}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        on_click="ignore",
        icon=":material/table:",
    )
