"""Compare models: two models on one relative-depth axis, side by side and overlaid."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import mean_curve
from core.present import plots, report, views
from core.present import reference as published
from core.present.tables import readable
from ui import figure, state
from ui.data import token
from ui.page import guarded, models_row, results_page
from ui.state import MEAN, pick_curve
from ui.words import glossary

selection, index = results_page(
    "Compare models",
    "The small-vs-large view: both models on relative depth l / (L-1), one colour per model, "
    "one dash per component.",
)
stimulus_set, pooling = selection.stimulus_set, selection.pooling
model2, components, (c3,), models = models_row(selection, index, key="cmp_comp", widths=(2, 3, 2))
show_paper = state.show_published(
    container=c3,
    help="The paper's layer bands on relative depth beside ours (mean over targets only)",
)
if model2 is None:
    st.info(
        "Choose a model to **compare with** above. Results of any model run here or merged "
        "with `python -m core import-results FILE` can be compared."
    )
    st.stop()
both = index[(index["stimulus_set"] == stimulus_set) & (index["pooling"] == pooling)]
missing = [m for m in models if m not in set(both["model"])]
if missing:
    st.warning(f"No {stimulus_set} results with pooling {pooling} for {', '.join(missing)}.")
    st.stop()

targets = guarded(
    views.targets_of, None, model=selection.model, stimulus_set=stimulus_set, pooling=pooling
)
target = pick_curve(targets["target"].tolist(), key="cmp_target")

scores = guarded(
    views.curves,
    None,
    model=models,
    stimulus_set=stimulus_set,
    pooling=pooling,
    components=components,
    targets=None if target == MEAN else [target],
)
data = (
    mean_curve(scores, by=("model", "stimulus_set", "pooling", "component"))
    if target == MEAN
    else scores
)
metric = "normalized" if target == MEAN else scores["metric"].iloc[0]
data = data.assign(model=pd.Categorical(data["model"], categories=models, ordered=True))
data = data.sort_values(["model", "component", "layer"]).assign(
    model=lambda d: d["model"].astype(str)
)
bands = None
if show_paper and target == MEAN:
    saved = published.saved()
    bands = published.bands(guarded(published.load, saved), stimulus_sets=[stimulus_set])
caption = (
    (
        "Each target normalised (0 = chance, 1 = perfect), averaged over targets. "
        if target == MEAN
        else ""
    )
    + (
        "Shaded: published peak layers as layer / (L-1). "
        if bands is not None and len(bands)
        else ""
    )
    + "\n"
    + plots.glossary(components)
)
# both figures: one colour per model, one dash per component, on relative depth
both_models = {
    "x": "relative_depth",
    "color": "model",
    "dash": "component",
    "significant": None,
    "reference": bands,
    "metric": metric,
    "caption": caption,
    "presentation": selection.presentation,
}
title = f"{' vs '.join(models)} · {stimulus_set} · {target}"
side = plots.layer_curves(
    data,
    facet="model",
    null_band=target != MEAN,
    title=f"{title}: side by side",
    **both_models,
)
figure.show(side, data, name=f"compare-side-{stimulus_set}-{target}", key="side")
overlay = plots.layer_curves(
    data, null_band=False, band=False, title=f"{title}: overlaid", **both_models
)
figure.show(overlay, data, name=f"compare-overlay-{stimulus_set}-{target}", key="overlay")


@st.cache_data(show_spinner="Bootstrapping peak positions…", max_entries=64)
def shifts(
    state_token: str, models: tuple, stimulus_set: str, pooling: str, component: str, target: str
):
    # the same call the job runner makes when a run ends, so it is usually cached already
    return views.peak_shift_table(
        None,
        models=list(models),
        stimulus_set=stimulus_set,
        pooling=pooling,
        component=component,
        target=target,
    )


st.subheader("Where does each model peak?")
table = pd.concat(
    [guarded(shifts, token(), tuple(models), stimulus_set, pooling, c, target) for c in components],
    ignore_index=True,
)
raw = table.rename(
    columns=lambda c: c.replace("_a", f" ({models[0]})").replace("_b", f" ({models[1]})")
)
shown = readable(
    table.rename(columns={"p_same": "p (same depth)"}),
    rename={
        "peak_depth_a": f"peak depth {models[0]}",
        "peak_depth_b": f"peak depth {models[1]}",
        "shift": f"shift ({models[1]} - {models[0]})",
    },
)
st.caption(
    "Peak of the curve in relative depth with a 95 % interval from resampling folds "
    f"(1000 bootstraps); shift = {models[1]} minus {models[0]}."
)
st.dataframe(shown, hide_index=True, width="stretch")
figure.csv_button(raw, name=f"peak-shift-{stimulus_set}-{target}", key="shift")


@st.cache_data(show_spinner="Testing the order…")
def order(state_token: str, model: str, pooling: str) -> dict:
    # the Findings tables: one computation, one answer on every page
    tables = views.findings(None, model=model, pooling=pooling)
    return {"sets": tables["hierarchy"], "pairs": tables["order"]}


st.subheader("The hierarchy in each model")
rows = []
for model in models:
    found = guarded(order, token(), model, pooling)
    table, pairs = found["sets"], found["pairs"]
    if len(table):
        table = table[table["component"].isin(components)]
        pairs = pairs[pairs["component"].isin(components)]
        rows.append(table.assign(model=model))
        for sentence in report.hierarchy_sentences(table, pairs):
            st.markdown(f"- **{model}** · {sentence}")
if rows:
    st.dataframe(readable(pd.concat(rows, ignore_index=True)), hide_index=True, width="stretch")
else:
    st.caption("Run both models on at least two of items, pairs and analogies to test the order.")
glossary("relative depth", "mean curve", "normalised score")
