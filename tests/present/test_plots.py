"""Figures that survive a projector: fixed colour-blind-safe colours, 16:9 slides, big text."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.names import COMPONENTS
from core.present import plots
from core.present import reference as published

SETS = ("analogies", "items", "pairs")  # alphabetical, as a database query returns them


def _curves(models=("smollm2-135m",), sets=SETS, components=COMPONENTS, n_layers=12):
    rng = np.random.default_rng(0)
    rows = []
    for model in models:
        for s in sets:
            for c in components:
                for layer in range(n_layers):
                    rows.append(
                        {
                            "model": model,
                            "stimulus_set": s,
                            "component": c,
                            "layer": layer,
                            "n_layers": n_layers,
                            "relative_depth": layer / (n_layers - 1),
                            "score": float(np.sin(layer / 3) + rng.normal(0, 0.05)),
                            "score_se": 0.03,
                            "chance": 0.0,
                        }
                    )
    return pd.DataFrame(rows)


def _summary(models=("smollm2-135m", "gemma3-270m")):
    return pd.DataFrame(
        [
            {
                "model": m,
                "stimulus_set": s,
                "component": c,
                "peak_layer": 5,
                "peak_depth": 5 / 11,
                "band_lo": 4,
                "band_hi": 7,
                "n_layers": 12,
                "expected_depth": 0.5,
            }
            for m in models
            for s in SETS
            for c in COMPONENTS
        ]
    )


def _fonts(node, path=""):
    """Every explicit font size in a figure's JSON, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            fonts = key in ("font", "tickfont", "title_font") and isinstance(value, dict)
            if fonts and "size" in value:
                yield f"{path}.{key}", value["size"]
            yield from _fonts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _fonts(value, f"{path}[{i}]")


def _figures():
    data = _curves()
    peaks = data.groupby(["stimulus_set", "component"]).head(1)
    rho = pd.DataFrame(
        {
            "curve": ["items · resid_pre", "items · attn_out"] * 2,
            "component": ["resid_pre", "attn_out"] * 2,
            "estimator": ["naive", "naive", "split-half", "split-half"],
            "rho": [-0.4, -0.5, 0.05, -0.1],
            "baseline_lo": [-0.6, -0.6, -0.1, -0.1],
            "baseline_hi": [-0.3, -0.3, 0.1, 0.1],
        }
    )
    bands = published.bands(published.load())
    matrix = pd.DataFrame(np.eye(30), index=range(30), columns=range(30))
    caption = "smollm2-135m · items 440 · 6 folds\nMeasured against: chance."
    return {
        "curves": plots.layer_curves(
            data,
            x="relative_depth",
            color="stimulus_set",
            facet="component",
            peaks=peaks,
            reference=bands,
            title="A title long enough to need two lines on a slide, as a finding often does",
            caption=caption,
        ),
        "depths": plots.depth_summary(_summary(), reference=bands, title="t", caption=caption),
        "rho": plots.rho_intervals(rho, title="t", caption=caption),
        "matrix": plots.heatmap(matrix, title="t", caption=caption, x_label="layer"),
        "table": plots.table_figure(pd.DataFrame({"a": [1.0], "b": ["x"]}), title="t"),
        "statement": plots.statement("No double peak passed the test", title="t"),
    }


def test_components_and_models_keep_one_okabe_ito_colour_everywhere():
    palette = set(plots.OKABE_ITO.values())
    assert set(plots.COMPONENT_COLORS.values()) <= palette
    assert len(set(plots.COMPONENT_COLORS.values())) == 3
    assert set(plots.MODEL_COLORS.values()) <= palette
    # components and models never share a colour, so a slide cannot confuse them
    assert not set(plots.COMPONENT_COLORS.values()) & set(plots.MODEL_PALETTE)
    for order in (["smollm2-135m", "gemma3-270m"], ["gemma3-270m", "x", "smollm2-135m"]):
        assert plots.color_for("model", "smollm2-135m", order) == plots.OKABE_ITO["orange"]
        assert plots.color_for("model", "gemma3-270m", order) == plots.OKABE_ITO["reddish purple"]
    # other models take the free colours in order, never an embedded model's
    a = plots.color_for("model", "llama-3b", ["smollm2-135m", "llama-3b", "llama-70b"])
    b = plots.color_for("model", "llama-70b", ["smollm2-135m", "llama-3b", "llama-70b"])
    assert len({a, b, plots.MODEL_COLORS["smollm2-135m"]}) == 3


def test_a_name_outside_the_figure_gets_the_same_colour_in_every_process():
    code = "from core.present.plots import color_for; print(color_for('model', 'some-model'))"
    colours = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(colours) == 1


