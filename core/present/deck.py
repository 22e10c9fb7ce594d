"""A talk deck in one call: the findings of one model (or two) as slides, in a fixed order.

:func:`slides` turns the stored results into :class:`Slide` objects, each a figure whose
title states the finding and whose caption says what was measured (model, stimulus set,
pooling, n, folds, permutations) and against which control; :func:`write` puts them in
one self-contained HTML file (plotly.js inline, so it works offline; static SVG copies for
printing), a folder of slide-ready PNG (1920 × 1080) and SVG (960 × 540) files, the data
behind each figure as CSV, and a PDF through Chromium's print-to-PDF when Chromium is
installed.  :func:`build` does both.

The order is fixed: the hierarchy on one model, small vs large on relative depth (with a
second model), the paper's bands beside ours, a double peak with its valley (or the
statement that none passed the test), anti-persistence against its noise baseline, the
layer × layer matrix, then one slide per extra findings table (e.g. a stimulus audit or
controls, when the analyses provide them) and the surface baselines when stored.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.errors import StrataError
from core.names import COMPONENTS, in_set_order
from core.present import plots, report, views
from core.present import reference as published
from core.safe_csv import to_csv
from core.storage import store

KNOWN_TABLES = (
    "curves",
    "double_peaks",
    "persistence",
    "hierarchy",
    "order",
    "lexical",
    "controls",  # its own slide: _baseline_slide
    "shared_dips",  # one row per layer: the report's sentences say what it finds
    "analogy_layers",
)
EXTRA_TITLES = {
    "audit": "Stimulus audit: what a trivial reader of the stimuli could exploit",
    "stimulus_audit": "Stimulus audit: what a trivial reader of the stimuli could exploit",
    "controls": "Controls: how much of each peak a trivial reader already gets",
    "baselines": "Surface baselines beside each curve's best layer",
    "sinks": "Attention-sink layers",
    "analogy_effect": "Analogy effect: the full stimulus minus the better half, per third",
}
# What each further table's finding was measured against (its caption's control).
EXTRA_CONTROLS = {
    "sinks": "the model's median layer (first-token norm over the median token's, attention "
    "on position 0); a sink layer is the onset of a massive first-token activation",
    "analogy_effect": "the better of the two half-stimulus curves at each layer (mean_ab / "
    "mean_cd for analogies, mean_x / mean_y for pairs), from the same forward pass; SE "
    "from the fold-paired differences",
}
LEAD_COMPONENT = "resid_pre"
NULL_FIT = "single-peaked fit (the null)"
MATRIX_COMPONENT = "attn_out"


@dataclass
class Slide:
    """One slide: a figure whose title is the finding, its caption, notes and data."""

    key: str
    title: str
    caption: str
    figure: go.Figure
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)


@dataclass
class DeckFiles:
    """What :func:`write` made; ``pdf_note`` says why there is no PDF, when there is none."""

    html: Path
    images: list[Path]
    data: list[Path]
    pdf: Path | None
    pdf_note: str | None
    image_note: str | None


def _on_slide(title: str, caption: str) -> dict:
    """A slide figure's text options: its finding as the title, its caption, slide fonts.

    Parameters
    ----------
    title, caption : str

    Returns
    -------
    dict
        ``title``, ``caption`` and ``presentation`` for a :mod:`core.present.plots` builder.
    """
    return {"title": title, "caption": caption, "presentation": True}


# --------------------------------------------------------------------------- captions
class _Words:
    """Jargon is explained once per deck: the first caption that needs a term says it."""

    def __init__(self):
        self.said: set[str] = set()

    def explain(self, *terms: str) -> str:
        new = [t for t in terms if t not in self.said and t in plots.GLOSSARY]
        self.said.update(new)
        if not new:
            return ""
        return "\n" + "; ".join(plots.GLOSSARY[t] for t in new) + "."


def _measured(runs: pd.DataFrame, model: str, pooling: str) -> str:
    """``smollm2-135m · items n = 440, pairs n = 480 · pooling mean · 6 folds · 20 perm.``"""
    if runs.empty:
        return f"{model} · pooling {pooling}"
    sets = ", ".join(f"{r.stimulus_set} {r.n_items}" for r in runs.itertuples())
    folds = "/".join(str(v) for v in dict.fromkeys(runs["folds"].dropna().astype(int)))
    perms = "/".join(str(v) for v in dict.fromkeys(runs["permutations"].dropna().astype(int)))
    return (
        f"{model} ({int(runs['n_layers'].iloc[0])} layers) · n = {sets} stimuli · pooling "
        f"{pooling} · {folds} grouped folds · {perms} permutations"
    )


def _caption(measured: Sequence[str], control: str, explained: str = "") -> str:
    return " | ".join(measured) + f"\nMeasured against: {control}." + explained


def _measured_many(models: Sequence[_Model], pooling: str, sets: Sequence[str]) -> list[str]:
    """One caption line for several models measured alike (folds, permutations).

    ``smollm2-135m (30 layers): items 48, pairs 48; gemma3-270m (18 layers): items 48 ·
    pooling mean · 6 grouped folds · 5 permutations``; separate lines when they differ.
    """
    runs = [m.runs[m.runs["stimulus_set"].isin(sets)] for m in models]
    settings = {
        (
            tuple(sorted(set(r["folds"].dropna().astype(int)))),
            tuple(sorted(set(r["permutations"].dropna().astype(int)))),
        )
        for r in runs
    }
    if len(settings) != 1 or any(r.empty for r in runs):
        return [_measured(r, m.name, pooling) for m, r in zip(models, runs)]
    (folds, perms), *_ = settings
    who = "; ".join(
        f"{m.name} ({int(r['n_layers'].iloc[0])} layers): "
        + ", ".join(f"{x.stimulus_set} {x.n_items}" for x in r.itertuples())
        for m, r in zip(models, runs)
    )
    return [
        f"n = {who} stimuli · pooling {pooling} · {'/'.join(map(str, dict.fromkeys(folds)))} "
        f"grouped folds · {'/'.join(map(str, dict.fromkeys(perms)))} permutations"
    ]


# --------------------------------------------------------------------------- the data
@dataclass
class _Model:
    """One model's findings tables, stored sets and the caption line of what it measured."""

    name: str
    tables: dict[str, pd.DataFrame]
    runs: pd.DataFrame
    sets: list[str]
    measured: str


