"""Layer curves: score against depth, with folds' SE, chance, the null band and peaks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import curve_summary, find_curve_peaks, hierarchy
from core.names import in_set_order
from core.present import plots, views
from core.present.plots import METRIC_LABELS
from core.probe.metrics import BY_PROBE
from ui import figure
from ui.page import guarded, need_results, setup
from ui.state import page_param, set_page_param

selection, index = setup(
    "Layer curves",
    "Held-out probe score at every layer (mean over 6 grouped folds ± SE). Filled markers: "
    "significant after Benjamini-Hochberg over layers × components; grey band: permutation null.",
)
need_results(selection, index)
model, stimulus_set, pooling = selection.model, selection.stimulus_set, selection.pooling

c1, c2, c3 = st.columns([2, 1, 1])
modes = ["One or more targets", "Mean over targets, every stimulus set (the hierarchy)"]
mode = c1.radio("Show", modes, index=int(page_param("mode", "0")), horizontal=True)
set_page_param("mode", str(modes.index(mode)))
x = c2.radio(
    "x axis",
    ["layer", "relative_depth"],
    format_func=plots.AXIS_LABELS.get,
    index=["layer", "relative_depth"].index(page_param("x", "layer")),
)
set_page_param("x", x)
show_peaks = c3.toggle("Mark peaks", value=page_param("peaks", "1") == "1")
set_page_param("peaks", "1" if show_peaks else "0")
components = list(selection.components)

if mode == modes[0]:
    targets = guarded(
        views.targets_of, None, model=model, stimulus_set=stimulus_set, pooling=pooling
    )
    names = targets["target"].tolist()
    saved = [t for t in page_param("targets", "").split(",") if t in names]
    chosen = st.multiselect("Targets", names, default=saved or names[:1])
    set_page_param("targets", ",".join(chosen))
    if not chosen:
        st.info("Pick at least one target.")
        st.stop()
    kinds = set(targets.set_index("target").loc[chosen, "probe"])
    options = ["primary", *(BY_PROBE[next(iter(kinds))] if len(kinds) == 1 else [])]
    metric = st.selectbox(
        "Metric",
        options,
        format_func=lambda m: (
            "each target's primary metric" if m == "primary" else METRIC_LABELS[m]
        ),
    )
    data = guarded(
        views.curves,
        None,
        model=model,
        stimulus_set=stimulus_set,
        pooling=pooling,
        components=components,
        targets=chosen,
        metric=metric,
    )
    data = views.with_significance(data)
    color, dash = ("component", "target") if len(chosen) > 1 else ("component", None)
    peaks = pd.DataFrame()
    summary = curve_summary(data)
    if show_peaks:
        found = []
        for (target, component), curve in data.groupby(["target", "component"]):
            found.append(find_curve_peaks(curve).head(2).assign(target=target, component=component))
        peaks = pd.concat(found, ignore_index=True).drop(columns=["band_lo", "band_hi"])
        if len(summary) == 1:  # one curve: shade its peak band (within one SE of the maximum)
            scale = 1.0 if x == "layer" else 1.0 / (data["n_layers"].iloc[0] - 1)
            peaks.loc[0, "band_lo"] = summary["band_lo"].iloc[0] * scale
            peaks.loc[0, "band_hi"] = summary["band_hi"].iloc[0] * scale
    used = data["metric"].unique()
    fig = plots.layer_curves(
        data,
        x=x,
        color=color,
        dash=dash,
        peaks=peaks,
        metric=used[0] if len(used) == 1 else None,
        title=f"{model} · {stimulus_set} · pooling {pooling}",
        presentation=selection.presentation,
    )
    figure.show(fig, data, name=f"{model}-{stimulus_set}-curves", key="curves")
    st.subheader("Curve summaries")
    st.caption(
        "Peak band: layers within one SE of the maximum. Expected layer: centre of mass "
        "of the score above chance (edge-probing style)."
    )
    st.dataframe(summary.round(3), hide_index=True, width="stretch")
else:
    sets = index.loc[(index["model"] == model) & (index["pooling"] == pooling), "stimulus_set"]
    sets = in_set_order(sets)
    data = guarded(
        views.mean_curves,
        None,
        model=model,
        stimulus_sets=sets,
        pooling=pooling,
        components=components,
    )
    fig = plots.layer_curves(
        data,
        x=x,
        color="stimulus_set",
        dash="component",
        null_band=False,
        significant=None,
        metric="normalized",
        title=f"{model}: mean decoding over each set's targets (0 = chance, 1 = perfect)",
        presentation=selection.presentation,
    )
    fig.update_yaxes(title_text="normalised score, mean over targets")
    figure.show(fig, data, name=f"{model}-hierarchy", key="hierarchy")
    scores = guarded(
        views.curves, None, model=model, stimulus_set=sets, pooling=pooling, components=components
    )
    rows = []
    for component in components:
        part = scores[scores["component"] == component]
        if part["stimulus_set"].nunique() >= 2:
            rows.append(hierarchy(part).assign(component=component))
    if rows:
        table = pd.concat(rows, ignore_index=True)
        st.subheader("Is the order items < pairs < analogies?")
        st.caption(
            "Expected depth (centre of mass above chance) and peak depth of each set's mean "
            "curve, 95 % intervals from resampling targets, and the bootstrap probability "
            "that the whole order holds by each."
        )
        st.dataframe(table.round(3), hide_index=True, width="stretch")
        for component, part in table.groupby("component"):
            by_mass = "holds" if part["holds"].iloc[0] else "does not hold"
            by_peak = "holds" if part["holds_peak"].iloc[0] else "does not hold"
            st.markdown(
                f"- **{component}**: the order {' < '.join(part['stimulus_set'])} {by_mass} "
                f"by expected depth (bootstrap probability {part['p_order'].iloc[0]:.2f}) and "
                f"{by_peak} by peak depth ({part['p_order_peak'].iloc[0]:.2f})."
            )
