"""Compare models: two models on one relative-depth axis, side by side and overlaid."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import hierarchy, mean_curve, peak_shift
from core.names import HIERARCHY
from core.present import plots, views
from core.storage import memo
from ui import figure
from ui.data import token
from ui.page import guarded, need_results, setup
from ui.state import MEAN, pick_curve

selection, index = setup(
    "Compare models",
    "The small-vs-large view: both models on relative depth l / (L-1), one colour per model, "
    "one dash per component.",
)
need_results(selection, index)
if selection.model2 is None:
    st.info(
        "Choose a **second model** in the sidebar. Results of any model run here or merged "
        "with `python -m core import-results FILE` can be compared."
    )
    st.stop()
models = [selection.model, selection.model2]
stimulus_set, pooling, components = (
    selection.stimulus_set,
    selection.pooling,
    list(selection.components),
)
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
side = plots.layer_curves(
    data,
    x="relative_depth",
    color="model",
    dash="component",
    facet="model",
    significant=None,
    null_band=target != MEAN,
    metric=metric,
    title=f"{stimulus_set} · {target}: side by side",
    presentation=selection.presentation,
)
figure.show(side, data, name=f"compare-side-{stimulus_set}-{target}", key="side")
overlay = plots.layer_curves(
    data,
    x="relative_depth",
    color="model",
    dash="component",
    significant=None,
    null_band=False,
    band=False,
    metric=metric,
    title=f"{stimulus_set} · {target}: overlaid",
    presentation=selection.presentation,
)
figure.show(overlay, data, name=f"compare-overlay-{stimulus_set}-{target}", key="overlay")


@st.cache_data(show_spinner="Bootstrapping peak positions…", max_entries=64)
def shifts(state: str, models: tuple, stimulus_set: str, pooling: str, component: str, target: str):
    parts = []
    for model in models:
        s = views.curves(
            None,
            model=model,
            stimulus_set=stimulus_set,
            pooling=pooling,
            components=[component],
            targets=None if target == MEAN else [target],
        )
        f = views.fold_rows(
            None, model=model, stimulus_set=stimulus_set, pooling=pooling, component=component
        )
        primary = s.drop_duplicates("target").set_index("target")["metric"]
        f = f[f["target"].isin(primary.index)]
        f = f[f["metric"] == f["target"].map(primary)]
        parts += [s, f]
    return memo.cached(None, peak_shift, *parts, n_boot=1000).assign(component=component)


st.subheader("Where does each model peak?")
table = pd.concat(
    [shifts(token(), tuple(models), stimulus_set, pooling, c, target) for c in components],
    ignore_index=True,
)
table = table.rename(
    columns=lambda c: c.replace("_a", f" ({models[0]})").replace("_b", f" ({models[1]})")
)
st.caption(
    "Peak of the curve in relative depth with a 95 % interval from resampling folds; "
    f"shift = {models[1]} minus {models[0]}."
)
st.dataframe(table.round(3), hide_index=True, width="stretch")

st.subheader("The hierarchy in each model")
all_sets = guarded(
    views.curves, None, model=models, stimulus_set=None, pooling=pooling, components=components
)
rows = []
for (model, component), part in all_sets.groupby(["model", "component"]):
    if part["stimulus_set"].isin(HIERARCHY).sum() and part["stimulus_set"].nunique() >= 2:
        ordered = memo.cached(None, hierarchy, part, n_boot=500)
        rows.append(ordered.assign(model=model, component=component))
if rows:
    st.dataframe(pd.concat(rows, ignore_index=True).round(3), hide_index=True, width="stretch")
else:
    st.caption("Run both models on at least two of items, pairs and analogies to test the order.")
