"""What the app and the report show: database rows shaped for figures, figures, sentences.

- ``views``: queries for the pages (no Streamlit), and the warm-up a finished run calls
- ``plots``: Plotly figure builders (a long DataFrame in, a ``go.Figure`` out), the house
  style, the Okabe-Ito palette and 16:9 slide export
- ``tables``: analysis tables for reading (identifying columns first, intervals in one cell)
- ``report``: findings in words, for the CLI's ``report`` and the Findings page
- ``reference``: published results as data (the paper's layer bands), and ours beside them
- ``deck``: the talk deck (HTML, slide PNG/SVG, PDF) in a fixed order
"""
