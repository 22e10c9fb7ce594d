"""Plotly figure builders: a long DataFrame in, a ``go.Figure`` out, no side effects.

Every builder takes column names rather than reshaped data, and a ``presentation`` flag
that makes fonts and lines large enough for a projector (every text at least 18 px, which
is 18 pt on a 16:9 slide exported by :func:`slide`: 960 × 540 px, 2× for PNG, so
1920 × 1080).  Colours come from one colour-blind-safe palette (Okabe & Ito 2008) and are
fixed per component and per model, so the same thing looks the same on every page and
every slide.  Legends sit outside the plot, on the right, so they never cover data.
"""

from __future__ import annotations

import copy
import hashlib
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.names import COMPONENTS, in_set_order

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
"""Okabe & Ito (2008), *Color Universal Design*: distinguishable under every common form of
colour blindness.  Yellow is last everywhere: it is faint on white."""
_C = OKABE_ITO
COMPONENT_COLORS = {
    "resid_pre": _C["blue"],
    "attn_out": _C["vermillion"],
    "mlp_out": _C["bluish green"],
}
COMPONENT_DASHES = {"resid_pre": "solid", "attn_out": "dash", "mlp_out": "dot"}
MODEL_COLORS = {"smollm2-135m": _C["orange"], "gemma3-270m": _C["reddish purple"]}
"""The embedded models' fixed colours; other models take :data:`MODEL_PALETTE` in order."""
MODEL_PALETTE = (_C["orange"], _C["reddish purple"], _C["sky blue"], _C["black"], _C["yellow"])
SET_COLORS = {
    "items": "#9A9A9A",
    "pairs": "#555555",
    "analogies": "#000000",
    "buried": _C["sky blue"],
}
"""The hierarchy is an order, so its sets are an ordinal grey scale (light = shallow),
with a marker shape each: legible to everyone and never mistaken for a model or component."""
SET_SYMBOLS = {"items": "circle", "pairs": "square", "analogies": "diamond", "buried": "cross"}
REFERENCE_COLOR = "#7A7A7A"
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
GLOSSARY = {
    "resid_pre": "resid_pre = the residual stream entering a block",
    "attn_out": "attn_out = what its attention adds",
    "mlp_out": "mlp_out = what its MLP adds",
    "normalized": "normalised score: 0 = chance, 1 = perfect",
    "relative_depth": "relative depth = layer / (L - 1)",
}
METRIC_LABELS = {
    "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy",
    "pearson_r": "Pearson r (held out)",
    "r2": "R² (held out)",
    "normalized": "normalised score (0 = chance, 1 = perfect)",
}
AXIS_LABELS = {"layer": "layer (0-based)", "relative_depth": "relative depth  l / (L-1)"}


def glossary(terms: Sequence[str]) -> str:
    """One caption line explaining ``terms`` (components, ``normalized``, ...).

    Parameters
    ----------
    terms : sequence of str
        Keys of :data:`GLOSSARY`.

    Returns
    -------
    str
    """
    return "; ".join(GLOSSARY[t] for t in terms)


PEAK_MARKER = {"symbol": "triangle-down", "size": 15, "line": {"color": "#222", "width": 1}}
"""A peak's marker (in its curve's colour) on curves and depth summaries."""
UNTESTED = {"null_band": False, "significant": None}
""":func:`layer_curves` options for curves with no permutation test of their own: no null
band, no significance markers."""
MEAN_CURVE = {**UNTESTED, "metric": "normalized"}
""":func:`layer_curves` options for a mean curve over targets (each normalised): it has no
permutation null and no per-layer significance of its own."""

SLIDE_WIDTH, SLIDE_HEIGHT, PNG_SCALE = 960, 540, 2
"""A 16:9 slide in points: exported 1:1 as SVG and at 2× as a 1920 × 1080 PNG."""
SCREEN = {"base": 13, "title": 17, "tick": 12, "axis": 13, "legend": 12, "note": 12}
PRESENTATION = {"base": 20, "title": 24, "tick": 18, "axis": 20, "legend": 18, "note": 18}
"""Font sizes in px; in presentation mode none is below 18 (18 pt on a slide)."""
FONT_FAMILY = "Inter, Helvetica, Arial, sans-serif"
TITLE_CHARS = {False: 110, True: 64}
CAPTION_CHARS = 92


# --------------------------------------------------------------------------- colours
def _stable_index(value: str) -> int:
    """The same number for the same name in every process (``hash`` is salted per run)."""
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16)


def color_for(kind: str, value: str, order: Sequence[str] = ()) -> str:
    """A stable colour for a series value, whatever else is on the figure.

    Parameters
    ----------
    kind : str
        The column the value comes from: ``component``, ``model``, ``stimulus_set`` or any.
    value : str
    order : sequence of str
        The values of that column on this figure, in order: models without a fixed colour
        take the free palette colours in this order.
    """
    value = str(value)
    if kind == "component" and value in COMPONENT_COLORS:
        return COMPONENT_COLORS[value]
    if kind == "stimulus_set":
        if value in SET_COLORS:
            return SET_COLORS[value]
        if value.startswith("buried"):
            return SET_COLORS["buried"]
    if kind == "model" and value in MODEL_COLORS:
        return MODEL_COLORS[value]
    taken = {MODEL_COLORS[v] for v in order if v in MODEL_COLORS} if kind == "model" else set()
    palette = [c for c in MODEL_PALETTE if c not in taken] or list(MODEL_PALETTE)
    free = [v for v in dict.fromkeys(map(str, order)) if kind != "model" or v not in MODEL_COLORS]
    index = free.index(value) if value in free else _stable_index(value)
    return palette[index % len(palette)]


