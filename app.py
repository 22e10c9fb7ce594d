"""Strata's dashboard: ``streamlit run app.py`` (or ``make app``).

The entry only declares the pages and the shared picker; each page is a thin script over
``core`` (queries, analyses, figure builders).
"""

from __future__ import annotations

import streamlit as st

PAGES = [
    ("pages/home.py", "Home", ":material/home:", "home"),
    ("pages/run.py", "Run", ":material/play_circle:", "run"),
    ("pages/findings.py", "Findings", ":material/summarize:", "findings"),
    ("pages/curves.py", "Layer curves", ":material/show_chart:", "curves"),
    ("pages/peaks.py", "Double peaks", ":material/landscape:", "peaks"),
    ("pages/compare.py", "Compare models", ":material/compare_arrows:", "compare"),
    ("pages/coordination.py", "Coordination", ":material/grid_on:", "coordination"),
    ("pages/transfer.py", "Transfer", ":material/swap_horiz:", "transfer"),
    ("pages/stimuli.py", "Stimuli", ":material/dataset:", "stimuli"),
    ("pages/stimulus.py", "Stimulus", ":material/label:", "stimulus"),
]


def run() -> None:
    st.set_page_config(page_title="Strata", page_icon=":material/stacks:", layout="wide")
    pages = [
        st.Page(path, title=title, icon=icon, url_path=slug, default=slug == "home")
        for path, title, icon, slug in PAGES
    ]
    st.navigation(pages).run()


run()