def _load(db, model: str, pooling: str) -> _Model:
    tables = views.findings(db, model=model, pooling=pooling)
    index = store.results_index(db)
    sets = in_set_order(
        index.loc[(index["model"] == model) & (index["pooling"] == pooling), "stimulus_set"]
    )
    runs = views.run_settings(db, model=model, pooling=pooling, stimulus_sets=sets)
    return _Model(model, tables, runs, sets, _measured(runs, model, pooling))


# --------------------------------------------------------------------------- 1 hierarchy
def _order_words(hierarchy: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, list[str]]:
    """A title clause on the order by peak depth, and one note per component.

    The order holds in a component only when every adjacent pair's bootstrap interval of
    the peak-depth difference is above zero (:func:`core.analysis.order_verdict`).
    """
    from core.analysis import order_verdict

    if hierarchy.empty or pairs.empty:
        return "", []
    rank = {c: i for i, c in enumerate(COMPONENTS)}
    ordered = hierarchy.sort_values(
        "component", key=lambda c: c.map(rank).fillna(len(rank)), kind="stable"
    )
    said: dict[str, list[str]] = {}
    for component, part in ordered.groupby("component", sort=False):
        between = pairs[pairs["component"] == component]
        said.setdefault(order_verdict(between, tuple(part["stimulus_set"])), []).append(component)
    notes = report.hierarchy_sentences(ordered, pairs)
    order = " < ".join(hierarchy["stimulus_set"].drop_duplicates())
    holding, rest = said.get("holds", []), [c for k, v in said.items() if k != "holds" for c in v]
    if holding and not rest:
        clause = f"{order} by peak depth in every component"
    elif not holding:
        clause = f"{order} is not established by peak depth in any component"
    else:
        clause = f"{order} by peak depth in {', '.join(holding)}, not in {', '.join(rest)}"
    return clause, notes


def _hierarchy_slide(db, found: _Model, pooling: str, words: _Words, reference) -> Slide:
    data = views.mean_curves(
        db, model=found.name, stimulus_sets=found.sets, pooling=pooling, components=COMPONENTS
    )
    curves = found.tables["curves"]
    peaks = curves.assign(relative_depth=curves["peak_depth"], score=curves["peak_score"])[
        ["stimulus_set", "component", "relative_depth", "score"]
    ]
    clause, notes = _order_words(
        found.tables.get("hierarchy", pd.DataFrame()), found.tables.get("order", pd.DataFrame())
    )
    notes += report.lexical_sentences(found.tables.get("lexical", pd.DataFrame()))
    title = (
        f"{found.name}: {clause}" if clause else f"{found.name}: where each set's decoding peaks"
    )
    caption = _caption(
        [found.measured],
        "chance (each target normalised, 0 = chance); the order: 95 % intervals of the "
        "peak-depth difference from resampling stimuli (folds when no per-stimulus "
        "predictions are stored, weaker)",
        words.explain(*COMPONENTS, "normalized"),
    )
    fig = plots.layer_curves(
        data,
        x="relative_depth",
        color="stimulus_set",
        facet="component",
        peaks=peaks,
        **_on_slide(title, caption),
        **plots.MEAN_CURVE,
    )
    fig.update_yaxes(title_text="normalised score, mean over targets", row=1, col=1)
    return Slide("hierarchy", title, caption, fig, data, notes)