def dash_for(kind: str, value: str, order: Sequence[str] = ()) -> str:
    """Components have fixed dashes (resid_pre solid, attn_out dashed, mlp_out dotted)."""
    if kind == "component" and value in COMPONENT_DASHES:
        return COMPONENT_DASHES[value]
    values = list(dict.fromkeys(order))
    index = values.index(value) if value in values else _stable_index(str(value))
    return DASHES[index % len(DASHES)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def series_order(values: pd.Series | Sequence[str], kind: str) -> list[str]:
    """Series in the order a reader expects: sets shallowest first, components as they run."""
    values = list(dict.fromkeys(map(str, values)))
    if kind == "stimulus_set":
        return in_set_order(values)
    if kind == "component":
        known = [c for c in COMPONENTS if c in values]
        return known + [v for v in values if v not in COMPONENTS]
    return values


# --------------------------------------------------------------------------- house style
def wrap(text: str, width: int) -> str:
    """Break ``text`` into lines of at most ``width`` characters, joined by ``<br>``."""
    return "<br>".join(textwrap.wrap(text, width=width, break_long_words=False)) or text


def style(fig: go.Figure, *, presentation: bool = False, height: int | None = None) -> go.Figure:
    """House style: white, fixed fonts, the legend outside on the right.

    ``presentation`` scales every font to at least 18 px and thickens lines and markers.
    The top margin is made from the title's line count (Plotly's own title automargin
    drops titles placed against the container), so a wrapped title is never cut.
    """
    sizes = PRESENTATION if presentation else SCREEN
    height = height or (600 if presentation else 460)
    title_lines = (fig.layout.title.text or "").count("<br>") + 1 if fig.layout.title.text else 0
    top = 16 + int(title_lines * 1.3 * sizes["title"]) + (12 if title_lines else 0)
    if any(
        a.yref == "paper" and a.y == 1 and a.yanchor == "bottom" for a in fig.layout.annotations
    ):
        top += int(1.4 * sizes["note"])  # subplot titles sit in the top margin too
    fig.update_layout(
        template="plotly_white",
        font={"size": sizes["base"], "family": FONT_FAMILY, "color": "#222"},
        legend={
            "orientation": "v",
            "x": 1.02,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "top",
            "title": None,
            "font": {"size": sizes["legend"]},
            "itemsizing": "constant",
        },
        margin={"l": 70, "r": 20, "t": max(top, 30), "b": 50},
        height=height,
        hoverlabel={"font_size": sizes["base"]},
    )
    if title_lines:
        fig.update_layout(
            title={
                "font": {"size": sizes["title"]},
                "x": 0,
                "xanchor": "left",
                "xref": "container",
                "pad": {"l": 14},
                # Plotly places a wrapped title by its first line and ignores yanchor:
                # put that line's middle one line-height below the top edge
                "y": 1 - (10 + 0.75 * sizes["title"]) / height,
                "yref": "container",
            }
        )
    shared_x = [a for a in fig.layout.annotations if a.name == "x title"]
    if shared_x:  # a title under side-by-side panels sits in the bottom margin: make room
        fig.update_annotations(selector={"name": "x title"}, yshift=_x_title_shift(presentation))
        room = -_x_title_shift(presentation) + int(1.4 * sizes["note"]) + 6
        fig.update_layout(margin={"b": max(50, room)})
    fig.update_xaxes(tickfont_size=sizes["tick"], title_font_size=sizes["axis"], automargin=True)
    fig.update_yaxes(tickfont_size=sizes["tick"], title_font_size=sizes["axis"], automargin=True)
    fig.update_annotations(font_size=sizes["note"])
    fig.update_traces(
        selector={"type": "heatmap"},
        colorbar={"tickfont": {"size": sizes["tick"]}, "thickness": 18 if presentation else 14},
    )
    fig.update_traces(selector={"type": "table"}, header_font_size=sizes["tick"])
    fig.update_traces(selector={"type": "table"}, cells_font_size=sizes["tick"])
    if presentation:
        fig.update_traces(selector={"mode": "lines"}, line_width=4)
        fig.update_traces(selector={"mode": "lines+markers"}, line_width=4, marker_size=9)
    return fig


def titled(
    fig: go.Figure,
    title: str | None,
    *,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Set a (wrapped) title, and keep ``caption`` with the figure for :func:`slide`.

    The caption is not drawn on screen (the page shows it under the chart); a slide draws
    it under the plot.  Both are kept in ``fig.layout.meta`` as plain text.
    """
    meta = dict(fig.layout.meta or {})
    if title:
        meta["title"] = title
        fig.update_layout(title_text=wrap(title, TITLE_CHARS[presentation]))
    if caption:
        meta["caption"] = caption
    fig.update_layout(meta=meta)
    return fig


def caption_of(fig: go.Figure) -> str | None:
    """The caption :func:`titled` kept with ``fig`` (plain text, lines split by ``\\n``)."""
    return (fig.layout.meta or {}).get("caption")


def title_of(fig: go.Figure) -> str | None:
    """The unwrapped title :func:`titled` kept with ``fig``."""
    return (fig.layout.meta or {}).get("title")


SHORT_LABELS = {
    METRIC_LABELS["normalized"]: "normalised score",
    "normalised score, mean over targets": "mean normalised score",
}
"""Axis titles that a slide shortens: its caption explains them, and a long vertical title
runs into the slide's title."""


def _axes(fig: go.Figure, letter: str) -> list[str]:
    return [k for k in fig.layout.to_plotly_json() if k.startswith(f"{letter}axis")]


def _left_margin(fig: go.Figure) -> int:
    """Room for the y tick labels and title, estimated from their text (px)."""
    sizes = PRESENTATION
    chars, titled_axis = 5, False
    for name in _axes(fig, "y"):
        axis = fig.layout[name]
        if axis.ticktext:
            chars = max(chars, max(len(str(t)) for t in axis.ticktext))
        titled_axis |= bool(axis.title.text)
    return int(chars * 0.62 * sizes["tick"] + (1.7 * sizes["axis"] if titled_axis else 0) + 22)


def _square(fig: go.Figure, left: int, top: int, bottom: int) -> None:
    """Centre a square heatmap (scaleanchor) and put its colour bar beside it."""
    if not any(t.type == "heatmap" for t in fig.data) or not fig.layout.yaxis.scaleanchor:
        return
    plot_w = SLIDE_WIDTH - left - 110
    plot_h = SLIDE_HEIGHT - top - bottom
    share = min(1.0, plot_h / plot_w)
    lo = (1 - share) / 2
    fig.update_xaxes(domain=[lo, lo + share])
    fig.update_traces(selector={"type": "heatmap"}, colorbar={"x": lo + share + 0.02})


def _below_plot(fig: go.Figure, text: str, *, x: float, xanchor: str, **kw) -> None:
    """Text hanging under the plot area (paper coordinates, no arrow), e.g. a slide's
    caption or the x title shared by side-by-side panels.

    Parameters
    ----------
    fig : go.Figure
    text : str
    x : float
        Where on the paper's width, anchored at ``xanchor``.
    xanchor : {"left", "center", "right"}
    **kw
        Further annotation properties (``xshift``, ``yshift``, ``font``, ``name``, ...).
    """
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=x,
        y=0,
        xanchor=xanchor,
        yanchor="top",
        showarrow=False,
        **kw,
    )


def slide(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` laid out as a 16:9 slide: 960 × 540, presentation fonts, caption.

    The caption (from :func:`titled`) is drawn under the plot in the bottom margin, in
    lines of at most :data:`CAPTION_CHARS` characters.  Margins are set from the text they
    must hold (titles, tick labels, caption) rather than by Plotly's automargin, so the
    caption can start at the slide's left edge.

    Returns
    -------
    go.Figure
        A new figure; ``fig`` is not changed.
    """
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    title = title_of(out)
    if title:
        out.update_layout(title_text=wrap(title, TITLE_CHARS[True]))
    for name in _axes(out, "y"):
        text = out.layout[name].title.text
        if text in SHORT_LABELS:
            out.layout[name].title.text = SHORT_LABELS[text]
    style(out, presentation=True, height=SLIDE_HEIGHT)
    left = _left_margin(out)
    out.update_yaxes(automargin=False)
    # under a table there is no x axis to leave room for: the caption comes up to it
    gap = 12 if _is_table(out) else 66
    caption = _fit_table(out, caption_of(out), gap)
    bottom = _bottom_margin(caption, gap)
    if caption:
        _below_plot(
            out,
            _caption_html(caption),
            x=0,
            xanchor="left",
            xshift=-left + 14,
            yshift=-gap,
            align="left",
            font={"size": PRESENTATION["note"], "color": "#444"},
        )
    out.update_layout(width=SLIDE_WIDTH, height=SLIDE_HEIGHT, margin={"l": left, "b": bottom})
    _square(out, left, out.layout.margin.t, bottom)
    return out


def _caption_html(caption: str) -> str:
    return "<br>".join(wrap(part, CAPTION_CHARS) for part in caption.split("\n"))


def _is_table(fig: go.Figure) -> bool:
    return any(t.type == "table" for t in fig.data)


def _bottom_margin(caption: str | None, gap: int = 66) -> int:
    """A slide's bottom margin (px): ``gap`` for the x axis under the plot, then the
    caption's wrapped lines."""
    if not caption:
        return gap + 4
    lines = _caption_html(caption).count("<br>") + 1
    return gap + 4 + int(1.3 * PRESENTATION["note"] * lines) + 4


def _fit_table(fig: go.Figure, caption: str | None, gap: int) -> str | None:
    """Keep only the rows of a table figure that fit whole between a slide's margins.

    A table taller than its room is cut mid-row in a static image (the screen scrolls
    it), so rows are dropped from the end instead and the caption says how many are
    shown, as :func:`table_figure` does.  Returns the caption to draw.
    """
    total = (fig.layout.meta or {}).get("table_rows")
    if not _is_table(fig) or total is None:
        return caption
    table = next(t for t in fig.data if t.type == "table")
    shown = len(table.cells.values[0])
    row, header = table.cells.height or 28, table.header.height or 28
    keep, text = shown, caption
    for _ in range(3):  # a note line added to the caption takes room from the rows once
        room = SLIDE_HEIGHT - fig.layout.margin.t - _bottom_margin(text, gap)
        fit = max(1, int((room - header) // row))
        if fit >= keep:
            break
        keep = fit
        text = _row_note(caption, keep, total)
    if keep < shown:
        table.cells.values = [list(column)[:keep] for column in table.cells.values]
    return text


def _row_note(caption: str | None, shown: int, total: int) -> str:
    note = f"first {shown} of {total} rows"
    if caption and re.search(r"first \d+ of \d+ rows", caption):
        return re.sub(r"first \d+ of \d+ rows", note, caption)
    return f"{caption or ''}\n{note}".strip()


def to_image(fig: go.Figure, fmt: str, *, as_slide: bool = True) -> bytes:
    """PNG or SVG bytes through kaleido (needs a Chromium: ``make app`` installs it).

    With ``as_slide`` (the default) the figure is laid out by :func:`slide`: a 1920 × 1080
    PNG (960 × 540 at 2×) or a 960 × 540 SVG, ready for a 16:9 slide.
    """
    out = slide(fig) if as_slide else fig
    scale = PNG_SCALE if fmt == "png" else 1.0
    size = {"width": SLIDE_WIDTH, "height": SLIDE_HEIGHT} if as_slide else {}
    return out.to_image(format=fmt, scale=scale, **size)


def write_slides(figs: Sequence[go.Figure], paths: Sequence[str | Path]) -> None:
    """Write several figures as slides (format from each path's suffix) in one browser.

    One ``write_images`` call for every figure and format: kaleido starts Chromium once
    per call, which costs a few seconds a start (a 9-slide deck drawn figure by figure
    spent 30 s of its 57 s starting browsers).
    """
    import plotly.io as pio

    if not paths:
        return
    formats = [Path(p).suffix.lstrip(".").lower() for p in paths]
    pio.write_images(
        [slide(f) for f in figs],
        [str(p) for p in paths],
        format=formats,
        scale=[PNG_SCALE if fmt == "png" else 1.0 for fmt in formats],
        width=SLIDE_WIDTH,
        height=SLIDE_HEIGHT,
    )


def _empty(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 16, "color": "#777"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def statement(text: str, *, title: str | None = None, presentation: bool = False) -> go.Figure:
    """A figure that says one thing in words (e.g. that no double peak passed the test)."""
    fig = _empty(wrap(text, 60))
    fig.update_annotations(font_color="#222")
    titled(fig, title, presentation=presentation)
    return style(fig, presentation=presentation)


# --------------------------------------------------------------------------- layer curves
def _series_label(row: pd.Series, by: Sequence[str]) -> str:
    return " · ".join(str(row[c]) for c in by)


def _side_by_side(panels: list, *, titled: bool, spacing: float) -> go.Figure:
    """One panel per entry of ``panels``, side by side on a shared y axis.

    Parameters
    ----------
    panels : list
        The panels' values (``[None]``: one panel).
    titled : bool
        Title each panel with its value.
    spacing : float
        Between panels, as a share of the width.

    Returns
    -------
    go.Figure
    """
    return make_subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        subplot_titles=[str(p) for p in panels] if titled else None,
        horizontal_spacing=spacing,
    )


def _panels(data: pd.DataFrame, facet: str | None) -> tuple[go.Figure, list]:
    """One panel per value of ``facet`` (shared y axis), or a single panel."""
    panels = series_order(data[facet], facet) if facet else [None]
    return _side_by_side(panels, titled=bool(facet), spacing=0.04), panels


def _null_band(fig: go.Figure, part: pd.DataFrame, x: str, col: int, shown: set) -> None:
    """The permutation null's 2.5-97.5 % band, averaged over the panel's curves (grey)."""
    if not {"null_lo", "null_hi"} <= set(part.columns):
        return
    nulls = part.dropna(subset=["null_lo", "null_hi"]).groupby(x)[["null_lo", "null_hi"]]
    nulls = nulls.mean().reset_index().sort_values(x)
    if nulls.empty:
        return
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


def _reference_lines(
    fig: go.Figure, layer0: pd.DataFrame | None, surface: pd.DataFrame | None, col: int
) -> None:
    """Dashed layer-0 lines and surface-baseline bands (score ± SE), labelled on panel 1."""
    for row in (surface if surface is not None else pd.DataFrame()).itertuples():
        se = float(row.score_se) if np.isfinite(getattr(row, "score_se", np.nan)) else 0.0
        fig.add_hrect(
            y0=row.score - se,
            y1=row.score + se,
            fillcolor="rgba(213,94,0,0.12)",
            line_width=0,
            row=1,
            col=col,
            exclude_empty_subplots=False,
        )
        label = {"annotation_text": row.label, "annotation_position": "top left"}
        fig.add_hline(
            y=float(row.score),
            line={"color": "#D55E00", "width": 1},
            row=1,
            col=col,
            exclude_empty_subplots=False,
            name="surface baseline",
            **(label if col == 1 else {}),
        )
    for row in (layer0 if layer0 is not None else pd.DataFrame()).itertuples():
        label = {"annotation_text": row.label, "annotation_position": "bottom left"}
        fig.add_hline(
            y=float(row.score),
            line={"dash": "dash", "color": "#555", "width": 1.2},
            row=1,
            col=col,
            exclude_empty_subplots=False,
            name="layer 0",
            **(label if col == 1 else {}),
        )


CHANCE_LINE = {"dash": "dot", "color": "#444", "width": 1.5}


def _chance_line(fig: go.Figure, part: pd.DataFrame, col: int) -> None:
    if "chance" not in part.columns or not part["chance"].notna().any():
        return
    fig.add_hline(
        y=float(part["chance"].dropna().median()),
        line=CHANCE_LINE,
        row=1,
        col=col,
        exclude_empty_subplots=False,  # drawn before the curves: the panel is still empty
    )
    if col == 1:
        # named in the legend, not by a label on the line: curves near chance ran over it
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line=CHANCE_LINE,
                name="chance",
                legendrank=1001,  # after the curves and their peaks (rank 1000)
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )


def _se_band(line: pd.DataFrame, x: str, hue: str, label: str) -> go.Scatter | None:
    if "score_se" not in line.columns or not line["score_se"].notna().any():
        return None
    se = line["score_se"].fillna(0)
    return go.Scatter(
        x=np.concatenate([line[x], line[x][::-1]]),
        y=np.concatenate([line["score"] + se, (line["score"] - se)[::-1]]),
        fill="toself",
        fillcolor=_rgba(hue, 0.14),
        line={"width": 0},
        legendgroup=label,
        showlegend=False,
        hoverinfo="skip",
    )


def _line(
    line: pd.DataFrame, *, x: str, label: str, hue: str, dash: str, symbol: str, significant, shown
):
    """One curve: filled markers where ``significant`` (if given), hollow elsewhere."""
    sig = line[significant].fillna(False).to_numpy(bool) if significant in line else None
    marker = {"size": 6, "color": hue, "symbol": symbol, "line": {"color": hue, "width": 1.5}}
    if sig is not None:
        marker["color"] = [hue if s else "white" for s in sig]
    hover = f"{label}<br>{x}=%{{x}}<br>score=%{{y:.3f}}"
    if "score_se" in line.columns:
        hover += "<br>SE=%{customdata[0]:.3f}"
    return go.Scatter(
        x=line[x],
        y=line["score"],
        mode="lines+markers",
        name=label,
        legendgroup=label,
        showlegend=label not in shown,
        line={"color": hue, "dash": dash, "width": 2.2},
        marker=marker,
        customdata=line[["score_se"]].to_numpy() if "score_se" in line else None,
        hovertemplate=hover + "<extra></extra>",
    )


def _series(data: pd.DataFrame, color: str | None, dash: str | None):
    """Each curve of ``data`` with its label, colour and dash, in reading order."""
    colors = series_order(data[color], color) if color else []
    dashes = series_order(data[dash], dash) if dash else []
    by = [c for c in (color, dash) if c]
    if not by:
        yield data, "score", "#0072B2", "solid", "circle"
        return
    rank = {c: {v: i for i, v in enumerate(series_order(data[c], c))} for c in by}
    keys = sorted(
        {tuple(str(v) for v in row) for row in data[by].itertuples(index=False)},
        key=lambda k: tuple(rank[c][v] for c, v in zip(by, k)),
    )
    for values in keys:
        mask = np.logical_and.reduce([data[c].astype(str) == str(v) for c, v in zip(by, values)])
        line = data[mask]
        first = line.iloc[0]
        hue = color_for(color, first[color], colors) if color else "#0072B2"
        style_dash = dash_for(dash, first[dash], dashes) if dash else "solid"
        sets = [str(first[c]) for c in by if c == "stimulus_set"]
        symbol = SET_SYMBOLS.get(sets[0], "circle") if sets else "circle"
        yield line, _series_label(first, by), hue, style_dash, symbol


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
    reference: pd.DataFrame | None = None,
    metric: str | None = None,
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
    layer0: pd.DataFrame | None = None,
    surface: pd.DataFrame | None = None,
    sinks: Sequence[int] | None = None,
) -> go.Figure:
    """Score against depth, one line per series, with its uncertainty and the null.

    Parameters
    ----------
    data : DataFrame
        One row per series point: ``x``, ``score``, optionally ``score_se``, ``chance``,
        ``null_lo``, ``null_hi`` and a boolean ``significant``, plus the series columns
        named by ``color``, ``dash`` and ``facet`` (and ``n_layers`` when ``reference``
        bands are drawn on ``x="layer"``).
    x : {"layer", "relative_depth"}
    color, dash : str, optional
        Columns that pick a line's colour and dash style (components and models have
        fixed ones, see :func:`color_for`).
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
        Peaks to mark, in the colour of their curve: the series columns, ``x`` and
        ``score`` (and optionally ``band_lo``/``band_hi`` in ``x`` units).
    reference : DataFrame, optional
        Published bands (:func:`core.present.reference.bands`): ``depth_lo``/``depth_hi``,
        ``label``, ``stimulus_set``, drawn as labelled shaded spans.
    title, caption : str, optional
        See :func:`titled`.
    layer0 : DataFrame, optional
        Layer-0 references (the token embeddings' score): ``score`` and a ``label`` per
        row, drawn as dashed horizontal lines on every panel.  Off unless given.
    surface : DataFrame, optional
        Surface baselines: ``score``, ``score_se`` and ``label`` per row, drawn as a
        horizontal band (score ± SE) with a thin line.  Off unless given.
    sinks : sequence of int, optional
        Attention-sink layers (:func:`core.analysis.sinks.sink_layers`), shaded on every
        panel (on ``relative_depth`` as ``l / (L-1)``, needing one ``n_layers``).

    Returns
    -------
    go.Figure
    """
    if data.empty:
        return style(_empty("no results for this selection"), presentation=presentation)
    fig, panels = _panels(data, facet)
    if sinks:
        shade_sinks(fig, sinks, x=x, n_layers=_single_n_layers(data), n_panels=len(panels))
    shown: set[str] = set()
    for col, panel in enumerate(panels, start=1):
        part = data if panel is None else data[data[facet].astype(str) == str(panel)]
        if null_band:
            _null_band(fig, part, x, col, shown)
        if chance:
            _chance_line(fig, part, col)
        _reference_lines(fig, layer0, surface, col)
        for line, label, hue, style_dash, symbol in _series(part, color, dash):
            line = line.sort_values(x)
            se = _se_band(line, x, hue, label) if band else None
            if se is not None:
                fig.add_trace(se, row=1, col=col)
            fig.add_trace(
                _line(
                    line,
                    x=x,
                    label=label,
                    hue=hue,
                    dash=style_dash,
                    symbol=symbol,
                    significant=significant,
                    shown=shown,
                ),
                row=1,
                col=col,
            )
            shown.add(label)
        if peaks is not None and not peaks.empty:
            mine = peaks if panel is None else peaks[peaks[facet].astype(str) == str(panel)]
            _mark_peaks(fig, mine, x=x, col=col, color=color, order=data[color] if color else ())
    if reference is not None and len(reference):
        add_reference_bands(fig, reference, x=x, n_layers=_single_n_layers(data))
    fig.update_yaxes(title_text=METRIC_LABELS.get(metric, metric or "score"), row=1, col=1)
    _x_title(fig, AXIS_LABELS.get(x, x), len(panels), presentation=presentation)
    titled(fig, title, caption=caption, presentation=presentation)
    return style(fig, presentation=presentation)


SINK_COLOR = "rgba(240,228,66,0.35)"
"""Okabe-Ito yellow, faint: a sink layer is a caution, not a result (and not vermillion,
which is attn_out's colour and the surface baseline's)."""


def shade_sinks(
    fig: go.Figure,
    sinks: Sequence[int],
    *,
    x: str = "layer",
    n_layers: int | None = None,
    n_panels: int = 1,
) -> go.Figure:
    """Shade each attention-sink layer (one layer wide) on every panel, labelled once.

    Parameters
    ----------
    sinks : sequence of int
    x : {"layer", "relative_depth"}
    n_layers : int, optional
        Needed for ``relative_depth``; without it nothing is drawn there.
    n_panels : int
    """
    if x == "relative_depth":
        if not n_layers or n_layers < 2:
            return fig
        scale, half = 1.0 / (n_layers - 1), 0.5 / (n_layers - 1)
    else:
        scale, half = 1.0, 0.5
    for i, layer in enumerate(sinks):
        for col in range(1, n_panels + 1):
            label = (
                {"annotation_text": "sink", "annotation_position": "top left"}
                if col == 1 and i == 0
                else {}
            )
            fig.add_vrect(
                x0=layer * scale - half,
                x1=layer * scale + half,
                fillcolor=SINK_COLOR,
                line_width=0,
                layer="below",
                row=1,
                col=col,
                exclude_empty_subplots=False,
                **label,
            )
    return fig


def half_curves(
    data: pd.DataFrame,
    *,
    x: str = "layer",
    sinks: Sequence[int] | None = None,
    metric: str | None = None,
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """The full stimulus (``mean``) beside its half-stimulus controls, one panel per component.

    Parameters
    ----------
    data : DataFrame
        ``probe_scores``-like rows of ``mean`` and its halves (``pooling`` column), one or
        more targets (told apart by dash when several), with ``x``, ``score``, ``score_se``.
    x, sinks, metric, title, caption, presentation
        As :func:`layer_curves`.

    Returns
    -------
    go.Figure
    """
    several = "target" in data.columns and data["target"].nunique() > 1
    return layer_curves(
        data,
        x=x,
        color="pooling",
        dash="target" if several else None,
        facet="component" if "component" in data.columns else None,
        metric=metric,
        title=title,
        caption=caption,
        presentation=presentation,
        sinks=sinks,
        **UNTESTED,
    )


def _x_title_shift(presentation: bool) -> int:
    """How far under the plot a shared x title goes: below the tick labels."""
    return -int((PRESENTATION if presentation else SCREEN)["tick"] * 1.9 + 4)


def _x_title(fig: go.Figure, text: str, n_panels: int, *, presentation: bool = False) -> None:
    """One x-axis title: on the only panel, or centred under side-by-side panels (one
    title per panel would collide)."""
    if n_panels == 1:
        fig.update_xaxes(title_text=text)
        return
    _below_plot(
        fig, text, x=0.5, xanchor="center", yshift=_x_title_shift(presentation), name="x title"
    )


def _single_n_layers(data: pd.DataFrame) -> int | None:
    if "n_layers" not in data.columns or data["n_layers"].nunique() != 1:
        return None
    return int(data["n_layers"].iloc[0])


def _mark_peaks(fig: go.Figure, peaks: pd.DataFrame, *, x: str, col: int, color, order) -> None:
    """Triangles at the peaks, in their curve's colour; shaded peak bands if given."""
    for row in peaks.itertuples():
        lo, hi = getattr(row, "band_lo", None), getattr(row, "band_hi", None)
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
            fig.add_vrect(
                x0=lo, x1=hi, fillcolor="rgba(250,200,60,0.18)", line_width=0, row=1, col=col
            )
    hues = [
        color_for(color, v, list(dict.fromkeys(map(str, order)))) if color else "#0072B2"
        for v in (peaks[color] if color and color in peaks else [None] * len(peaks))
    ]
    fig.add_trace(
        go.Scatter(
            x=peaks[x],
            y=peaks["score"],
            mode="markers",
            marker={**PEAK_MARKER, "color": hues},
            name="peak",
            legendgroup="peak",
            showlegend=col == 1,
            hovertemplate="peak at %{x}<br>score=%{y:.3f}<extra></extra>",
        ),
        row=1,
        col=col,
    )


def add_reference_bands(
    fig: go.Figure, reference: pd.DataFrame, *, x: str = "relative_depth", n_layers=None
) -> go.Figure:
    """Published bands as shaded spans across every panel, each named in the legend.

    The names go to the legend (outside the plot), not onto the plot, where overlapping
    bands' labels covered the curves; each source gets its own border (dotted, dashed, …).

    Parameters
    ----------
    reference : DataFrame
        ``label``, ``stimulus_set``, ``measure``, ``depth_lo``, ``depth_hi``,
        ``layer_lo``, ``layer_hi`` (:func:`core.present.reference.bands`).
    x : {"relative_depth", "layer"}
        The figure's axis; on ``layer`` the bands are mapped to this model's layers
        (``depth × (n_layers - 1)``), so ``n_layers`` is needed.
    """
    from core.present.reference import band_label

    if x == "layer" and not n_layers:
        return fig  # two models on a layer axis: a band has no single place
    scale = 1.0 if x != "layer" else float(n_layers - 1)
    borders = {
        lab: ("dot", "dash", "dashdot")[i % 3]
        for i, lab in enumerate(dict.fromkeys(reference["label"]))
    }
    for row in reference.itertuples():
        hue = color_for("stimulus_set", row.stimulus_set) if row.stimulus_set else REFERENCE_COLOR
        border = {"color": _rgba(hue, 0.8), "width": 1.5, "dash": borders[row.label]}
        fig.add_vrect(
            x0=row.depth_lo * scale,
            x1=row.depth_hi * scale,
            fillcolor=_rgba(hue, 0.10),
            line=border,
            layer="below",
            row="all",
            col="all",
            exclude_empty_subplots=False,
        )
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={
                    "symbol": "square",
                    "size": 14,
                    "color": _rgba(hue, 0.3),
                    "line": {"color": hue, "width": 1.5},
                },
                name=band_label(row),
                legendgroup=f"ref-{row.label}",
            )
        )
    return fig


def mark_points(fig: go.Figure, points: pd.DataFrame, *, x: str, color: str | None = None):
    """Mark peaks (triangles) and valleys (open circles) given as ``x``, ``score``, ``kind``.

    With ``color`` (a column of ``points``, e.g. ``model``) each mark takes its curve's
    colour; the outline stays dark so a mark shows on its own line.
    """
    styles = {"peak": "triangle-down", "valley": "circle-open"}
    order = list(dict.fromkeys(points[color].astype(str))) if color else []
    for kind, part in points.groupby("kind"):
        hues = (
            [color_for(color, v, order) for v in part[color].astype(str)]
            if color
            else ["#222"] * len(part)
        )
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part["score"],
                mode="markers",
                marker={
                    "symbol": styles.get(kind, "triangle-down"),
                    "size": 18,
                    "color": hues if kind == "peak" else "#222",
                    "line": {"color": "#222", "width": 3 if kind == "valley" else 1.5},
                },
                name=kind,
                hovertemplate=f"{kind} at %{{x}}<br>score=%{{y:.3f}}<extra></extra>",
            )
        )
    return fig


# --------------------------------------------------------------------------- matrices
def heatmap(
    matrix: pd.DataFrame,
    *,
    title: str | None = None,
    caption: str | None = None,
    zmin: float | None = -1.0,
    zmax: float | None = 1.0,
    colorscale: str = "RdBu_r",
    x_label: str | None = None,
    y_label: str | None = None,
    colorbar_title: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """A labelled matrix (index × columns), e.g. layer × layer correlations or CKA.

    Parameters
    ----------
    matrix : DataFrame
        Shape (n_rows, n_columns); index and columns label the axes.
    """
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
            colorbar={"title": {"text": colorbar_title or ""}},
            hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title_text=y_label, scaleanchor="x", constrain="domain")
    fig.update_xaxes(title_text=x_label, constrain="domain")
    if len(matrix) > 20:  # one label every 5 rows: 3 apart crowd at slide font sizes
        ticks = [str(i) for k, i in enumerate(matrix.index) if k % 5 == 0]
        fig.update_xaxes(tickvals=ticks)
        fig.update_yaxes(tickvals=ticks)
    titled(fig, title, caption=caption, presentation=presentation)
    return style(fig, presentation=presentation, height=640 if presentation else 520)


TABLE_CHARS = 78
"""Characters of presentation text a slide's table holds across (measured on a 960 px
slide at 20 px: about 10 px a character, less each column's padding)."""


def _break_header(header: str, width: int) -> str:
    """``header`` in lines of at most ``width`` characters where it can break: at spaces,
    else after underscores (a part longer than ``width`` stays whole)."""
    parts = [p for word in header.split(" ") for p in re.split(r"(?<=_)", word) if p]
    lines: list[str] = []
    for part in parts:
        joiner = "" if lines and lines[-1].endswith("_") else " "
        if lines and len(lines[-1]) + len(joiner) + len(part) <= width:
            lines[-1] += joiner + part
        else:
            lines.append(part)
    return "<br>".join(lines)


def table_figure(
    table: pd.DataFrame,
    *,
    title: str | None = None,
    caption: str | None = None,
    max_rows: int = 10,
    presentation: bool = False,
) -> go.Figure:
    """A small table as a figure (for slides: the stimulus audit, the controls).

    Columns that hold one value in every row (the model, the fold count) leave the table
    and are named once in the caption; a single row is shown as a column of names and one
    of values.  Column widths follow their longest cell; where the columns together are
    wider than a slide holds, headers break at their spaces and underscores, so no header
    or value is cut.
    """
    if table.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    constant = [c for c in table.columns if len(table) > 1 and table[c].nunique(dropna=False) == 1]
    if len(constant) == len(table.columns):
        constant = []
    shown = table.drop(columns=constant).head(max_rows)

    def cell(v) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    down = len(table) == 1 and len(table.columns) > 2  # one row: too wide across, easy down
    if down:
        shown = pd.DataFrame({"": [str(c) for c in table.columns], " ": table.iloc[0].tolist()})
    cells = [[cell(v) for v in shown[c]] for c in shown.columns]
    headers = [str(c) for c in shown.columns]
    longest = [max((len(v) for v in col), default=0) for col in cells]
    if sum(max(len(h), n, 4) for h, n in zip(headers, longest)) > TABLE_CHARS:
        headers = [_break_header(h, max(n, 8)) for h, n in zip(headers, longest)]
    lines = [h.split("<br>") for h in headers]
    widths = [max(*(len(x) for x in h), n, 4) for h, n in zip(lines, longest)]
    fig = go.Figure(
        go.Table(
            columnwidth=widths,
            header={
                "values": headers,
                "fill_color": "rgba(0,0,0,0)" if down else "#eee",  # names are the rows
                "line_width": 0 if down else 1,
                "align": "left",
                "height": 1 if down else 28 + 24 * (max(len(h) for h in lines) - 1),
            },
            cells={"values": cells, "align": "left", "height": 28},
        )
    )
    notes = [f"{c}: {cell(table[c].iloc[0])}" for c in constant]
    if len(table) > max_rows:
        notes.append(f"first {max_rows} of {len(table)} rows")
    if notes:
        caption = f"{caption or ''}\n{'; '.join(notes)}".strip()
    titled(fig, title, caption=caption, presentation=presentation)
    rows = len(table.columns) if down else len(table)  # what slide() counts when it cuts
    fig.update_layout(meta={**(fig.layout.meta or {}), "table_rows": rows})
    return style(fig, presentation=presentation)


# --------------------------------------------------------------------------- intervals
def interval_points(
    data: pd.DataFrame,
    *,
    label: str,
    value: str,
    lo: str,
    hi: str,
    baseline_lo: str | None = None,
    baseline_hi: str | None = None,
    facet: str | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    x_title: str = "",
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Estimates with intervals, one row each, against a noise baseline interval if given.

    Parameters
    ----------
    data : DataFrame
        One row per estimate: ``label``, ``value``, ``lo``, ``hi`` (and the baseline
        columns, and ``facet``).
    facet : str, optional
        A column whose values get side-by-side panels, each with its own x axis (e.g. the
        naive and the split-half estimator, whose baselines sit far apart); rows are
        matched across panels by ``label``.
    reference : float, optional
        A vertical line (e.g. 0, or a published value) labelled ``reference_label``.
    """
    if data.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    panels = list(dict.fromkeys(data[facet])) if facet else [None]
    rows = list(dict.fromkeys(data[label]))
    fig = _side_by_side(panels, titled=bool(facet), spacing=0.06)
    for col, panel in enumerate(panels, start=1):
        part = data if panel is None else data[data[facet] == panel]
        y = [rows.index(v) for v in part[label]]
        if baseline_lo and baseline_hi:
            _baseline_boxes(fig, part, y, baseline_lo, baseline_hi, col)
        for trace in _estimates(part, y, value, lo, hi, show=col == 1):
            fig.add_trace(trace, row=1, col=col)
        if reference is not None:
            fig.add_vline(
                x=reference,
                line={"dash": "dot", "color": "#444"},
                row=1,
                col=col,
                **(
                    {"annotation_text": reference_label, "annotation_position": "top"}
                    if reference_label and col == 1
                    else {}
                ),
            )
        fig.update_xaxes(
            range=_span(part, [value, lo, hi, baseline_lo, baseline_hi], reference),
            row=1,
            col=col,
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
    fig.update_yaxes(tickvals=list(range(len(rows))), ticktext=rows, autorange="reversed")
    _x_title(fig, x_title, len(panels), presentation=presentation)
    titled(fig, title, caption=caption, presentation=presentation)
    return style(fig, presentation=presentation, height=max(300, 40 * len(rows) + 180))


RHO_COLUMNS = {
    "value": "rho",
    "lo": "rho",
    "hi": "rho",
    "baseline_lo": "baseline_lo",
    "baseline_hi": "baseline_hi",
    "facet": "estimator",
}
""":func:`interval_points` columns of a persistence table: ρ as a point, the band noise
alone gives, one panel per estimator."""


def rho_intervals(
    rho: pd.DataFrame,
    *,
    label: str = "curve",
    x_title: str = "",
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Each anti-persistence ρ beside what noise alone gives, one panel per estimator.

    Parameters
    ----------
    rho : DataFrame
        :func:`~core.analysis.findings.findings` ``persistence`` rows with a ρ: ``rho``,
        ``baseline_lo``, ``baseline_hi``, ``estimator`` and the ``label`` column.
    label : str
        The column naming each row.
    x_title, title, caption, presentation
        As :func:`interval_points`.

    Returns
    -------
    go.Figure
    """
    return interval_points(
        rho,
        label=label,
        x_title=x_title,
        title=title,
        caption=caption,
        presentation=presentation,
        **RHO_COLUMNS,
    )


def _span(part: pd.DataFrame, columns, reference: float | None) -> list[float]:
    """The x range that holds every estimate, interval and baseline (and the reference)."""
    values = np.concatenate([part[c].to_numpy(float) for c in columns if c])
    if reference is not None:
        values = np.append(values, reference)
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (-1.0, 1.0)
    pad = 0.08 * max(hi - lo, 0.1)
    return [lo - pad, hi + pad]


def _baseline_boxes(fig, part: pd.DataFrame, y: list[int], lo: str, hi: str, col: int) -> None:
    for i, row in zip(y, part.itertuples()):
        fig.add_shape(
            type="rect",
            x0=getattr(row, lo),
            x1=getattr(row, hi),
            y0=i - 0.35,
            y1=i + 0.35,
            fillcolor="rgba(120,120,120,0.2)",
            line_width=0,
            row=1,
            col=col,
        )


def _estimates(part: pd.DataFrame, y, value: str, lo: str, hi: str, *, show: bool):
    """Point estimates with their intervals, one trace per component (in its colour)."""
    y = np.asarray(y)
    groups = (
        [
            (c, (part["component"] == c).to_numpy())
            for c in series_order(part["component"], "component")
        ]
        if "component" in part
        else [("estimate", np.ones(len(part), bool))]
    )
    for name, mask in groups:
        rows = part[mask]
        yield go.Scatter(
            x=rows[value],
            y=y[mask],
            mode="markers",
            marker={
                "size": 12,
                "color": color_for("component", name),
                "line": {"color": "#222", "width": 1},
            },
            error_x={
                "type": "data",
                "symmetric": False,
                "array": rows[hi] - rows[value],
                "arrayminus": rows[value] - rows[lo],
            },
            name=name,
            legendgroup=name,
            showlegend=show,
            hovertemplate="%{x:.3f}<extra></extra>",
        )


# --------------------------------------------------------------------------- depth summary
def _offset(name: str, names: list[str]) -> float:
    """Where ``name`` sits within its set's slot, so several models sit side by side."""
    step = 0.6 / max(len(names), 1)
    return (names.index(name) - (len(names) - 1) / 2) * step


def _segments(lo, hi, y) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal segments lo-hi at y, as one trace's x and y (NaN-separated)."""
    n = len(y)
    xs = np.column_stack([lo, hi, np.full(n, np.nan)]).ravel()
    ys = np.column_stack([y, y, np.full(n, np.nan)]).ravel()
    return xs, ys


def _depth_traces(rows: pd.DataFrame, y: np.ndarray, name: str, hue: str, first: bool):
    """Peak band (thick translucent bar), peak (triangle), expected depth (open circle)."""
    span = (rows["n_layers"] - 1).clip(lower=1)
    xs, ys = _segments(rows["band_lo"] / span, rows["band_hi"] / span, y)
    yield go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={"color": hue, "width": 8},
        opacity=0.4,
        name=f"{name} · peak band",
        legendgroup=name,
        showlegend=False,
        hoverinfo="skip",
    )
    yield go.Scatter(
        x=rows["peak_depth"],
        y=y,
        mode="markers",
        marker={**PEAK_MARKER, "color": hue},
        name=name,
        legendgroup=name,
        showlegend=first,
        customdata=rows[["stimulus_set", "peak_layer"]].to_numpy(),
        hovertemplate="%{customdata[0]}: peak at layer %{customdata[1]} "
        "(depth %{x:.2f})<extra></extra>",
    )
    if "expected_depth" in rows:
        yield go.Scatter(
            x=rows["expected_depth"],
            y=y,
            mode="markers",
            marker={"symbol": "circle-open", "size": 12, "color": hue, "line": {"width": 2.5}},
            name=f"{name} · expected depth",
            legendgroup=name,
            showlegend=False,
            hovertemplate="expected depth %{x:.2f}<extra></extra>",
        )


REFERENCE_SHADES = ("#4D4D4D", "#A6A6A6", "#7A7A7A", "#CFCFCF")
"""Published sources in grey (ours are in colour), a shade per source."""


def _reference_traces(reference: pd.DataFrame, slots: dict, first: bool):
    """Published bands as grey bars in their set's slot, one legend entry per label."""
    for i, (label, rows) in enumerate(reference.groupby("label", sort=False)):
        rows = rows[rows["stimulus_set"].isin(slots)]
        if rows.empty:
            continue
        y = np.array([slots[s][label] for s in rows["stimulus_set"]])
        xs, ys = _segments(rows["depth_lo"], rows["depth_hi"], y)
        kinds = ["first peak" if m == "first_peak" else "peak" for m in rows["measure"]]
        yield go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": REFERENCE_SHADES[i % len(REFERENCE_SHADES)], "width": 8},
            name=f"{label} ({'/'.join(dict.fromkeys(kinds))}, published)",
            legendgroup=f"ref-{label}",
            showlegend=first,
            customdata=np.repeat(rows[["layer_lo", "layer_hi"]].to_numpy(), 3, axis=0),
            hovertemplate=f"{label}: layers %{{customdata[0]:.0f}}-%{{customdata[1]:.0f}}"
            "<extra></extra>",
        )


def depth_summary(
    curves: pd.DataFrame,
    *,
    color: str = "model",
    reference: pd.DataFrame | None = None,
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Where each set's mean curve peaks, on relative depth: the hierarchy at a glance.

    Parameters
    ----------
    curves : DataFrame
        :func:`core.analysis.findings.findings` ``curves`` rows (``stimulus_set``,
        ``component``, ``peak_depth``, ``peak_layer``, ``band_lo``/``band_hi`` in layers,
        ``n_layers``, ``expected_depth``) and the ``color`` column; one panel per component.
    reference : DataFrame, optional
        Published bands (:func:`core.present.reference.bands`) drawn as grey bars beside
        ours in their set's row ("paper, 3B" beside "smollm2-135m"), in every panel.

    Returns
    -------
    go.Figure
        A bar spans the peak band (layers within one SE of the maximum), a triangle marks
        the peak and a hollow circle the expected depth (centre of mass above chance); the
        caption says so (:data:`DEPTH_KEY`).
    """
    if curves.empty:
        return style(_empty("no results for this selection"), presentation=presentation)
    sets = in_set_order(curves["stimulus_set"])
    panels = series_order(curves["component"], "component")
    hues = list(dict.fromkeys(curves[color].astype(str)))
    labels = [] if reference is None else list(dict.fromkeys(reference["label"]))
    slots_of = [*hues, *labels]
    fig = make_subplots(
        rows=1, cols=len(panels), shared_yaxes=True, subplot_titles=panels, horizontal_spacing=0.03
    )
    for col, panel in enumerate(panels, start=1):
        part = curves[curves["component"] == panel]
        for value in hues:
            rows = part[part[color].astype(str) == value]
            if rows.empty:
                continue
            y = np.array([sets.index(x) for x in rows["stimulus_set"]]) + _offset(value, slots_of)
            hue = color_for(color, value, hues)
            for trace in _depth_traces(rows, y, value, hue, first=col == 1):
                fig.add_trace(trace, row=1, col=col)
        if labels:
            slots = {
                s: {lab: i + _offset(lab, slots_of) for lab in labels} for i, s in enumerate(sets)
            }
            for trace in _reference_traces(reference, slots, first=col == 1):
                fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(range=[-0.03, 1.03], row=1, col=col)
    fig.update_yaxes(
        tickvals=list(range(len(sets))), ticktext=sets, autorange="reversed", row=1, col=1
    )
    _x_title(fig, AXIS_LABELS["relative_depth"], len(panels), presentation=presentation)
    caption = f"{caption}\n{DEPTH_KEY}" if caption else DEPTH_KEY
    titled(fig, title, caption=caption, presentation=presentation)
    return style(fig, presentation=presentation, height=max(320, 90 * len(sets) + 200))


DEPTH_KEY = "▼ peak; bar: layers within one SE of it; ○ expected depth (centre of mass)"


__all__ = [
    "AXIS_LABELS",
    "COMPONENT_COLORS",
    "GLOSSARY",
    "METRIC_LABELS",
    "MODEL_COLORS",
    "OKABE_ITO",
    "SET_COLORS",
    "add_reference_bands",
    "color_for",
    "depth_summary",
    "heatmap",
    "interval_points",
    "layer_curves",
    "mark_points",
    "slide",
    "statement",
    "style",
    "table_figure",
    "titled",
    "to_image",
    "write_slides",
]


# --------------------------------------------------------------------------- drill-down
MARGIN_CAPTION = (
    "Margin: the held-out decision value signed by the true class (> 0: on the true side; "
    "ridge targets: minus the absolute error in SDs of the target)."
)


def margin_heatmap(
    data: pd.DataFrame,
    *,
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Stimulus × layer heatmap of the held-out margin, stimuli ordered by when they settle.

    Parameters
    ----------
    data : DataFrame
        One row per (stimulus, layer): ``item_id``, ``layer``, ``margin`` and
        ``stays_correct_from`` (:func:`core.present.drill.stays_correct_from`); ``text``
        is shown on hover when present.

    Returns
    -------
    go.Figure
        Rows sorted by the first layer from which the stimulus stays correct (those that
        never settle last), then by mean margin; blue: correct side, red: wrong side.
    """
    if data.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    wide = data.pivot_table(index="item_id", columns="layer", values="margin", aggfunc="first")
    per_item = data.groupby("item_id").agg(
        settle=("stays_correct_from", "first"), mean=("margin", "mean")
    )
    per_item = per_item.loc[wide.index]
    order = per_item.sort_values(["settle", "mean"], ascending=[True, False], na_position="last")
    wide = wide.loc[order.index]
    z = wide.to_numpy(dtype=float)
    bound = float(np.nanquantile(np.abs(z), 0.98)) if np.isfinite(z).any() else 1.0
    bound = bound if bound > 0 else 1.0
    texts = data.drop_duplicates("item_id").set_index("item_id").get("text")
    labels = [
        f"{i} · {texts.get(i)}" if texts is not None and pd.notna(texts.get(i)) else str(i)
        for i in wide.index
    ]
    settle = order["settle"].to_numpy()
    custom = np.repeat(
        np.where(np.isnan(settle), -1, settle).astype(int)[:, None], z.shape[1], axis=1
    )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[int(c) for c in wide.columns],
            y=list(range(len(wide))),
            customdata=np.dstack([custom, np.array([labels] * z.shape[1]).T]),
            zmin=-bound,
            zmax=bound,
            colorscale="RdBu",
            colorbar={"title": {"text": "margin"}},
            hovertemplate="%{customdata[1]}<br>layer %{x}: margin %{z:.2f}"
            "<br>correct from layer %{customdata[0]} on (-1: never)<extra></extra>",
        )
    )
    fig.update_yaxes(
        autorange="reversed",
        title_text=f"stimulus ({len(wide)}), earliest settled on top",
        showticklabels=len(wide) <= 40,
        tickvals=list(range(len(wide))) if len(wide) <= 40 else None,
        ticktext=[str(i) for i in wide.index] if len(wide) <= 40 else None,
    )
    fig.update_xaxes(title_text=AXIS_LABELS["layer"])
    titled(fig, title, caption=caption or MARGIN_CAPTION, presentation=presentation)
    return style(fig, presentation=presentation, height=640 if presentation else 520)


def stimulus_margins(
    data: pd.DataFrame,
    *,
    x: str = "layer",
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """One stimulus's margin across layers: one panel per target, one line per component.

    Parameters
    ----------
    data : DataFrame
        ``target``, ``component``, ``layer`` (or ``relative_depth``), ``margin``.
    """
    if data.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    curves = data.rename(columns={"margin": "score"})
    fig = layer_curves(
        curves,
        x=x,
        color="component",
        facet="target" if curves["target"].nunique() > 1 else None,
        band=False,
        chance=False,
        metric="margin",
        title=title,
        caption=caption or MARGIN_CAPTION,
        presentation=presentation,
        **UNTESTED,
    )
    for col in range(1, max(curves["target"].nunique(), 1) + 1):
        fig.add_hline(y=0, line={"dash": "dot", "color": "#444", "width": 1.2}, row=1, col=col)
    fig.update_yaxes(title_text="margin (> 0: correct side)", row=1, col=1)
    return fig


def subgroup_curves(
    data: pd.DataFrame,
    *,
    metric_label: str = "accuracy",
    title: str | None = None,
    caption: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Small multiples: score per layer in each subgroup (one panel each), per component.

    Parameters
    ----------
    data : DataFrame
        :func:`core.analysis.errors.subgroup_accuracy` rows: ``subgroup``, ``component``,
        ``layer``, ``score``, ``score_se``, optionally ``chance`` and a panel ``label``.
    """
    if data.empty:
        return style(_empty("nothing to show"), presentation=presentation)
    curves = data.assign(panel=data["label"] if "label" in data else data["subgroup"])
    fig = layer_curves(
        curves,
        color="component",
        facet="panel",
        chance="chance" in curves,
        title=title,
        caption=caption,
        presentation=presentation,
        **UNTESTED,
    )
    fig.update_yaxes(title_text=metric_label, row=1, col=1)
    return fig


def transfer_curves(
    data: pd.DataFrame,
    *,
    x: str = "layer",
    title: str | None = None,
    caption: str | None = None,
    metric: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Transfer curves beside the within-set curves, one panel per component.

    Parameters
    ----------
    data : DataFrame
        ``curve`` (e.g. ``pairs → buried``, ``pairs (within)``), ``component``, ``x``,
        ``score``, optionally ``score_se`` and ``chance``.
    """
    if data.empty:
        return style(_empty("no transfer results for this selection"), presentation=presentation)
    fig = layer_curves(
        data,
        x=x,
        color="curve",
        facet="component" if data["component"].nunique() > 1 else None,
        metric=metric,
        title=title,
        caption=caption,
        presentation=presentation,
        **UNTESTED,
    )
    return fig