def test_every_slide_is_16_9_with_text_of_18_pt_or_more_and_the_legend_outside():
    for name, fig in _figures().items():
        out = plots.slide(fig)
        assert (out.layout.width, out.layout.height) == (960, 540), name
        sizes = dict(_fonts(out.to_plotly_json()))
        assert sizes, name
        small = {k: v for k, v in sizes.items() if v < 18}
        assert not small, (name, small)
        assert out.layout.font.size >= 18
        assert out.layout.legend.x >= 1.0 and out.layout.legend.xanchor == "left", name
        assert fig.layout.width is None  # the page's figure is left as it was


def test_a_slide_has_room_for_its_wrapped_title_and_its_caption():
    fig = _figures()["curves"]
    out = plots.slide(fig)
    lines = out.layout.title.text.count("<br>") + 1
    assert lines == 2 and all(len(x) <= 64 for x in out.layout.title.text.split("<br>"))
    assert out.layout.margin.t >= lines * plots.PRESENTATION["title"]
    [caption] = [a for a in out.layout.annotations if "Measured against" in (a.text or "")]
    caption_lines = caption.text.count("<br>") + 1
    assert out.layout.margin.b >= 60 + caption_lines * plots.PRESENTATION["note"]
    assert plots.caption_of(fig).startswith("smollm2-135m · items 440")


def _table_slide(n_rows: int, caption_words: int):
    table = pd.DataFrame({"target": [f"t{i}" for i in range(n_rows)], "score": np.arange(n_rows)})
    fig = plots.table_figure(table, title="t", caption=" ".join(["word"] * caption_words))
    out = plots.slide(fig)
    [cells] = [t.cells for t in out.data if t.type == "table"]
    [caption] = [a.text for a in out.layout.annotations if "word" in (a.text or "")]
    room = out.layout.height - out.layout.margin.t - out.layout.margin.b
    return fig, len(cells.values[0]), cells.height * (len(cells.values[0]) + 1), room, caption


def test_a_table_slide_shows_whole_rows_and_says_how_many():
    """A static image cuts a table mid-row where the screen scrolls: a slide keeps the rows
    that fit between its title and caption, and the caption counts them."""
    fig, shown, height, room, caption = _table_slide(13, caption_words=120)
    assert shown < 10 and height <= room  # a long caption leaves room for fewer rows
    assert f"first {shown} of 13 rows" in caption and "first 10 of" not in caption
    assert "first 10 of 13 rows" in plots.caption_of(fig)  # the page's figure is unchanged
    fig, shown, height, room, caption = _table_slide(13, caption_words=10)
    assert shown == 10 and height <= room and "first 10 of 13 rows" in caption
    _, shown, height, room, caption = _table_slide(4, caption_words=10)
    assert shown == 4 and height <= room and "rows" not in caption


def test_a_table_too_wide_for_a_slide_breaks_its_headers_and_one_row_runs_down():
    """The sink table (7 long column names, one row) was cut in every cell on its slide."""
    names = ["model", "sink_layers", "norm_ratio", "attn_pos0", "median_norm_ratio"]
    names += ["median_attn_pos0", "stimulus_sets"]
    row = ["smollm2-135m", 12, 151.8, 0.66, 48.1, 0.806, "items, pairs, analogies"]
    [one] = plots.table_figure(pd.DataFrame([row], columns=names)).data
    assert list(one.cells.values[0]) == names  # names down the first column, values beside
    assert list(one.cells.values[1])[:3] == ["smollm2-135m", "12", "152"]
    wide = pd.DataFrame([row, [*row[:1], 13, 90.0, 0.5, 40.0, 0.7, "items"]], columns=names)
    [table] = plots.table_figure(wide).data
    assert "median_<br>norm_<br>ratio" in table.header.values
    assert sum(table.columnwidth) <= plots.TABLE_CHARS
    assert table.header.height > table.cells.height  # room for the broken lines
    narrow = pd.DataFrame({"target": ["a", "b"], "score": [0.5, 0.7]})
    [table] = plots.table_figure(narrow).data
    assert list(table.header.values) == ["target", "score"]


def test_series_follow_the_hierarchy_and_peaks_take_their_curves_colour():
    fig = _figures()["curves"]
    names = [t.name for t in fig.data if t.showlegend and t.mode == "lines+markers"]
    assert names == ["items", "pairs", "analogies"]
    peaks = [t for t in fig.data if t.name == "peak"]
    assert peaks and set(peaks[0].marker.color) == {plots.SET_COLORS[s] for s in SETS}
    assert {t.marker.symbol for t in fig.data if t.name == "pairs"} == {"square"}


def test_the_chance_line_is_drawn_without_a_null_band():
    """Home's mean curve had none: a line added before any curve skipped the empty panel."""
    fig = plots.layer_curves(_curves(components=["resid_pre"]), null_band=False)
    assert [s.y0 for s in fig.layout.shapes] == [0.0]
    # named in the legend (a label on the line ran into curves near chance), once
    chance = [t for t in fig.data if t.name == "chance"]
    assert len(chance) == 1 and chance[0].line.dash == "dot" and chance[0].showlegend is not False
    assert "chance" not in [a.text for a in fig.layout.annotations]