# --------------------------------------------------------------------------- 2 scale
def _scale_slide(db, a: _Model, b: _Model, pooling: str, words: _Words) -> Slide | None:
    """Both models' mean curves on relative depth, one panel per shared set.

    The title gives the two peak depths per set and the notes the shift with its fold
    bootstrap interval; it calls no shift "later" or "earlier", because that interval (six
    folds resampled) has not been calibrated as a test (the Compare page shows the same
    numbers as a table).
    """
    shared = [s for s in a.sets if s in b.sets]
    if not shared:
        return None
    models = [a.name, b.name]
    data = views.mean_curves(
        db, model=models, stimulus_sets=shared, pooling=pooling, components=[LEAD_COMPONENT]
    )
    data = data.sort_values("model", key=lambda c: c.map({m: i for i, m in enumerate(models)}))
    shifts = pd.concat(
        [
            views.peak_shift_table(
                db, models=models, stimulus_set=name, pooling=pooling, component=LEAD_COMPONENT
            ).assign(stimulus_set=name)
            for name in shared
        ],
        ignore_index=True,
    )
    parts = [
        f"{r.stimulus_set} peak at {r.peak_depth_a:.2f} vs {r.peak_depth_b:.2f}"
        for r in shifts.itertuples()
    ]
    title = f"{a.name} vs {b.name} on relative depth ({LEAD_COMPONENT}): " + "; ".join(parts)
    notes = [
        f"{r.stimulus_set}: peak at {r.peak_depth_a:.2f} in {a.name}, {r.peak_depth_b:.2f} in "
        f"{b.name}; shift {r.shift:+.2f} [{r.shift_lo:+.2f}, {r.shift_hi:+.2f}] (95 % interval "
        "over resampled folds, descriptive)"
        for r in shifts.itertuples()
    ]
    caption = _caption(
        _measured_many([a, b], pooling, shared),
        "chance (0 after normalising); peak depths compared as numbers, with the shift's "
        "interval over resampled folds in the notes (a description, not a test)",
        words.explain(LEAD_COMPONENT, "normalized"),
    )
    fig = plots.layer_curves(
        data,
        x="relative_depth",
        color="model",
        facet="stimulus_set",
        **_on_slide(title, caption),
        **plots.MEAN_CURVE,
    )
    return Slide("scale", title, caption, fig, shifts, notes)


# --------------------------------------------------------------------------- 3 paper
def _paper_words(table: pd.DataFrame, label: str) -> str:
    parts = []
    for name, part in table[table["label"] == label].groupby("stimulus_set", sort=False):
        where = part["where"]
        if (where == "inside").all():
            parts.append(f"{name} agree")
        elif (where == "inside").any():
            parts.append(f"{name} partly")
        else:
            parts.append(f"{name} {where.mode().iloc[0].replace(' than', '')}")
    return ", ".join(parts)


def _paper_slide(
    models: list[_Model], reference: pd.DataFrame, pooling: str, words: _Words
) -> Slide | None:
    sets = list(dict.fromkeys(s for m in models for s in m.sets))
    bands = published.bands(reference, stimulus_sets=sets)
    if bands.empty:
        return None
    curves = pd.concat([m.tables["curves"].assign(model=m.name) for m in models], ignore_index=True)
    table = published.agreement(curves, bands)
    first = models[0].name
    labels = list(dict.fromkeys(bands["label"]))
    mine = table[table["model"] == first]
    lead = labels[0]
    said = _paper_words(mine, lead) if len(mine) else "no set in common"
    title = f"{first} beside {lead}: {said}"
    notes = []
    for m in models:
        notes += published.agreement_sentences(
            table[table["model"] == m.name], model=m.name, double_peaks=m.tables["double_peaks"]
        )
    notes += published.rho_sentences(reference, models[0].tables["persistence"], model=first)
    sources = "; ".join(dict.fromkeys(bands["source"]))
    caption = _caption(
        _measured_many(models, pooling, sets),
        f"published layer bands ({sources}) as layer / (L-1), each ±1 layer for the unstated "
        "numbering; a description of where ours sits, not a test",
        words.explain(*COMPONENTS),
    )
    fig = plots.depth_summary(curves, reference=bands, **_on_slide(title, caption))
    return Slide("paper", title, caption, fig, table, notes)


