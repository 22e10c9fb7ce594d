"""Layer curves: score against depth, with folds' SE, chance, the null band and peaks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import curve_summary, find_curve_peaks
from core.analysis.controls import MEAN, gain_scores
from core.names import in_set_order
from core.present import plots, report, views
from core.present import reference as published
from core.present.plots import METRIC_LABELS
from core.present.tables import readable
from core.probe.metrics import BY_PROBE
from ui import drill, figure, state
from ui.data import token
from ui.page import guarded, need_components, results_page
from ui.state import page_param, set_page_param
from ui.words import glossary

selection, index = results_page(
    "Layer curves",
    "Held-out probe score at every layer (mean over 6 grouped folds ± SE). Filled markers: "
    "significant after Benjamini-Hochberg over layers × components; grey band: permutation null.",
)
REFERENCES = {"layer0": "Layer 0 (dashed)", "surface": "Surface baseline"}


def reference_boxes(columns, **helps: str) -> tuple[bool, ...]:
    """Whether to draw layer 0 and the surface baseline: two checkboxes kept in the URL,
    in ``columns``, each with this view's help (``layer0=``, ``surface=``)."""
    return tuple(
        state.checkbox(label, key=key, container=column, help=helps[key])
        for (key, label), column in zip(REFERENCES.items(), columns)
    )


SELECTABLE = {"on_select": "rerun", "selection_mode": ("points", "box")}
"""A curve figure whose points can be clicked or box-selected (for the drill-down)."""


