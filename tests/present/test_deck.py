"""The talk deck built from real SmolLM2 and Gemma results, through the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.analysis import order_verdict
from core.present import deck, views

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ORDER = [
    "hierarchy",
    "scale",
    "paper",
    "double_peak",
    "antipersistence",
    "matrix",
    "baselines",
    "sinks",
    "analogy_effect",
]


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "deck", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "STRATA_CACHE": str(cache)},
        timeout=600,
    )


@pytest.fixture(scope="module")
def built(app_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("deck")
    done = _cli(
        "--model", "smollm2-135m", "--compare", "gemma3-270m", "--out", str(out), cache=app_cache
    )
    assert done.returncode == 0, done.stderr
    return out, done


@pytest.fixture
def real(app_cache, monkeypatch):
    monkeypatch.setenv("STRATA_CACHE", str(app_cache))
    return app_cache


def test_the_deck_has_every_slide_in_order_with_a_finding_and_a_caption(real):
    slides = deck.slides(None, model="smollm2-135m", compare="gemma3-270m")
    assert [s.key for s in slides] == ORDER
    captions = [s.caption for s in slides]
    for s in slides:
        print(f"\n[{s.key}] {s.title}\n  {s.caption}")
        assert s.title and s.figure.layout.title.text
        assert "smollm2-135m" in s.caption and "pooling mean" in s.caption
        assert "6 grouped folds" in s.caption and "5 permutations" in s.caption
        assert re.search(r"n = .*items (\d+)", s.caption)
        assert "\nMeasured against: " in s.caption  # the control, on every slide
        assert len(s.data) > 0
    # the numbers in captions are the stored runs'
    runs = views.run_settings(None, model="smollm2-135m", pooling="mean", stimulus_sets=["items"])
    assert f"items {runs['n_items'].iloc[0]}" in captions[0]
    # jargon is explained once, on the first slide that needs it
    explained = [c for c in captions if "resid_pre = the residual stream entering a block" in c]
    assert explained == [captions[0]]
    assert "gemma3-270m" in captions[1] and "(18 layers)" in captions[1]
    # titles state the finding from the tables the pages show
    findings = views.findings(None, model="smollm2-135m", pooling="mean")
    sets, pairs = findings["hierarchy"], findings["order"]
    holds = pd.Series(
        {
            c: order_verdict(pairs[pairs["component"] == c], tuple(part["stimulus_set"])) == "holds"
            for c, part in sets.groupby("component", sort=False)
        }
    )
    title = slides[0].title
    if holds.all():
        assert "in every component" in title
    elif not holds.any():
        assert "is not established by peak depth in any component" in title
    else:
        assert all(c in title for c in holds.index)
    assert slides[2].title.startswith("smollm2-135m beside paper, 3B: ")
    peaks = pd.concat(
        [
            views.findings(None, model=m, pooling="mean")["double_peaks"]
            for m in ("smollm2-135m", "gemma3-270m")
        ]
    )
    if peaks["double_peak"].any():
        assert "peaks twice" in slides[3].title
    else:
        assert slides[3].title.startswith("No double peak passed the test")
    rho = findings["persistence"]
    n_beyond = int((rho["verdict"] == "anti-persistent beyond noise").sum())
    assert ("no alternation" in slides[4].title) == (n_beyond == 0)
    assert "paper, 70B: ρ = -0.33 (naive)" in [t.name for t in slides[4].figure.data]


def test_one_model_alone_has_no_small_vs_large_slide(real):
    slides = deck.slides(None, model="gemma3-270m")
    assert [s.key for s in slides] == [k for k in ORDER if k != "scale"]
    assert all("smollm2" not in s.caption for s in slides)


def test_tables_the_analyses_add_become_slides_of_their_own(real, monkeypatch):
    """A stimulus audit or controls table that findings returns gets a slide after the rest."""
    found = views.findings(None, model="smollm2-135m", pooling="mean")
    audit = pd.DataFrame(
        {"stimulus_set": ["items"], "label": ["is_edible"], "frequency_auc": [0.71]}
    )
    monkeypatch.setattr(views, "findings", lambda *a, **k: {**found, "audit": audit})
    slides = deck.slides(None, model="smollm2-135m")
    assert slides[-1].key == "audit"
    assert slides[-1].title == (
        "smollm2-135m: stimulus audit: what a trivial reader of the stimuli could exploit"
    )
    assert slides[-1].data.equals(audit)


def test_the_files_html_png_svg_pdf(built):
    from PIL import Image

    out, done = built
    slides = sorted((out / "slides").glob("*.png"))
    assert [p.stem for p in slides] == [
        f"{i:02d}-{k.replace('_', '-')}" for i, k in enumerate(ORDER, 1)
    ]
    for png in slides:
        assert Image.open(png).size == (1920, 1080)
        svg = png.with_suffix(".svg").read_text()
        assert 'width="960"' in svg and 'height="540"' in svg
        assert png.with_suffix(".csv").stat().st_size > 0
    html = (out / "deck.html").read_text()
    assert html.count('<section class="slide"') == len(ORDER)
    # plotly.js inline, nothing fetched (its source names CDNs only for maps we never draw)
    assert not re.search(r"<script[^>]*\bsrc=", html) and 'src="http' not in html
    assert html.count("data:image/svg+xml;base64,") == len(ORDER)  # what print-to-PDF uses
    outline = (out / "slides.md").read_text()
    assert outline.count("\n## ") == len(ORDER) and "Measured against" in outline
    pdf = (out / "deck.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == len(ORDER)  # one page per slide
    assert str(out / "deck.pdf") in done.stdout.splitlines()


def test_the_command_line_refuses_bad_input_in_one_line_and_writes_nothing(app_cache, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,n_layers,measure,layer_lo,layer_hi\nx,28,peak,3,zz\n")
    cases = [
        (["--model", "nope"], "error: no results for model 'nope' with pooling 'mean'"),
        (["--model", "smollm2-135m", "--compare", "smollm2-135m"], "error: --compare names"),
        (
            ["--model", "smollm2-135m", "--reference", str(bad)],
            "error: reference file 'bad.csv', row 1, column 'layer_hi': 'zz' is not a whole",
        ),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        done = _cli(*args, "--out", str(out), cache=app_cache)
        assert done.returncode == 2
        assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
        assert not out.exists()


def test_without_chromium_the_deck_says_there_is_no_pdf(real, tmp_path, monkeypatch):
    monkeypatch.setattr(deck, "chromium", lambda: None)
    files = deck.write(
        deck.slides(None, model="gemma3-270m")[:1], tmp_path, title="t", images=False
    )
    assert files.pdf is None
    assert files.pdf_note == "no PDF: Chromium is not installed (apt-get install chromium)"
    assert files.html.is_file() and not (tmp_path / "deck.pdf").exists()


def test_a_double_peak_title_names_a_shared_dip_or_a_sink_at_its_valley():
    from core.present.deck import _double_peak_title

    row = pd.Series(
        {
            "stimulus_set": "items",
            "component": "attn_out",
            "peak_layer": 21.0,
            "second_peak_layer": 27.0,
            "valley_layer": 24.0,
            "dip": 0.08,
            "p_value": 0.005,
        }
    )
    plain = _double_peak_title("m", row, True, "m", 9)
    assert plain.startswith("items · attn_out in m peaks twice") and "share" not in plain
    shared = _double_peak_title(
        "m", pd.concat([row, pd.Series({"valley_shared": 1.0})]), True, "m", 9
    )
    assert shared.endswith("the valley is a dip 100% of the targets share")
    sink = _double_peak_title(
        "m", pd.concat([row, pd.Series({"valley_at_sink": True})]), True, "m", 9
    )
    assert sink.endswith("the valley is an attention-sink layer")


def test_when_figure_export_fails_no_image_is_left_and_the_deck_says_why(
    real, tmp_path, monkeypatch
):
    import plotly.io as pio

    def half_then_fail(figs, files, **kwargs):  # the browser dies after the first image
        Path(files[0]).write_text("<svg")
        raise RuntimeError("browser closed\nwith a traceback below")

    monkeypatch.setattr(pio, "write_images", half_then_fail)
    files = deck.write(deck.slides(None, model="gemma3-270m")[:2], tmp_path, title="t", pdf=False)
    assert files.images == [] and files.pdf is None
    assert files.image_note == "no PNG/SVG: figure export failed (RuntimeError: browser closed)"
    assert sorted(p.suffix for p in (tmp_path / "slides").iterdir()) == [".csv", ".csv"]
    assert '<img class="static"' not in files.html.read_text()  # the live charts only
