"""Plotly figure builders: a long DataFrame in, a ``go.Figure`` out, no side effects.

Every builder takes column names rather than reshaped data, and a ``presentation`` flag
that makes fonts and lines large enough for a projector.  Colours are fixed per component
(and per model, per stimulus set) so the same thing looks the same on every page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.names import in_set_order

COMPONENT_COLORS = {"resid_pre": "#1f5fa8", "attn_out": "#c8392b", "mlp_out": "#2e8b57"}
COMPONENT_LABELS = {
    "resid_pre": "residual stream (resid_pre)",
    "attn_out": "attention output (attn_out)",
    "mlp_out": "MLP output (mlp_out)",
}
SET_COLORS = {"items": "#1f5fa8", "pairs": "#e08a00", "analogies": "#7b3fa0", "buried": "#5a5a5a"}
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
METRIC_LABELS = {
    "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy",
    "pearson_r": "Pearson r (held out)",
    "r2": "R² (held out)",
    "normalized": "normalised score (0 = chance, 1 = perfect)",
}
AXIS_LABELS = {"layer": "layer (0-based)", "relative_depth": "relative depth  l / (L-1)"}


def color_for(kind: str, value: str, order: Sequence[str] = ()) -> str:
    """A stable colour for a series value, whatever else is on the figure."""
    if kind == "component" and value in COMPONENT_COLORS:
        return COMPONENT_COLORS[value]
    if kind == "stimulus_set" and value in SET_COLORS:
        return SET_COLORS[value]
    palette = qualitative.D3 if kind == "model" else qualitative.Safe
    index = list(order).index(value) if value in order else abs(hash(value))
    return palette[index % len(palette)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def style(fig: go.Figure, *, presentation: bool = False, height: int | None = None) -> go.Figure:
    """House style; ``presentation`` scales fonts, lines and markers for a projector."""
    font = 22 if presentation else 13
    fig.update_layout(
        template="plotly_white",
        font={"size": font, "family": "Inter, Helvetica, Arial, sans-serif"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "x": 0, "title": None},
        margin={"l": 70, "r": 20, "t": 70 if presentation else 56, "b": 40},
        height=height or (620 if presentation else 460),
        hoverlabel={"font_size": font},
    )
    if presentation:
        fig.update_traces(selector={"mode": "lines"}, line_width=4).update_traces(
            selector={"mode": "lines+markers"}, line_width=4, marker_size=9
        )
        fig.update_xaxes(tickfont_size=font, title_font_size=font + 2)
        fig.update_yaxes(tickfont_size=font, title_font_size=font + 2)
    return fig


def _series_label(row: pd.Series, by: Sequence[str]) -> str:
    parts = []
    for column in by:
        value = row[column]
        parts.append(COMPONENT_LABELS.get(value, value) if column == "component" else str(value))
    return " · ".join(parts)


def layer_curves(
    data: pd.DataFrame,
    *,
    x: str = "layer",
    color: str = "component",
    dash: str | None = None,
    facet: str | None = None,
    band: bool = True,
    null_band: bool = True,
    chance: bool = True,
    significant: str | None = "significant",
    peaks: pd.DataFrame | None = None,
    metric: str | None = None,
    title: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Score against depth, one line per series, with its uncertainty and the null.

    Parameters
    ----------
    data : DataFrame
        One row per series point: ``x``, ``score``, optionally ``score_se``, ``chance``,
        ``null_lo``, ``null_hi`` and a boolean ``significant``, plus the series columns
        named by ``color``, ``dash`` and ``facet``.
    x : {"layer", "relative_depth"}
    color, dash : str, optional
        Columns that pick a line's colour and dash style.
    facet : str, optional
        A column whose values get side-by-side panels with shared axes.
    band : bool
        Shade mean ± SE over folds.
    null_band : bool
        Shade the permutation null's 2.5-97.5 % band (grey).
    chance : bool
        Draw the chance level as a dotted line.
    significant : str, optional
        Boolean column; significant points get filled markers, others hollow.
    peaks : DataFrame, optional
        Peaks to mark: the series columns, ``x`` and ``score`` (and optionally
        ``band_lo``/``band_hi`` in ``x`` units for the peak band).
    """
    if data.empty:
        return style(_empty("no results for this selection"), presentation=presentation)
    series_cols = [c for c in (color, dash, facet) if c]
    panels = list(dict.fromkeys(data[facet])) if facet else [None]
    colors = list(dict.fromkeys(data[color])) if color else []
    dashes = list(dict.fromkeys(data[dash])) if dash else []
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        subplot_titles=[str(p) for p in panels] if facet else None,
        horizontal_spacing=0.04,
    )
    shown: set[str] = set()
    for col, panel in enumerate(panels, start=1):
        part = data if panel is None else data[data[facet] == panel]
        if null_band and {"null_lo", "null_hi"} <= set(part.columns):
            nulls = part.dropna(subset=["null_lo", "null_hi"]).groupby(x)[["null_lo", "null_hi"]]
            nulls = nulls.mean().reset_index().sort_values(x)
            if len(nulls):
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([nulls[x], nulls[x][::-1]]),
                        y=np.concatenate([nulls["null_hi"], nulls["null_lo"][::-1]]),
                        fill="toself",
                        fillcolor="rgba(120,120,120,0.15)",
                        line={"width": 0},
                        name="permutation null (95 %)",
                        legendgroup="null",
                        showlegend="null" not in shown,
                        hoverinfo="skip",
                    ),
                    row=1,
                    col=col,
                )
                shown.add("null")
        if chance and "chance" in part.columns and part["chance"].notna().any():
            level = float(part["chance"].dropna().median())
            fig.add_hline(
                y=level,
                line={"dash": "dot", "color": "#444", "width": 1.5},
                row=1,
                col=col,
                annotation_text="chance" if col == 1 else None,
                annotation_position="bottom right",
            )
        for _key, line in part.groupby(series_cols, sort=False) if series_cols else [((), part)]:
            line = line.sort_values(x)
            first = line.iloc[0]
            label = _series_label(first, [c for c in (color, dash) if c]) or "score"
            hue = color_for(color, first[color], colors) if color else "#1f5fa8"
            style_dash = DASHES[dashes.index(first[dash]) % len(DASHES)] if dash else "solid"
            if band and "score_se" in line.columns and line["score_se"].notna().any():
                se = line["score_se"].fillna(0)
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([line[x], line[x][::-1]]),
                        y=np.concatenate([line["score"] + se, (line["score"] - se)[::-1]]),
                        fill="toself",
                        fillcolor=_rgba(hue, 0.14),
                        line={"width": 0},
                        legendgroup=label,
                        showlegend=False,
                        hoverinfo="skip",
                    ),
                    row=1,
                    col=col,
                )
            sig = line[significant].fillna(False).to_numpy(bool) if significant in line else None
            marker = {"size": 6, "color": hue, "line": {"color": hue, "width": 1.5}}
            if sig is not None:
                marker["color"] = [hue if s else "white" for s in sig]
            hover = f"{label}<br>{x}=%{{x}}<br>score=%{{y:.3f}}"
            if "score_se" in line.columns:
                hover += "<br>SE=%{customdata[0]:.3f}"
            fig.add_trace(
                go.Scatter(
                    x=line[x],
                    y=line["score"],
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    showlegend=label not in shown,
                    line={"color": hue, "dash": style_dash, "width": 2.2},
                    marker=marker,
                    customdata=line[["score_se"]].to_numpy() if "score_se" in line else None,
                    hovertemplate=hover + "<extra></extra>",
                ),
                row=1,
                col=col,
            )
            shown.add(label)
        if peaks is not None and not peaks.empty:
            _mark_peaks(fig, peaks if panel is None else peaks[peaks[facet] == panel], x, col)
    ylabel = METRIC_LABELS.get(metric, metric or "score")
    fig.update_yaxes(title_text=ylabel, row=1, col=1)
    for col in range(1, len(panels) + 1):
        fig.update_xaxes(title_text=AXIS_LABELS.get(x, x), row=1, col=col)
    if title:
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"})
    return style(fig, presentation=presentation)


