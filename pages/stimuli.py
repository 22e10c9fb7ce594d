"""Stimuli: browse the sets (texts, labels, groups, sources) and upload your own CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.stimuli import StimulusError, builtin_names, load, save_upload, upload_names
from core.stimuli.registry import DATA
from ui.page import setup
from ui.state import page_param, set_page_param
from ui.words import TERMS

setup("Stimuli", "The texts each probe sees, their labels and CV groups, and where they come from.")

browse, upload = st.tabs(["Browse", "Upload a CSV"])

with browse:
    names = builtin_names() + upload_names()
    current = page_param("view_set", "items")
    name = st.selectbox(
        "Stimulus set", names, index=names.index(current) if current in names else 0
    )
    set_page_param("view_set", name)
    try:
        stimuli = load(name)
    except StimulusError as exc:
        st.error(str(exc))
        st.stop()
    n_groups = stimuli.frame["group"].nunique()
    c1, c2, c3 = st.columns(3)
    c1.metric("Items", len(stimuli))
    c2.metric("CV groups", n_groups, help=TERMS["CV groups"])
    c3.metric("Targets", len(stimuli.targets))
    rows = []
    for target, kind in stimuli.targets.items():
        values = stimuli.frame[target]
        if kind == "binary":
            balance = f"{values.mean():.0%} positive"
        elif kind == "multiclass":
            counts = values.value_counts()
            balance = ", ".join(f"{k} {v}" for k, v in counts.items())
        else:
            balance = f"mean {values.mean():.2f}, SD {values.std():.2f}"
        rows.append(
            {
                "target": target,
                "kind": kind,
                "probe": "ridge" if kind == "continuous" else "SVM",
                "balance": balance,
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    query = st.text_input("Filter texts", placeholder="a word, e.g. apple")
    frame = stimuli.frame
    if query:
        frame = frame[frame["text"].str.contains(query, case=False, regex=False)]
    st.dataframe(frame, hide_index=True, width="stretch", height=420)
    sources = DATA.parent / "SOURCES.md"
    if sources.is_file():
        with st.expander("Sources, licences and how each column was derived"):
            st.markdown(sources.read_text())

with upload:
    st.markdown(
        "A CSV with `item_id`, `text`, `group`, optional `words` (target words, `|`-separated) "
        "or `spans` (`start:end;...`), any `meta_*` columns, and one column per target with its "
        "kind in the header: `is_edible:binary`, `concreteness:continuous`, "
        "`relation:multiclass`. Files are read as data only, up to 20 MiB."
    )
    file = st.file_uploader("CSV file", type=["csv"], key="upload_file")
    upload_name = st.text_input("Name for the set", placeholder="my-nouns", key="upload_name")
    if st.button("Validate and keep", type="primary", disabled=file is None, key="upload_keep"):
        try:
            kept = save_upload(file.getvalue(), upload_name.strip() or "")
        except StimulusError as exc:
            st.error(str(exc))
        else:
            st.session_state["upload_kept"] = (
                f"'{kept.name}': {len(kept)} items, targets {', '.join(kept.targets)}. "
                "It is now in the Run page's stimulus sets and under Browse."
            )
            set_page_param("view_set", kept.name)
            st.rerun()
    if "upload_kept" in st.session_state:
        st.success(st.session_state.pop("upload_kept"))