# --------------------------------------------------------------------------- 4 double peak
def _double_peak_candidate(models: list[_Model]) -> tuple[_Model, pd.Series, bool] | None:
    """The double peak with the smallest p, else the closest two-peaked curve."""
    best = None
    for m in models:
        table = m.tables["double_peaks"]
        for _, row in table.iterrows():
            if not np.isfinite(row.get("p_value", np.nan)):
                continue
            key = (not bool(row["double_peak"]), float(row["p_value"]))
            if best is None or key < best[0]:
                best = (key, m, row)
    if best is None:
        return None
    return best[1], best[2], not best[0][0]


def _mean_curve_and_null(db, model: str, row: pd.Series, pooling: str):
    """The mean curve the double-peak test saw (fold SE) and its single-peaked null fit.

    Returns
    -------
    curve, null : DataFrame
        One row per layer each; ``null`` is the weighted unimodal fit (``model`` =
        :data:`NULL_FIT`), the centre of the test's simulated curves.
    """
    from core.analysis.findings import mean_fold_curve
    from core.analysis.peaks import unimodal_fit

    where = dict(model=model, stimulus_set=row["stimulus_set"], pooling=pooling)
    scores = views.curves(db, **where, components=[row["component"]])
    folds = views.fold_rows(db, **where, component=row["component"])
    curve, _ = mean_fold_curve(scores, folds)
    se = np.maximum(curve["score_se"].fillna(0).to_numpy(float), 1e-12)
    null = curve.drop(columns=["score_se"]).assign(
        score=unimodal_fit(curve["score"].to_numpy(float), 1.0 / se**2), model=NULL_FIT
    )
    return curve.assign(model=model), null


def _double_peak_title(model: str, row: pd.Series, passed: bool, names: str, n: int) -> str:
    where = f"{row['stimulus_set']} · {row['component']} in {model}"
    detail = (
        f"the peak at layer {row['peak_layer']:.0f} and a second peak at "
        f"{row['second_peak_layer']:.0f}, valley at "
        f"{row['valley_layer']:.0f} (dip {row['dip']:.3f}, p = {row['p_value']:.3f})"
    )
    if pd.notna(row.get("valley_shared", np.nan)):  # the speaker must not sell it as a peak
        detail += f"; the valley is a dip {row['valley_shared']:.0%} of the targets share"
    elif row.get("valley_at_sink", False) is True:
        detail += "; the valley is an attention-sink layer"
    if passed:
        return f"{where} peaks twice: {detail}"
    return f"No double peak passed the test in {names} ({n} curves); closest: {where}, {detail}"


def _mark_double_peak(fig: go.Figure, curve: pd.DataFrame, row: pd.Series, model: str) -> None:
    """Grey dashes for the null fit; triangles at the two peaks, a ring at the valley."""
    grey = plots.REFERENCE_COLOR
    fig.update_traces(
        selector={"name": NULL_FIT},
        line={"color": grey, "dash": "dash"},
        marker={"color": grey, "size": 5, "line": {"color": grey}},
    )
    marks = [
        {"layer": int(layer), "kind": kind, "model": model}
        for kind, layer in (
            ("peak", row["peak_layer"]),
            ("peak", row["second_peak_layer"]),
            ("valley", row["valley_layer"]),
        )
    ]
    marks = pd.DataFrame(marks).merge(curve[["layer", "score"]], on="layer")
    plots.mark_points(fig, marks, x="layer", color="model")