def _mark_peaks(fig: go.Figure, peaks: pd.DataFrame, x: str, col: int) -> None:
    for row in peaks.itertuples():
        lo, hi = getattr(row, "band_lo", None), getattr(row, "band_hi", None)
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
            fig.add_vrect(
                x0=lo, x1=hi, fillcolor="rgba(250,200,60,0.18)", line_width=0, row=1, col=col
            )
    fig.add_trace(
        go.Scatter(
            x=peaks[x],
            y=peaks["score"],
            mode="markers",
            marker={
                "symbol": "triangle-down",
                "size": 14,
                "color": "#f0a500",
                "line": {"color": "#333", "width": 1},
            },
            name="peak",
            legendgroup="peak",
            showlegend=col == 1,
            hovertemplate="peak at %{x}<br>score=%{y:.3f}<extra></extra>",
        ),
        row=1,
        col=col,
    )


def mark_points(fig: go.Figure, points: pd.DataFrame, *, x: str) -> go.Figure:
    """Mark peaks (triangles) and valleys (circles) given as ``x``, ``score``, ``kind``."""
    styles = {
        "peak": {"symbol": "triangle-down", "color": "#f0a500"},
        "valley": {"symbol": "circle-open", "color": "#333"},
    }
    for kind, part in points.groupby("kind"):
        style_ = styles.get(kind, styles["peak"])
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part["score"],
                mode="markers",
                marker={
                    "symbol": style_["symbol"],
                    "size": 16,
                    "color": style_["color"],
                    "line": {"color": "#333", "width": 1.5},
                },
                name=kind,
                hovertemplate=f"{kind} at %{{x}}<br>score=%{{y:.3f}}<extra></extra>",
            )
        )
    return fig


