"""Coordination: adjacent-layer structure, layer × layer CKA, and anti-persistence vs noise."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import (
    cka_matrix,
    layer_correlation,
    naive_rho,
    split_half_rho,
    target_correlation,
)
from core.present import plots, views
from core.storage import memo
from ui import figure
from ui.data import token
from ui.page import guarded, need_results, setup

selection, index = setup(
    "Coordination",
    "Do adjacent layers alternate in what they decode? The paper reports ρ ≈ -0.33 for the "
    "70B's attention outputs; plain differencing gives -0.5 on pure noise, so every ρ is shown "
    "beside its noise baseline, and the split-half estimator is unbiased by noise.",
)
need_results(selection, index)
model, stimulus_set, pooling = selection.model, selection.stimulus_set, selection.pooling
components = list(selection.components)


@st.cache_data(show_spinner="Computing anti-persistence and its baselines…", max_entries=64)
def persistence(state: str, model: str, stimulus_set: str, pooling: str, components: tuple):
    scores = views.curves(
        None, model=model, stimulus_set=stimulus_set, pooling=pooling, components=list(components)
    )
    halves = views.half_rows(
        None,
        model=model,
        stimulus_set=stimulus_set,
        pooling=pooling,
        component=list(components),
    )
    naive = memo.cached(None, naive_rho, scores, n_baseline=500).assign(estimator="naive (paper)")
    split = (
        memo.cached(None, split_half_rho, halves, n_baseline=500).assign(estimator="split-half")
        if not halves.empty
        else pd.DataFrame()
    )
    return pd.concat([naive, split], ignore_index=True)


@st.cache_data(show_spinner="Linear CKA between layers…", max_entries=32)
def cka(state: str, model: str, stimulus_set: str, pooling: str, component: str):
    entry = views.cached_activations(None, model=model, stimulus_set=stimulus_set, pooling=pooling)
    if entry is None or component not in entry.arrays:
        return None
    return cka_matrix(entry.arrays[component])


stats = guarded(persistence, token(), model, stimulus_set, pooling, tuple(components))
st.subheader("Anti-persistence of adjacent layers")
if not stats.empty and stats["rho"].notna().any():
    stats["label"] = stats["component"] + " · " + stats["estimator"]
    fig = plots.interval_points(
        stats.dropna(subset=["rho"]),
        label="label",
        value="rho",
        lo="rho",
        hi="rho",
        baseline_lo="baseline_lo",
        baseline_hi="baseline_hi",
        reference=0.0,
        x_title="ρ = corr(Δ(l), Δ(l+1)), pooled over targets",
        title=f"{model} · {stimulus_set}: ρ against its noise baseline",
        presentation=selection.presentation,
    )
    figure.show(fig, stats, name=f"{model}-{stimulus_set}-antipersistence", key="rho")
    for row in stats.dropna(subset=["rho"]).itertuples():
        st.markdown(
            f"- **{row.component}, {row.estimator}**: ρ = {row.rho:.2f}; noise alone gives "
            f"{row.baseline_mean:.2f} [{row.baseline_lo:.2f}, {row.baseline_hi:.2f}]: "
            f"**{row.verdict}** (p = {row.p_value:.3f})."
        )
else:
    st.caption("Not enough layers or targets for the statistic.")

scores = guarded(
    views.curves,
    None,
    model=model,
    stimulus_set=stimulus_set,
    pooling=pooling,
    components=components,
)
component = st.selectbox("Component for the matrices", components)
part = scores[scores["component"] == component]
st.subheader("Layer × layer correlation of score profiles across targets")
left, right = st.columns(2)
with left:
    raw = layer_correlation(part)
    figure.show(
        plots.heatmap(
            raw, title="raw", x_label="layer", y_label="layer", presentation=selection.presentation
        ),
        raw.reset_index(),
        name=f"{model}-{component}-layer-corr",
        key="lc_raw",
    )
with right:
    z = layer_correlation(part, zscore=True)
    figure.show(
        plots.heatmap(
            z,
            title="z-scored per target",
            x_label="layer",
            y_label="layer",
            presentation=selection.presentation,
        ),
        z.reset_index(),
        name=f"{model}-{component}-layer-corr-z",
        key="lc_z",
    )
left, right = st.columns(2)
with left:
    st.subheader("Target × target")
    tc = target_correlation(part)
    figure.show(
        plots.heatmap(
            tc, title="correlation of layer profiles", presentation=selection.presentation
        ),
        tc.reset_index(),
        name=f"{model}-{component}-target-corr",
        key="tc",
    )
with right:
    st.subheader("Layer × layer CKA")
    matrix = cka(token(), model, stimulus_set, pooling, component)
    if matrix is None:
        st.info(
            "The activations behind this result are not on this machine (imported results "
            "or a cleared cache); rerun the model here to see CKA."
        )
    else:
        figure.show(
            plots.heatmap(
                matrix,
                title="linear CKA of the activations",
                zmin=0,
                zmax=1,
                colorscale="Viridis",
                x_label="layer",
                y_label="layer",
                presentation=selection.presentation,
            ),
            matrix.reset_index(),
            name=f"{model}-{component}-cka",
            key="cka",
        )