def _double_peak_slide(db, models: list[_Model], pooling: str, words: _Words) -> Slide:
    n_curves = sum(len(m.tables["double_peaks"]) for m in models)
    names = " and ".join(m.name for m in models)
    control = (
        "single-peaked curves (the best unimodal fit, drawn dashed, and a flat curve) plus "
        "the fold noise, correlated over layers as the folds show, the whole procedure "
        "rerun on 200 simulated curves of each"
    )
    found = _double_peak_candidate(models)
    if found is None:
        title = f"No curve of {names} has two peaks: no double peak ({n_curves} curves tested)"
        caption = _caption([m.measured for m in models], control)
        fig = plots.statement(title, title=title, presentation=True)
        return Slide("double_peak", title, caption, fig, pd.DataFrame(), [])
    m, row, passed = found
    curve, null = _mean_curve_and_null(db, m.name, row, pooling)
    title = _double_peak_title(m.name, row, passed, names, n_curves)
    data = pd.concat([curve, null], ignore_index=True)
    caption = _caption([m.measured], control, words.explain(row["component"], "normalized"))
    fig = plots.layer_curves(
        data,
        x="layer",
        color="model",
        chance=False,  # the control here is the single-peaked fit, drawn beside the curve
        **_on_slide(title, caption),
        **plots.MEAN_CURVE,
    )
    _mark_double_peak(fig, curve, row, m.name)
    notes = [f"{len(x.tables['double_peaks'])} curves of {x.name} tested" for x in models]
    return Slide("double_peak", title, caption, fig, data, notes)


# --------------------------------------------------------------------------- 5 rho
def _rho_title(name: str, rho: pd.DataFrame) -> str:
    """How many curves alternate beyond noise, per estimator."""
    beyond = rho["verdict"] == "anti-persistent beyond noise"
    counts = {
        e: (int(beyond[part.index].sum()), len(part))
        for e, part in rho.groupby("estimator", sort=False)
    }
    tally = ", ".join(f"{k} of {n} ({e})" for e, (k, n) in counts.items())
    if not beyond.any():
        return f"{name}: no alternation of adjacent layers beyond noise ({tally})"
    return f"{name}: adjacent layers alternate beyond noise in {tally} curves"


def _add_published_rho(fig: go.Figure, reference: pd.DataFrame, panels: list[str]) -> None:
    """The published ρ as a dashed line on the naive panel (the paper's estimator), named
    in the legend rather than over the data; zero on the split-half panel."""
    line = {"dash": "dash", "color": plots.REFERENCE_COLOR, "width": 2}
    for col, panel in enumerate(panels, start=1):
        if not panel.startswith("naive"):
            fig.add_vline(x=0, line={"dash": "dot", "color": "#444"}, row=1, col=col)
            continue
        for ref in reference[reference["measure"] == "rho"].itertuples():
            fig.add_vline(x=ref.value, line=line, row=1, col=col)
            name = f"{ref.label}: ρ = {ref.value:.2f} ({panel})"
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, name=name))
            lo, hi = fig.layout[f"xaxis{col if col > 1 else ''}"].range
            fig.update_xaxes(
                range=[min(lo, ref.value - 0.05), max(hi, ref.value + 0.3)], row=1, col=col
            )


def _rho_slide(found: _Model, reference: pd.DataFrame, words: _Words) -> Slide | None:
    rho = found.tables["persistence"].dropna(subset=["rho"])
    if rho.empty:
        return None
    rho = rho.assign(
        curve=rho["stimulus_set"] + " · " + rho["component"],
        estimator=rho["estimator"].astype(str),
    ).reset_index(drop=True)
    title = _rho_title(found.name, rho)
    caption = _caption(
        [found.measured],
        "noise alone (grey, 95 %): flat curves (naive; pure independent noise gives -0.5) "
        "or flat halves (split-half) whose noise keeps the fold noise's correlation over "
        "layers and between targets",
        words.explain(*COMPONENTS),
    )
    fig = plots.rho_intervals(
        rho,
        x_title="ρ = corr(Δ(l), Δ(l+1))",
        **_on_slide(title, caption),
    )
    _add_published_rho(fig, reference, list(dict.fromkeys(rho["estimator"])))
    notes = [
        f"{r.curve} ({r.estimator}): ρ = {r.rho:.2f}; noise alone {r.baseline_mean:.2f} "
        f"[{r.baseline_lo:.2f}, {r.baseline_hi:.2f}]: {r.verdict} (p = {r.p_value:.3f})"
        for r in rho.itertuples()
    ]
    return Slide("antipersistence", title, caption, fig, rho, notes)


