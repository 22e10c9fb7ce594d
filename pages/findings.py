"""Findings: the paper's questions asked of every stored set, in numbers and sentences."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.present import plots, report, views
from ui import figure
from ui.data import token
from ui.page import guarded, need_results, setup

selection, index = setup(
    "Findings",
    "Per model: where each stimulus set's mean curve peaks, whether it peaks twice beyond the "
    "fold noise, whether adjacent layers alternate beyond what noise gives, and whether "
    "items < pairs < analogies holds. The same numbers as `python -m core report`.",
)
need_results(selection, index)
pooling, components = selection.pooling, tuple(selection.components)
models = [m for m in (selection.model, selection.model2) if m]


@st.cache_data(show_spinner="Testing peaks, double peaks, anti-persistence and the order…")
def compute(state: str, model: str, pooling: str, components: tuple) -> dict:
    return views.findings(None, model=model, pooling=pooling, components=components)


found = {}
for model in models:
    stored = index[(index["model"] == model) & (index["pooling"] == pooling)]
    if stored.empty:
        st.warning(f"No results of {model} with pooling {pooling}.")
        continue
    found[model] = guarded(compute, token(), model, pooling, components)
if not found:
    st.stop()

curves = pd.concat([t["curves"].assign(model=m) for m, t in found.items()], ignore_index=True)
fig = plots.depth_summary(
    curves,
    title=f"{' vs '.join(found)}: where each set's mean curve peaks (pooling {pooling})",
    presentation=selection.presentation,
)
figure.show(fig, curves, name=f"findings-{'-vs-'.join(found)}-{pooling}", key="depths")

for model, tables in found.items():
    st.header(model)
    st.subheader("Mean curve over each set's targets")
    st.caption("0 = chance, 1 = perfect; peak band: layers within one fold SE of the maximum.")
    st.dataframe(report.curve_table(tables["curves"]), hide_index=True, width="stretch")
    sections = [
        ("Double peaks", report.double_peak_sentences, "double_peaks"),
        ("Anti-persistence of adjacent layers", report.persistence_sentences, "persistence"),
        ("Is the order items < pairs < analogies?", report.hierarchy_sentences, "hierarchy"),
    ]
    for title, sentences, name in sections:
        table = tables[name]
        if table.empty:
            continue
        st.subheader(title)
        st.markdown("\n".join(f"- {s}" for s in sentences(table)))
        with st.expander("Table"):
            st.dataframe(table.round(4), hide_index=True, width="stretch")
            figure.csv_button(table, name=f"{model}-{pooling}-{name}", key=f"{model}_{name}")
