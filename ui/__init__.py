"""Streamlit helpers for the pages: Streamlit code lives here, in app.py and pages/."""