# --------------------------------------------------------------------------- 6 matrix
def _matrix_slide(db, found: _Model, pooling: str, words: _Words) -> Slide | None:
    from core.analysis import layer_correlation

    component = MATRIX_COMPONENT
    scores = views.curves(
        db, model=found.name, stimulus_set=found.sets, pooling=pooling, components=[component]
    )
    if scores.empty:
        return None
    scores = scores.assign(target=scores["stimulus_set"] + "/" + scores["target"])
    n_targets = scores["target"].nunique()
    if n_targets < 3:
        return None
    matrix = layer_correlation(scores, zscore=True)
    values = matrix.to_numpy(float)
    lag1 = float(np.nanmean(np.diagonal(values, 1)))
    lag2 = float(np.nanmean(np.diagonal(values, 2)))
    title = (
        f"{found.name} · {component}: adjacent layers correlate {lag1:.2f} on average, "
        f"layers two apart {lag2:.2f}"
    )
    caption = _caption(
        [found.measured],
        f"each of {n_targets} targets' curves z-scored over layers, so only where a target "
        "rises and falls counts (the raw matrix is near 1 everywhere); alternation would put "
        "the first number below the second; a description",
        words.explain(component),
    )
    fig = plots.heatmap(
        matrix, x_label="layer", y_label="layer", colorbar_title="r", **_on_slide(title, caption)
    )
    return Slide(
        "matrix",
        title,
        caption,
        fig,
        matrix.reset_index(),
        [f"lag-1 mean r = {lag1:.3f}, lag-2 mean r = {lag2:.3f} over {n_targets} targets"],
    )


# --------------------------------------------------------------------------- 7+ extras
def _extra_slides(found: _Model, words: _Words) -> list[Slide]:
    out = []
    for key, table in found.tables.items():
        if key in KNOWN_TABLES or not isinstance(table, pd.DataFrame) or table.empty:
            continue
        title = EXTRA_TITLES.get(key, key.replace("_", " ").capitalize())
        title = f"{found.name}: {title[0].lower()}{title[1:]}"
        caption = _caption([found.measured], EXTRA_CONTROLS.get(key, "see the table's own columns"))
        shown = table
        if key == "analogy_effect" and {"range", "effect", "effect_se"} <= set(table.columns):
            shown, title = _effect_table(table), _effect_title(found.name, table)
        fig = plots.table_figure(
            shown,
            **_on_slide(title, caption),
        )
        out.append(Slide(key, title, caption, fig, table, []))
    return out


def _effect_table(effect: pd.DataFrame) -> pd.DataFrame:
    """One row per set × component, one column per third of the layers: effect ± SE."""
    cells = effect.assign(
        where=[f"{r.range} (L{r.layer_lo}-{r.layer_hi})" for r in effect.itertuples()],
        value=[f"{r.effect:+.3f} ± {r.effect_se:.3f}" for r in effect.itertuples()],
    )
    wide = cells.pivot(index=["stimulus_set", "component"], columns="where", values="value")
    order = list(dict.fromkeys(cells["where"]))  # early, middle, late as computed
    return wide[order].reset_index()


def _effect_title(name: str, effect: pd.DataFrame) -> str:
    """How often the full stimulus beats its better half by more than 2 SE (analogies)."""
    own = effect[effect["stimulus_set"].astype(str).str.startswith("analog")]
    own = own if len(own) else effect
    above = int((own["effect"] > 2 * own["effect_se"]).sum())
    return (
        f"{name}: the full analogy beats its better half by over 2 SE in {above} of "
        f"{len(own)} layer thirds × components"
    )


def _baseline_slide(db, found: _Model, pooling: str) -> Slide | None:
    """Each target's ``resid_pre`` curve against its best surface baseline, if stored.

    The verdict is the Findings ``controls`` one (some layer above the baseline fold by
    fold beyond the Bonferroni bound over layers), not a best layer's raw margin, which is
    chosen as a maximum and so biased upward.
    """
    from core.analysis.controls import MEAN
    from core.analysis.controls import VERDICTS as BASELINE

    controls = found.tables.get("controls", pd.DataFrame())
    if controls.empty:
        return None
    rows = controls[
        (controls["component"] == "resid_pre")
        & (controls["target"] != MEAN)
        & (controls["baseline_verdict"] != BASELINE[2])
    ]
    if rows.empty:
        return None
    shown = rows[
        ["stimulus_set", "target", "baseline", "baseline_score", "peak_score", "baseline_verdict"]
    ].rename(columns={"peak_score": "peak (resid_pre)", "baseline": "best baseline"})
    # a short cell, so the table fits a slide: the title says what "beats" means
    short = {BASELINE[0]: "yes", BASELINE[1]: "no"}
    shown = shown.assign(baseline_verdict=shown["baseline_verdict"].map(short)).rename(
        columns={"baseline_verdict": "beats it"}
    )
    above = int((rows["baseline_verdict"] == BASELINE[0]).sum())
    title = f"{found.name}: {above} of {len(rows)} targets beat their best surface baseline"
    caption = _caption(
        [found.measured],
        "the same probe on the same folds, on word frequency, length, token count and "
        "position; beaten when some resid_pre layer is above it fold by fold (one-sided t, "
        "Bonferroni over layers)",
    )
    fig = plots.table_figure(
        shown.round(3),
        **_on_slide(title, caption),
    )
    return Slide("baselines", title, caption, fig, shown, [])


