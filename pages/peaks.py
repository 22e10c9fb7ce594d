"""Double peaks: detected peaks and the valley between, tested against a single-peaked null."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import PEAK_SMOOTH, double_peak
from core.analysis.findings import mean_fold_curve, valley_flags
from core.present import plots, report, views
from core.present.tables import readable
from core.storage import memo
from ui import figure
from ui.data import token
from ui.page import guarded, models_row, results_page
from ui.state import MEAN, page_param, pick_curve, set_page_param
from ui.words import glossary

selection, index = results_page(
    "Double peaks",
    "A double peak is claimed only when the dip between two peaks is larger than the best "
    "single-peaked curve plus the same fold noise would give (p < 0.05, 200 simulations). "
    "The peak is the layer where the curve, smoothed over about one layer, is highest: the "
    "same peak as in Findings, the report and Layer curves.",
)
pooling, stimulus_set = selection.pooling, selection.stimulus_set
model2, components, _, models = models_row(selection, index, key="dp_comp")
targets = guarded(
    views.targets_of, None, model=selection.model, stimulus_set=stimulus_set, pooling=pooling
)
c1, c2, c3 = st.columns([2, 1, 1])
target = pick_curve(targets["target"].tolist(), key="dp_target", container=c1)
smooth = c2.slider(
    "Smoothing (layers)",
    0.0,
    3.0,
    float(page_param("smooth", str(PEAK_SMOOTH))),
    0.5,
    help=f"{PEAK_SMOOTH:g} is the peak definition used everywhere else; another value moves "
    "the peak on this page only.",
)
set_page_param("smooth", str(smooth))
factor = c3.slider("Min. prominence (× fold SE)", 0.5, 5.0, float(page_param("prom", "2.0")), 0.5)
set_page_param("prom", str(factor))


@st.cache_data(show_spinner="Testing for double peaks…", max_entries=128)
def analyse(state: str, model: str, target: str, component: str, smooth: float, factor: float):
    filters = dict(model=model, stimulus_set=stimulus_set, pooling=pooling)
    scores = views.curves(
        None, **filters, components=[component], targets=None if target == MEAN else [target]
    )
    folds = views.fold_rows(
        None, **filters, component=component, target=list(scores["target"].unique())
    )
    if target == MEAN:
        curve, folds = mean_fold_curve(scores, folds)
    else:
        curve, folds = scores, folds[folds["metric"] == scores["metric"].iloc[0]]
    verdict = memo.cached(None, double_peak, curve, folds, smooth=smooth, se_factor=factor)
    return curve, verdict


@st.cache_data(show_spinner="Testing the valleys for dips the targets share…", max_entries=64)
def flag_valleys(
    state: str, table: pd.DataFrame, stimulus_set: str, pooling: str, components: tuple[str, ...]
) -> pd.DataFrame:
    """Each valley: an attention-sink layer? a dip most targets share? (as in Findings)."""
    parts = []
    for model, part in table.groupby("model", sort=False):
        filters = dict(model=model, stimulus_set=stimulus_set, pooling=pooling)
        scores = views.curves(None, **filters, components=list(components))
        sinks = {model: views.sinks_of(None, model=model)}
        parts.append(valley_flags(part, scores, sink_layers=sinks))
    return pd.concat(parts, ignore_index=True)


rows, curves, marks = [], [], []

for model in models:
    for component in components:
        try:
            curve, verdict = analyse(token(), model, target, component, smooth, factor)
        except (KeyError, IndexError, ValueError):
            continue
        if curve.empty:
            continue
        curve = curve.assign(model=model, component=component)
        curves.append(curve)
        v = verdict.iloc[0]
        rows.append({"model": model, "component": component, **v.to_dict()})
        keep = [
            (v["peak_layer"], "peak"),
            (v["second_peak_layer"], "peak"),
            (v["valley_layer"], "valley"),
        ]
        for layer, kind in keep:
            if pd.notna(layer):
                point = curve[curve["layer"] == int(layer)].iloc[0]
                marks.append(
                    {
                        "model": model,
                        "component": component,
                        "layer": int(layer),
                        "relative_depth": point["relative_depth"],
                        "score": point["score"],
                        "kind": kind,
                    }
                )
if not curves:
    st.warning("No curve for this selection.")
    st.stop()
data = pd.concat(curves, ignore_index=True)
x = "relative_depth" if len(models) > 1 else "layer"
# one model: its sink layers shaded (two models on relative depth have different ones)
sinks = guarded(views.sinks_of, None, model=models[0]) if len(models) == 1 else []
fig = plots.layer_curves(
    data,
    x=x,
    color="model" if len(models) > 1 else "component",
    dash="component" if len(models) > 1 else None,
    significant=None,
    null_band=target != MEAN,
    title=f"{' vs '.join(models)} · {stimulus_set} · {target}",
    caption="▼ peaks, ○ valley of the two most prominent peaks (smoothed curve); a double "
    "peak is claimed when the dip beats the best single-peaked fit plus the same fold noise "
    "(200 simulations).\n" + plots.glossary(components),
    metric="normalized" if target == MEAN else data["metric"].iloc[0],
    presentation=selection.presentation,
    sinks=sinks,
)
marked = pd.DataFrame(marks)
if not marked.empty:
    plots.mark_points(fig, marked, x=x, color="model" if len(models) > 1 else "component")
figure.show(fig, data, name=f"double-peaks-{stimulus_set}-{target}", key="peaks")
table = pd.DataFrame(rows)
if "valley_layer" in table.columns:
    table = guarded(flag_valleys, token(), table, stimulus_set, pooling, tuple(components))
st.subheader("Peaks and valleys")
for sentence in report.double_peak_sentences(table, head=("model", "component")):
    st.markdown(f"- {sentence}")
st.dataframe(readable(table, digits=3), hide_index=True, width="stretch")
glossary("normalised score", "mean curve")
