"""Strata's dashboard entry point: ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from core import store

st.set_page_config(page_title="Strata", layout="wide")
st.title("Strata")
st.write(
    "Where in a language model's depth each kind of meaning lives: grouped-CV linear probes "
    "on every layer's residual stream, attention output and MLP output."
)
try:
    index = store.results_index()
except store.StoreError as exc:
    st.error(str(exc))
else:
    if index.empty:
        st.info("No results yet: run `python -m core run --model smollm2-135m --stimuli items`.")
    else:
        st.dataframe(index, hide_index=True)