def test_layer_0_and_surface_baseline_are_off_by_default_and_drawn_when_given():
    data = _curves(sets=["items"], components=["resid_pre", "attn_out"])
    plain = plots.layer_curves(data, null_band=False, chance=False)
    assert not plain.layout.shapes
    layer0 = pd.DataFrame({"score": [0.3], "label": ["layer 0"]})
    surface = pd.DataFrame({"score": [0.1], "score_se": [0.02], "label": ["surface: frequency"]})
    fig = plots.layer_curves(
        data, null_band=False, chance=False, layer0=layer0, surface=surface, facet="component"
    )
    dashed = [s for s in fig.layout.shapes if s.type == "line" and s.line.dash == "dash"]
    assert [s.y0 for s in dashed] == [0.3, 0.3]  # on both panels
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(b.y0, b.y1) for b in bands] == [pytest.approx((0.08, 0.12))] * 2
    labels = [a.text for a in fig.layout.annotations]
    assert labels.count("layer 0") == 1 and labels.count("surface: frequency") == 1


def test_published_bands_are_labelled_spans_on_relative_depth_or_on_this_models_layers():
    bands = published.bands(published.load(), stimulus_sets=["items"])
    fig = plots.layer_curves(_curves(sets=["items"]), x="relative_depth", reference=bands)
    [span] = [s for s in fig.layout.shapes if s.type == "rect"]
    assert (span.x0, span.x1) == pytest.approx((2 / 27, 7 / 27))
    assert "paper, 3B: items 2-7" in [t.name for t in fig.data if t.showlegend is not False]
    on_layers = plots.layer_curves(_curves(sets=["items"]), x="layer", reference=bands)
    [span] = [s for s in on_layers.layout.shapes if s.type == "rect"]
    assert (span.x0, span.x1) == pytest.approx((2 / 27 * 11, 7 / 27 * 11))


def test_the_depth_summary_names_each_model_and_each_published_source_once():
    fig = _figures()["depths"]
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == [
        "smollm2-135m",
        "gemma3-270m",
        "paper, 3B (peak, published)",
        "paper, 70B (first peak, published)",
    ]
    assert plots.DEPTH_KEY in plots.caption_of(fig)


@pytest.mark.slow
def test_slide_images_are_1920_by_1080_png_and_960_by_540_svg():
    from io import BytesIO

    from PIL import Image

    fig = _figures()["curves"]
    png = plots.to_image(fig, "png")
    assert Image.open(BytesIO(png)).size == (1920, 1080)
    svg = plots.to_image(fig, "svg").decode()
    assert 'width="960"' in svg and 'height="540"' in svg


def _half_rows(n_layers: int = 10) -> pd.DataFrame:
    rows = []
    for pooling, shift in (("mean", 0.1), ("mean_ab", 0.0), ("mean_cd", -0.05)):
        for layer in range(n_layers):
            rows.append(
                dict(
                    pooling=pooling,
                    layer=layer,
                    n_layers=n_layers,
                    relative_depth=layer / (n_layers - 1),
                    score=0.6 + shift,
                    score_se=0.01,
                    component="resid_pre",
                    target="valid",
                )
            )
    return pd.DataFrame(rows)


def test_sink_layers_are_shaded_one_layer_wide_on_every_panel():
    from core.present import plots

    data = pd.concat([_half_rows().assign(component=c) for c in ("resid_pre", "attn_out")])
    fig = plots.layer_curves(data, facet="component", color="pooling", sinks=[3, 7])
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 4
    assert sorted({(r.x0, r.x1) for r in rects}) == [(2.5, 3.5), (6.5, 7.5)]
    labels = [a.text for a in fig.layout.annotations if a.text == "sink"]
    assert labels == ["sink"]
    depth = plots.layer_curves(_half_rows(), x="relative_depth", color="pooling", sinks=[3])
    rect = next(s for s in depth.layout.shapes if s.type == "rect")
    assert rect.x0 == pytest.approx(2.5 / 9) and rect.x1 == pytest.approx(3.5 / 9)
    assert not [s for s in plots.layer_curves(_half_rows()).layout.shapes if s.type == "rect"]


def test_half_curves_draw_the_full_stimulus_and_both_halves():
    from core.present import plots

    fig = plots.half_curves(_half_rows(), sinks=[4])
    names = [t.name for t in fig.data if t.mode == "lines+markers"]
    assert names == ["mean", "mean_ab", "mean_cd"]
    full = next(t for t in fig.data if t.name == "mean" and t.mode == "lines+markers")
    assert list(full.y) == pytest.approx([0.7] * 10)
