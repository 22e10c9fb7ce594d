"""The drill-down panel under a layer curve: a cell's stimuli, their margins across layers,
and the error analysis by a metadata column (queries in :mod:`core.present.drill`).

The selected cells live in the URL (``drill=target|component|layer;...``), so a click
survives a rerun, a bookmarked view reopens on the same stimuli, and a test can pass a
selection without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.analysis.errors import subgroup_columns
from core.present import drill, plots
from core.present.tables import readable
from ui import figure
from ui.data import token
from ui.page import guarded
from ui.state import page_param, set_page_param

PARAM = "drill"
PREFERRED_SPLITS = ("relation", "meta_zipf", "meta_filler_words", "meta_category")


def points_of(event) -> list[dict]:
    """The points of a chart's selection state (empty without a selection)."""
    if event is None:
        return []
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError, AttributeError):
        return []
    return [dict(p) for p in points or []]


def encode(cells: pd.DataFrame) -> str:
    return ";".join(f"{r.target}|{r.component}|{int(r.layer)}" for r in cells.itertuples())


def decode(text: str | None) -> list[tuple[str, str, int]]:
    """Cells from the URL; malformed parts are skipped (a hand-edited link)."""
    out = []
    for part in (text or "").split(";"):
        bits = part.split("|")
        if len(bits) == 3 and bits[2].isdigit():
            out.append((bits[0], bits[1], int(bits[2])))
    return out


def selected(event, data: pd.DataFrame, *, x: str) -> list[tuple[str, str, int]]:
    """The cells picked on the chart (kept in the URL), else those the URL already holds.

    Cells no longer drawn (another target or component picked since) are dropped.
    """
    points = points_of(event)
    if points:
        cells = drill.selected_cells(points, data, x=x)
        if len(cells):
            set_page_param(PARAM, encode(cells))
    shown = set(zip(data["target"], data["component"], data["layer"].astype(int)))
    return [c for c in decode(page_param(PARAM, "")) if c in shown]


@st.cache_data(show_spinner=False, max_entries=64)
def _query(state: str, name: str, **where) -> pd.DataFrame:
    """A :mod:`core.present.drill` query by name (``cell_stimuli``, ``cell_layers``) on the
    app's database, cached per database ``state``."""
    return getattr(drill, name)(None, **where)


@st.cache_data(show_spinner="Testing the subgroups (2000 shuffles)…", max_entries=32)
def _errors(state: str, components: tuple, by: str, **where) -> dict[str, pd.DataFrame]:
    return drill.error_analysis(None, **where, components=list(components), by=by)


def panel(
    cells: list[tuple[str, str, int]],
    *,
    model: str,
    stimulus_set: str,
    pooling: str,
    components: Sequence[str],
    presentation: bool = False,
) -> None:
    """Everything under the curve for the selected cells (one shown at a time)."""
    if len(cells) > 1:
        cell = st.selectbox(
            f"{len(cells)} points selected: show",
            cells,
            format_func=lambda c: f"{c[0]} · {c[1]} · layer {c[2]}",
            key="drill_cell",
        )
    else:
        cell = cells[0]
    target, component, layer = cell
    state = token()
    where = {"model": model, "stimulus_set": stimulus_set, "pooling": pooling, "target": target}
    table = guarded(_query, state, "cell_stimuli", **where, component=component, layer=layer)
    st.subheader(f"Stimuli at {target} · {component} · layer {layer}")
    if table["correct"].notna().any():
        wrong = int((~table["correct"].astype(bool)).sum())
        st.caption(
            f"{wrong} of {len(table)} stimuli wrong (held out: each predicted by the fold "
            "that did not train on it); wrong ones first, then by margin. " + plots.MARGIN_CAPTION
        )
    else:
        st.caption("Ridge target: sorted by error, largest first. " + plots.MARGIN_CAPTION)
    picked = st.dataframe(
        table.round({"margin": 3}),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="drill_table",
    )
    rows = picked["selection"]["rows"] if picked is not None else []
    name = f"{model}-{stimulus_set}-{target}-{component}-layer{layer}-stimuli"
    figure.csv_button(table, name=name, key="drill_table")
    ids = table["item_id"].tolist()
    item = st.selectbox(
        "Stimulus to open (or click a row)",
        ids,
        index=rows[0] if rows else 0,
        key=f"drill_item_{rows[0] if rows else 'none'}",
    )
    st.page_link(
        "pages/stimulus.py",
        label=f"Open '{item}' across layers and components",
        icon=":material/open_in_new:",
        query_params={"model": model, "set": stimulus_set, "pooling": pooling, "item": item},
    )

    layers = guarded(_query, state, "cell_layers", **where, component=component)
    fig = plots.margin_heatmap(
        layers,
        title=f"{model} · {stimulus_set} · {target} · {component}: margin of each stimulus",
        caption="Rows: stimuli, sorted by the first layer from which they stay correctly "
        "classified (never: at the bottom). " + plots.MARGIN_CAPTION,
        presentation=presentation,
    )
    figure.show(
        fig, layers, name=f"{model}-{stimulus_set}-{target}-{component}-margins", key="drill_heat"
    )
    _error_analysis(where, components, presentation=presentation)


def _error_analysis(where: dict, components: Sequence[str], *, presentation: bool) -> None:
    model, stimulus_set, target = where["model"], where["stimulus_set"], where["target"]
    frame = drill.stimulus_frame(stimulus_set)
    if frame is None:
        st.info(f"Stimulus set '{stimulus_set}' is not on this machine: no metadata to split by.")
        return
    options = subgroup_columns(frame, exclude=[target])
    st.subheader("Error analysis by subgroup")
    if not options:
        st.info("This set has no metadata column that splits it into 2 to 12 subgroups.")
        return
    default = next((c for c in PREFERRED_SPLITS if c in options), options[0])
    saved = page_param("split", default)
    by = st.selectbox(
        "Split by",
        options,
        index=options.index(saved) if saved in options else options.index(default),
        help="A metadata column of the set, or another target's labels; numbers are split "
        "into terciles (e.g. meta_zipf: word frequency)",
        key="drill_split",
    )
    set_page_param("split", by)
    found = guarded(_errors, token(), tuple(components), by, **where)
    fig = plots.subgroup_curves(
        found["curves"],
        title=f"{model} · {stimulus_set} · {target}: accuracy by {by}",
        caption="Share of each subgroup's stimuli predicted correctly at each layer (± binomial "
        "SE). 'flagged': wrong more often than the rest of the set over the layers shown "
        "(subgroup labels shuffled within class, 2000 shuffles, Benjamini-Hochberg over "
        "subgroups, q ≤ 0.05).",
        presentation=presentation,
    )
    figure.show(
        fig, found["curves"], name=f"{model}-{stimulus_set}-{target}-by-{by}", key="drill_split_fig"
    )
    flags = found["flags"]
    st.dataframe(readable(flags, digits=3), hide_index=True, width="stretch")
    figure.csv_button(
        flags, name=f"{model}-{stimulus_set}-{target}-by-{by}-flags", key="drill_flags"
    )
