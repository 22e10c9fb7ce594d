"""One stimulus: its held-out margin at every layer, for every target and component."""

from __future__ import annotations

import streamlit as st

from core.present import drill, plots
from ui import figure
from ui.page import guarded, results_page
from ui.state import page_param, set_page_param

selection, index = results_page(
    "Stimulus",
    "One stimulus's held-out margin at every layer (from the fold that did not train on it), "
    "for every target and component: where it becomes decodable, and where it is lost.",
)
model, stimulus_set, pooling = selection.model, selection.stimulus_set, selection.pooling

ids = guarded(drill.stimulus_ids, None, model=model, stimulus_set=stimulus_set, pooling=pooling)
if not ids:
    st.info(
        f"No per-stimulus predictions stored for {model} · {stimulus_set} · {pooling}: "
        "rerun the set on the Run page."
    )
    st.stop()
saved = page_param("item", ids[0])
item = st.selectbox(
    "Stimulus", ids, index=ids.index(saved) if saved in ids else 0, key="stimulus_item"
)
set_page_param("item", item)

frame = drill.stimulus_frame(stimulus_set)
if frame is not None:
    row = frame[frame["item_id"].astype(str) == item]
    if len(row):
        st.markdown(f"**{row['text'].iloc[0]}**")
        st.dataframe(row.drop(columns=["text"]), hide_index=True, width="stretch")

rows = guarded(
    drill.stimulus_margins,
    None,
    model=model,
    stimulus_set=stimulus_set,
    pooling=pooling,
    item_id=item,
)
names = list(dict.fromkeys(rows["target"]))
saved = [t for t in page_param("targets", "").split(",") if t in names]
chosen = st.multiselect(
    "Targets",
    names,
    default=saved or names[:3],
    help="One panel per target (a few at a time stay readable)",
    key="stimulus_targets",
)
set_page_param("targets", ",".join(chosen))
if not chosen:
    st.info("Pick at least one target.")
    st.stop()
rows = rows[rows["target"].isin(chosen)]
fig = plots.stimulus_margins(
    rows,
    title=f"{model} · {stimulus_set} · pooling {pooling}: '{item}' across layers",
    presentation=selection.presentation,
)
figure.show(fig, rows, name=f"{model}-{stimulus_set}-{item}-margins", key="stimulus")
st.page_link("pages/curves.py", label="Back to the layer curves", icon=":material/show_chart:")
