"""What the app and the report show: database rows shaped for figures, figures, sentences.

- ``views``: queries for the pages (no Streamlit)
- ``plots``: Plotly figure builders, a long DataFrame in and a ``go.Figure`` out
- ``report``: findings in words, for the CLI's ``report`` and the Findings page
"""
