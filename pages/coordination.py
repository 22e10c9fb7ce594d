"""Coordination: adjacent-layer structure, layer × layer CKA, and anti-persistence vs noise."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import cka_matrix, layer_correlation, target_correlation
from core.names import COMPONENTS
from core.present import plots, report, views
from core.present.tables import readable
from ui import figure, state
from ui.data import token
from ui.page import guarded, models_row, results_page
from ui.words import glossary

selection, index = results_page(
    "Coordination",
    "Do adjacent layers alternate in what they decode? The paper reports ρ ≈ -0.33 for the "
    "70B's attention outputs; plain differencing gives -0.5 on pure noise, so every ρ is shown "
    "beside what noise alone gives (flat curves with the fold noise's structure), and the "
    "split-half estimator is unbiased by noise.",
)
stimulus_set, pooling = selection.stimulus_set, selection.pooling
model2, components, _, models = models_row(selection, index, key="coord_comp")


@st.cache_data(show_spinner="Computing anti-persistence and its baselines…", max_entries=64)
def persistence(state_token: str, model: str, pooling: str) -> pd.DataFrame:
    # the Findings table itself: one computation, so one ρ, baseline and p on both pages
    return views.findings(None, model=model, pooling=pooling)["persistence"]


@st.cache_data(show_spinner="Linear CKA between layers…", max_entries=32)
def cka(state_token: str, model: str, stimulus_set: str, pooling: str, component: str):
    entry = views.cached_activations(None, model=model, stimulus_set=stimulus_set, pooling=pooling)
    if entry is None or component not in entry.arrays:
        return None
    return cka_matrix(entry.arrays[component])


rows = []
for model in models:
    if index[(index["model"] == model) & (index["stimulus_set"] == stimulus_set)].empty:
        st.warning(f"No {stimulus_set} results of {model} with pooling {pooling}.")
        continue
    table = guarded(persistence, token(), model, pooling)
    table = table[(table["stimulus_set"] == stimulus_set) & table["component"].isin(components)]
    rows.append(table.assign(model=model))
stats = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
st.subheader("Anti-persistence of adjacent layers")
if not stats.empty and stats["rho"].notna().any():
    shown = stats.dropna(subset=["rho"])
    shown = shown.assign(
        label=(shown["model"] + " · " if len(models) > 1 else "") + shown["component"]
    )
    fig = plots.rho_intervals(
        shown,
        label="label",
        x_title="ρ = corr(Δ(l), Δ(l+1)), pooled over targets",
        title=f"{' vs '.join(models)} · {stimulus_set}: ρ against its noise baseline",
        caption="Grey: 95 % of ρ under noise alone: flat curves (naive) or flat halves "
        "(split-half) whose noise keeps the fold noise's correlation over layers and between "
        "targets. The same numbers as on the Findings page.\n" + plots.glossary(components),
        presentation=selection.presentation,
    )
    figure.show(fig, stats, name=f"{'-'.join(models)}-{stimulus_set}-antipersistence", key="rho")
    for sentence in report.persistence_sentences(shown, head=("label", "estimator")):
        st.markdown(f"- {sentence}")
    with st.expander("Table"):
        st.dataframe(
            readable(stats, rename={"baseline_mean": "noise baseline [95 %]"}),
            hide_index=True,
            width="stretch",
        )
else:
    st.caption("Not enough layers or targets for the statistic.")

st.subheader("Layer × layer structure")
m1, m2 = st.columns(2)
model = (
    state.choice(
        "Model for the matrices", models, key="matrix_model", default=models[0], container=m1
    )
    if len(models) > 1
    else models[0]
)
component = state.choice(
    "Component for the matrices",
    [c for c in COMPONENTS if c in components],
    key="matrix",
    default=components[0],
    container=m2,
)
scores = guarded(
    views.curves,
    None,
    model=model,
    stimulus_set=stimulus_set,
    pooling=pooling,
    components=[component],
)
where = f"{model} · {stimulus_set} · {component}"
LAYERS = {"x_label": "layer", "y_label": "layer"}
"""Heatmap axes of a layer × layer matrix."""


def show_matrix(matrix: pd.DataFrame, *, name: str, key: str, title: str, **heatmap) -> None:
    """A matrix of this model, set and component as a heatmap (titled after them, in the
    page's mode), with its numbers as CSV; ``heatmap`` goes to :func:`plots.heatmap`."""
    figure.show(
        plots.heatmap(
            matrix, title=f"{where}: {title}", presentation=selection.presentation, **heatmap
        ),
        matrix.reset_index(),
        name=f"{model}-{stimulus_set}-{component}-{name}",
        key=key,
    )


n_targets = scores["target"].nunique()
show_matrix(
    layer_correlation(scores, zscore=True),
    name="layer-corr-z",
    key="lc_z",
    title=f"layer × layer correlation across {n_targets} targets (z-scored)",
    caption="Each target's curve is z-scored over layers first, so only where it rises "
    "and falls counts; alternation of adjacent layers would show as a checkerboard next "
    f"to the diagonal.\n{plots.GLOSSARY[component]}",
    colorbar_title="r",
    **LAYERS,
)
with st.expander("Raw (not z-scored) layer × layer correlation"):
    st.caption(
        "Without z-scoring, targets that are easy everywhere dominate and the matrix is close "
        "to 1 throughout: shown for completeness, not as evidence."
    )
    show_matrix(
        layer_correlation(scores),
        name="layer-corr",
        key="lc_raw",
        title="layer × layer correlation (raw)",
        colorbar_title="r",
        **LAYERS,
    )
left, right = st.columns(2)
with left:
    show_matrix(
        target_correlation(scores),
        name="target-corr",
        key="tc",
        title="target × target correlation of layer profiles",
        colorbar_title="r",
    )
with right:
    matrix = cka(token(), model, stimulus_set, pooling, component)
    if matrix is None:
        st.info(
            "The activations behind this result are not on this machine (imported results "
            "or a cleared cache); rerun the model here to see CKA."
        )
    else:
        show_matrix(
            matrix,
            name="cka",
            key="cka",
            title="linear CKA between layers",
            colorscale="Viridis",
            colorbar_title="CKA",
            zmin=0,
            zmax=1,
            **LAYERS,
        )
glossary("naive vs split-half", "noise baseline")