# --------------------------------------------------------------------------- the deck
def slides(
    db,
    *,
    model: str,
    compare: str | None = None,
    pooling: str = "mean",
    reference: pd.DataFrame | None = None,
) -> list[Slide]:
    """The deck's slides, in the fixed order, from stored results.

    Parameters
    ----------
    db : path or None
        The results database.
    model : str
        The model the deck is about.
    compare : str, optional
        A second model for the small-vs-large slide and beside the first elsewhere.
    reference : DataFrame, optional
        Published results (:func:`core.present.reference.load`; default the paper's).

    Returns
    -------
    list of Slide

    Raises
    ------
    StrataError
        When a model has no results with ``pooling`` (one line).
    """
    reference = published.load() if reference is None else reference
    if compare == model:
        raise StrataError(f"--compare names the same model as --model ('{model}')")
    found = _load(db, model, pooling)
    other = _load(db, compare, pooling) if compare else None
    models = [found] + ([other] if other else [])
    words = _Words()
    out: list[Slide | None] = [_hierarchy_slide(db, found, pooling, words, reference)]
    if other is not None:
        out.append(_scale_slide(db, found, other, pooling, words))
    out.append(_paper_slide(models, reference, pooling, words))
    out.append(_double_peak_slide(db, models, pooling, words))
    out.append(_rho_slide(found, reference, words))
    out.append(_matrix_slide(db, found, pooling, words))
    out.append(_baseline_slide(db, found, pooling))
    out += _extra_slides(found, words)  # tables other analyses add: last
    return [s for s in out if s is not None]


def chromium() -> str | None:
    """The Chromium (or Chrome) binary for print-to-PDF, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _draw(deck: list[Slide], stems: list[Path]) -> tuple[list[str] | None, list[Path], str | None]:
    """Each slide as ``stem.svg`` and ``stem.png`` (one browser).

    Returns the SVG texts (for printing) and the files written; None, no files and why
    when kaleido cannot (no browser, a figure it rejects): no image file is then left
    behind, partial or whole.
    """
    figs = [s.figure for s in deck]
    paths = [st.with_suffix(f".{fmt}") for fmt in ("svg", "png") for st in stems]
    tmps = [p.with_name(f".{p.stem}.tmp{p.suffix}") for p in paths]
    try:
        plots.write_slides(figs + figs, tmps)
    except Exception as exc:  # kaleido raises several types when no browser is found
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        why = f"{type(exc).__name__}: {exc}".split("\n")[0]
        return None, [], f"no PNG/SVG: figure export failed ({why})"
    for tmp, path in zip(tmps, paths):
        tmp.replace(path)
    svgs = [p.read_text(encoding="utf-8") for p in paths[: len(stems)]]
    return svgs, sorted(paths), None


def _html(deck_title: str, subtitle: str, deck: list[Slide], svgs: list[str] | None) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    sections = []
    for i, s in enumerate(deck, start=1):
        live = pio.to_html(
            plots.slide(s.figure),
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{i}",
            config={"displaylogo": False, "responsive": False},
        )
        static = ""
        if svgs is not None:
            encoded = base64.b64encode(svgs[i - 1].encode()).decode()
            static = (
                f'<img class="static" alt="{html.escape(s.title)}" '
                f'src="data:image/svg+xml;base64,{encoded}">'
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in s.notes)
        caption = "<br>".join(html.escape(line) for line in s.caption.split("\n"))
        sections.append(
            f'<section class="slide" id="slide-{i}" data-key="{s.key}">'
            f'<div class="live">{live}</div>{static}</section>'
            f'<div class="notes"><h2>{i}. {html.escape(s.title)}</h2>'
            f'<p class="caption">{caption}</p><ul>{notes}</ul></div>'
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(deck_title)}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>
body {{ margin: 0; background: #f3f3f3; font-family: Inter, Helvetica, Arial, sans-serif; }}
header {{ max-width: 960px; margin: 24px auto 0; }}
header h1 {{ font-size: 28px; margin: 0 0 4px; }}
header p {{ color: #555; margin: 0; }}
section.slide {{ width: 960px; height: 540px; margin: 24px auto 8px; background: white;
  box-shadow: 0 1px 6px rgba(0,0,0,.25); overflow: hidden; }}
.static {{ display: none; width: 960px; height: 540px; }}
.notes {{ max-width: 960px; margin: 0 auto 32px; color: #333; font-size: 15px; }}
.notes h2 {{ font-size: 17px; margin: 8px 0 4px; }}
.notes .caption {{ color: #555; margin: 0 0 4px; }}
@page {{ size: 960px 540px; margin: 0; }}
@media print {{
  body {{ background: white; }}
  header, .notes {{ display: none; }}
  section.slide {{ margin: 0; box-shadow: none; break-after: page; }}
  .live {{ display: {"none" if svgs is not None else "block"}; }}
  .static {{ display: block; }}
}}
</style></head>
<body><header><h1>{html.escape(deck_title)}</h1><p>{html.escape(subtitle)}</p></header>
{"".join(sections)}
</body></html>
"""