def drawn_note(references: dict, *, layer0: str, surface: str) -> str:
    """The caption's end: the layer-0 lines, surface bands and sink layers drawn (``layer0``
    and ``surface`` say what those are in this view), then the glossary line."""
    return (
        (f" Dashed: {layer0}." if references["layer0"] is not None else "")
        + (f" {surface}." if references["surface"] is not None else "")
        + (f" Shaded: attention-sink layer(s) {', '.join(map(str, sinks))}." if sinks else "")
        + "\n"
        + plots.glossary(components)
    )


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
show_peaks = state.toggle("Mark peaks", key="peaks", default=True, container=c3)
components = list(state.components(key="curves_comp"))
need_components(components)
sinks = guarded(views.sinks_of, None, model=model)

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
    # the chosen curves, at this pooling and (overlaid below) at each half pooling
    chosen_curves = {
        "model": model,
        "stimulus_set": stimulus_set,
        "components": components,
        "targets": chosen,
        "metric": metric,
    }
    data = guarded(views.curves, None, pooling=pooling, **chosen_curves)
    data = views.with_significance(data)
    r1, r2, r3 = st.columns([2, 1, 1])
    y_axes = ["score", "gain"]
    y_labels = {"score": "score", "gain": "gain over layer 0"}
    y_axis = r1.radio(
        "y axis",
        y_axes,
        format_func=y_labels.get,
        index=y_axes.index(page_param("y", "score")),
        horizontal=True,
        disabled=metric != "primary",
        help="gain over layer 0: each curve minus resid_pre at layer 0 of the same target, "
        "fold by fold, with the SE of those differences (primary metric only)",
    )
    y_axis = y_axis if metric == "primary" else "score"
    set_page_param("y", y_axis)
    show_layer0, show_surface = reference_boxes(
        (r2, r3),
        layer0="resid_pre at layer 0: the token embeddings, before any attention ran",
        surface="The same probe on word frequency, length, token count and position (the "
        "best of them per target), ± its fold SE",
    )
    references = {"layer0": None, "surface": None}
    if show_layer0 or show_surface or y_axis == "gain":
        controls = guarded(
            views.controls_of,
            None,
            model=model,
            stimulus_set=stimulus_set,
            pooling=pooling,
            targets=chosen,
        )
        base0 = controls["layer0"].set_index("target")["score"]
        shift = base0 if y_axis == "gain" else base0 * 0  # gains are measured from layer 0
        if y_axis == "gain":
            data = gain_scores(data, controls["folds"])
        if show_layer0:
            references["layer0"] = pd.DataFrame(
                {
                    "score": (base0 - shift).to_numpy(),
                    "label": [
                        f"layer 0: {t}" if len(chosen) > 1 else "layer 0" for t in base0.index
                    ],
                }
            )
        if show_surface and controls["baseline"].empty:
            st.caption("No surface baselines are stored for this result: run it again.")
        elif show_surface:
            best = controls["baseline"]
            references["surface"] = pd.DataFrame(
                {
                    "score": (best["score"] - best["target"].map(shift).fillna(0)).to_numpy(),
                    "score_se": best["score_se"].to_numpy(),
                    "label": [
                        f"surface ({b}){': ' + t if len(chosen) > 1 else ''}"
                        for t, b in zip(best["target"], best["baseline"])
                    ],
                }
            )
    halves = (
        guarded(views.half_poolings_of, None, model=model, stimulus_set=stimulus_set)
        if pooling == "mean"
        else []
    )
    overlay = bool(halves) and state.toggle(
        f"Overlay the half-stimulus controls ({', '.join(halves)})",
        key="halves",
        help="The same targets pooled over only some target words (a and b, c and d of an "
        "analogy; x or y of a pair), from the same forward pass: what the full stimulus "
        "adds beyond its better half is the analogy effect (Findings).",
    )
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
    gain = y_axis == "gain"
    sink_note = f"; shaded: attention-sink layer(s) {', '.join(map(str, sinks))}" if sinks else ""
    if overlay:
        parts = [data]
        for half in halves:
            parts.append(guarded(views.curves, None, pooling=half, **chosen_curves))
        both = pd.concat(parts, ignore_index=True)
        fig = plots.half_curves(
            both,
            x=x,
            sinks=sinks,
            metric=used[0] if len(used) == 1 else None,
            title=f"{model} · {stimulus_set}: full stimulus vs its halves, {', '.join(chosen)}",
            caption="Mean over grouped folds ± SE; mean = every target word, "
            f"{' / '.join(halves)} = only part of them, same forward pass{sink_note}.\n"
            + plots.glossary(components),
            presentation=selection.presentation,
        )
        figure.show(fig, both, name=f"{model}-{stimulus_set}-halves", key="halves")
    fig = plots.layer_curves(
        data,
        x=x,
        color=color,
        dash=dash,
        peaks=peaks,
        chance=not gain,
        null_band=not gain,
        layer0=references["layer0"],
        surface=references["surface"],
        metric=("gain over layer 0" if gain else used[0]) if len(used) == 1 else None,
        title=f"{model} · {stimulus_set} · pooling {pooling}: {', '.join(chosen)}",
        caption=(
            "Score minus resid_pre layer 0 of the same target, mean over 6 grouped folds "
            "± SE of the per-fold differences; filled markers: significant after "
            "Benjamini-Hochberg over layers × components (of the score)."
            if gain
            else "Mean over 6 grouped folds ± SE; filled markers: significant after "
            "Benjamini-Hochberg over layers × components; grey band: 95 % of the permutation "
            "null; dotted: chance."
        )
        + drawn_note(
            references,
            layer0="resid_pre layer 0",
            surface="Orange band: best surface baseline ± SE",
        ),
        presentation=selection.presentation,
        sinks=sinks,
    )
    event = figure.show(
        fig, data, name=f"{model}-{stimulus_set}-curves", key="curves", **SELECTABLE
    )
    cells = drill.selected(event, data, x=x)
    if not cells:
        st.caption("Click (or box-select) a point of a curve to see that layer's stimuli.")
    st.subheader("Curve summaries")
    st.caption(
        "Peak: the layer where the curve, smoothed over about one layer, is highest (the "
        "same peak in every view). Peak band: layers within one SE of it. Expected layer: "
        "centre of mass of the score above chance (edge-probing style), a description only."
    )
    st.dataframe(readable(summary, digits=3), hide_index=True, width="stretch")
    if cells:
        drill.panel(
            cells,
            model=model,
            stimulus_set=stimulus_set,
            pooling=pooling,
            components=components,
            presentation=selection.presentation,
        )