def heatmap(
    matrix: pd.DataFrame,
    *,
    title: str | None = None,
    zmin: float | None = -1.0,
    zmax: float | None = 1.0,
    colorscale: str = "RdBu_r",
    x_label: str | None = None,
    y_label: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """A labelled matrix (index × columns), e.g. layer × layer correlations or CKA."""
    if matrix.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(dtype=float),
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            zmin=zmin,
            zmax=zmax,
            colorscale=colorscale,
            colorbar={"thickness": 14},
            hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title_text=y_label, scaleanchor="x", constrain="domain")
    fig.update_xaxes(title_text=x_label, constrain="domain")
    if title:
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"})
    return style(fig, presentation=presentation, height=640 if presentation else 520)


def interval_points(
    data: pd.DataFrame,
    *,
    label: str,
    value: str,
    lo: str,
    hi: str,
    baseline_lo: str | None = None,
    baseline_hi: str | None = None,
    reference: float | None = None,
    x_title: str = "",
    title: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Estimates with intervals, one row each, against a noise baseline interval if given."""
    if data.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    fig = go.Figure()
    if baseline_lo and baseline_hi:
        for i, row in enumerate(data.itertuples()):
            fig.add_shape(
                type="rect",
                x0=getattr(row, baseline_lo),
                x1=getattr(row, baseline_hi),
                y0=i - 0.35,
                y1=i + 0.35,
                fillcolor="rgba(120,120,120,0.2)",
                line_width=0,
            )
    fig.add_trace(
        go.Scatter(
            x=data[value],
            y=list(range(len(data))),
            mode="markers",
            marker={"size": 11, "color": "#1f5fa8"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": data[hi] - data[value],
                "arrayminus": data[value] - data[lo],
            },
            name="estimate",
            hovertemplate="%{x:.3f}<extra></extra>",
        )
    )
    if baseline_lo and baseline_hi:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"size": 14, "symbol": "square", "color": "rgba(120,120,120,0.35)"},
                name="noise baseline (95 %)",
            )
        )
    if reference is not None:
        fig.add_vline(x=reference, line={"dash": "dot", "color": "#444"})
    fig.update_yaxes(
        tickvals=list(range(len(data))), ticktext=list(data[label]), autorange="reversed"
    )
    fig.update_xaxes(title_text=x_title)
    if title:
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"})
    return style(fig, presentation=presentation, height=max(300, 70 * len(data) + 150))


def depth_summary(
    curves: pd.DataFrame,
    *,
    color: str = "model",
    title: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Where each set's mean curve peaks, on relative depth: the hierarchy at a glance.

    Parameters
    ----------
    curves : DataFrame
        :func:`core.analysis.findings.findings` ``curves`` rows (``stimulus_set``,
        ``component``, ``peak_depth``, ``band_lo``/``band_hi`` in layers, ``n_layers``,
        ``expected_depth``) and the ``color`` column; one panel per component.

    A bar spans the peak band (layers within one SE of the maximum), a triangle marks the
    peak and a hollow circle the expected depth (centre of mass above chance).
    """
    if curves.empty:
        return style(_empty("no results for this selection"), presentation=presentation)
    from plotly.subplots import make_subplots

    sets = in_set_order(curves["stimulus_set"])
    panels = list(dict.fromkeys(curves["component"]))
    hues = list(dict.fromkeys(curves[color]))
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        subplot_titles=[COMPONENT_LABELS.get(p, p) for p in panels],
        horizontal_spacing=0.03,
    )
    step = 0.5 / max(len(hues), 1)
    for col, panel in enumerate(panels, start=1):
        part = curves[curves["component"] == panel]
        for h, value in enumerate(hues):
            rows = part[part[color] == value]
            if rows.empty:
                continue
            hue = color_for(color, value, hues)
            y = (
                np.array([sets.index(s) for s in rows["stimulus_set"]])
                + (h - (len(hues) - 1) / 2) * step
            )
            span = (rows["n_layers"] - 1).clip(lower=1)
            lo, hi = rows["band_lo"] / span, rows["band_hi"] / span
            xs = np.column_stack([lo, hi, np.full(len(rows), np.nan)]).ravel()
            ys = np.column_stack([y, y, np.full(len(rows), np.nan)]).ravel()
            first = col == 1
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": hue, "width": 6},
                    opacity=0.35,
                    name=f"{value} · peak band",
                    legendgroup=f"{value}-band",
                    showlegend=first,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=rows["peak_depth"],
                    y=y,
                    mode="markers",
                    marker={
                        "symbol": "triangle-down",
                        "size": 13,
                        "color": hue,
                        "line": {"color": "#333", "width": 1},
                    },
                    name=f"{value} · peak",
                    legendgroup=f"{value}-peak",
                    showlegend=first,
                    customdata=rows[["stimulus_set", "peak_layer"]].to_numpy(),
                    hovertemplate="%{customdata[0]}: peak at layer %{customdata[1]} "
                    "(depth %{x:.2f})<extra></extra>",
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=rows["expected_depth"],
                    y=y,
                    mode="markers",
                    marker={
                        "symbol": "circle-open",
                        "size": 11,
                        "color": hue,
                        "line": {"width": 2.5},
                    },
                    name=f"{value} · expected depth",
                    legendgroup=f"{value}-expected",
                    showlegend=first,
                    hovertemplate="expected depth %{x:.2f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(
            range=[-0.03, 1.03], title_text=AXIS_LABELS["relative_depth"], row=1, col=col
        )
    fig.update_yaxes(
        tickvals=list(range(len(sets))), ticktext=sets, autorange="reversed", row=1, col=1
    )
    if title:
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"})
    return style(fig, presentation=presentation, height=max(320, 90 * len(sets) + 200))


def _empty(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 16, "color": "#777"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def to_image(fig: go.Figure, fmt: str, *, scale: float = 2.0) -> bytes:
    """PNG or SVG bytes through kaleido (needs a Chromium: ``make app`` installs it)."""
    return fig.to_image(format=fmt, scale=scale if fmt == "png" else 1.0)