def _print_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 180) -> str | None:
    """Chromium's headless print-to-PDF; None when it worked, else why it did not."""
    binary = chromium()
    if binary is None:
        return "no PDF: Chromium is not installed (apt-get install chromium)"
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="strata-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=10000",
            f"--print-to-pdf={tmp}",
            html_path.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"no PDF: Chromium did not finish within {timeout:.0f} s"
    if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        return f"no PDF: Chromium exited with {done.returncode}"
    tmp.replace(pdf_path)
    return None


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def write(
    deck: list[Slide],
    out: str | Path,
    *,
    title: str,
    subtitle: str = "",
    images: bool = True,
    pdf: bool = True,
) -> DeckFiles:
    """Write the deck: ``deck.html``, ``slides/NN-key.png|svg|csv``, ``deck.pdf``.

    Every file is written under a temporary name and moved into place, so an interrupted
    write leaves the previous deck whole.

    Returns
    -------
    DeckFiles
    """
    out = Path(out)
    folder = out / "slides"
    folder.mkdir(parents=True, exist_ok=True)
    stems = [folder / f"{i:02d}-{_slug(s.key)}" for i, s in enumerate(deck, start=1)]
    data = []
    for s, stem in zip(deck, stems):
        if len(s.data):  # safe to open in a spreadsheet (no formulas run)
            _atomic_text(stem.with_suffix(".csv"), to_csv(s.data))
            data.append(stem.with_suffix(".csv"))
    svgs, written, image_note = _draw(deck, stems) if images else (None, [], None)
    html_path = out / "deck.html"
    _atomic_text(html_path, _html(title, subtitle, deck, svgs))
    _atomic_text(out / "slides.md", _outline(title, deck))
    pdf_path, pdf_note = None, None
    if pdf:
        pdf_path = out / "deck.pdf"
        pdf_note = _print_pdf(html_path, pdf_path)
        if pdf_note is not None:
            pdf_path = None
    return DeckFiles(html_path, written, data, pdf_path, pdf_note, image_note)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _outline(title: str, deck: list[Slide]) -> str:
    """The deck as text: each slide's title, caption and notes (for speaker notes)."""
    lines = [f"# {title}", ""]
    for i, s in enumerate(deck, start=1):
        lines += [f"## {i}. {s.title}", "", *(f"> {c}" for c in s.caption.split("\n")), ""]
        lines += [*(f"- {n}" for n in s.notes), ""]
    return "\n".join(lines)


def build(
    db,
    *,
    model: str,
    out: str | Path,
    compare: str | None = None,
    pooling: str = "mean",
    reference_files: Iterable[str | Path] = (),
    images: bool = True,
    pdf: bool = True,
) -> DeckFiles:
    """:func:`slides` then :func:`write`: the whole deck from a results database.

    Raises
    ------
    StrataError
        A model without results, or a reference file that does not validate (one line),
        before anything is written.
    """
    reference = published.load(reference_files)
    deck = slides(db, model=model, compare=compare, pooling=pooling, reference=reference)
    names = f"{model} vs {compare}" if compare else model
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    subtitle = f"Strata · pooling {pooling} · {len(deck)} slides · made {stamp}"
    with contextlib.suppress(FileExistsError):
        Path(out).mkdir(parents=True, exist_ok=True)
    return write(
        deck,
        out,
        title=f"Where meaning lives in {names}",
        subtitle=subtitle,
        images=images,
        pdf=pdf,
    )