else:
    sets = index.loc[(index["model"] == model) & (index["pooling"] == pooling), "stimulus_set"]
    sets = in_set_order(sets)
    show_paper = state.show_published(
        help="The paper's layer bands on relative depth (Llama-3.2-3B, Llama-3.3-70B) beside "
        "ours; add your own on the Findings page",
    )

    @st.cache_data(show_spinner="Measuring the controls…")
    def findings_controls(state_token: str, model: str, pooling: str) -> pd.DataFrame:
        # the Findings tables: one computation, one answer on every page
        return views.findings(None, model=model, pooling=pooling)["controls"]

    data = guarded(
        views.mean_curves,
        None,
        model=model,
        stimulus_sets=sets,
        pooling=pooling,
        components=components,
    )
    show_layer0, show_surface = reference_boxes(
        st.columns(2),
        layer0="Each set's mean curve of resid_pre at layer 0: the token embeddings",
        surface="Each set's mean over its targets of their best surface baseline "
        "(normalised), ± its fold SE",
    )
    references = {"layer0": None, "surface": None}
    if show_layer0:
        first = data[(data["component"] == "resid_pre") & (data["layer"] == 0)]
        references["layer0"] = pd.DataFrame(
            {
                "score": first["score"].to_numpy(),
                "label": [f"layer 0: {s}" for s in first["stimulus_set"]],
            }
        )
    saved = published.saved()
    bands = guarded(published.load, saved) if show_paper else None
    bands = published.bands(bands, stimulus_sets=sets) if bands is not None else None
    if show_surface:
        controls = guarded(findings_controls, token(), model, pooling)
        mean = controls[(controls["target"] == MEAN) & (controls["component"] == "resid_pre")]
        mean = mean.dropna(subset=["baseline_score"])
        if mean.empty:
            st.caption("No surface baselines are stored for these results: run them again.")
        else:
            references["surface"] = pd.DataFrame(
                {
                    "score": mean["baseline_score"].to_numpy(),
                    "score_se": mean["baseline_se"].to_numpy(),
                    "label": [f"surface: {s}" for s in mean["stimulus_set"]],
                }
            )
    fig = plots.layer_curves(
        data,
        x=x,
        color="stimulus_set",
        facet="component",
        **plots.MEAN_CURVE,
        reference=bands,
        layer0=references["layer0"],
        surface=references["surface"],
        title=f"{model}: mean decoding over each set's targets",
        caption="Each target's score normalised (0 = chance, 1 = perfect) and averaged over "
        "the set's targets; band: ± SE over targets"
        + ("; shaded spans: published peak layers as layer / (L-1)." if show_paper else ".")
        + drawn_note(
            references,
            layer0="each set's resid_pre layer 0",
            surface="Orange bands: each set's mean best surface baseline ± SE",
        ),
        presentation=selection.presentation,
        sinks=sinks,
    )
    event = figure.show(fig, data, name=f"{model}-hierarchy", key="hierarchy", **SELECTABLE)
    if drill.points_of(event):
        st.info(
            "A mean curve averages several targets, so its points have no stimuli of their "
            "own: pick a target to drill down (Show: One or more targets)."
        )

    @st.cache_data(show_spinner="Testing the order…")
    def order(state_token: str, model: str, pooling: str) -> dict:
        # the Findings tables: one computation, one answer on every page
        tables = views.findings(None, model=model, pooling=pooling)
        return {"sets": tables["hierarchy"], "pairs": tables["order"]}

    found = order(token(), model, pooling)
    table, pairs = found["sets"], found["pairs"]
    if len(table):
        table = table[table["component"].isin(components)]
        pairs = pairs[pairs["component"].isin(components)]
    if len(table):
        st.subheader("Which sets peak before which?")
        st.caption(
            "Peak of each set's mean curve over its property targets, with 95 % intervals "
            "from resampling stimuli (or folds, when per-stimulus predictions are absent: "
            "weaker); an order is claimed only when the interval of the difference excludes "
            "zero. Expected depth is a description, never a verdict."
        )
        st.dataframe(readable(table), hide_index=True, width="stretch")
        for sentence in report.hierarchy_sentences(table, pairs):
            st.markdown(f"- {sentence}")
glossary(
    "normalised score",
    "mean curve",
    "relative depth",
    "peak band",
    "expected depth",
    "gain over layer 0",
    "surface baseline",
)
