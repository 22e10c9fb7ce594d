"""Findings: the paper's questions asked of every stored set, in numbers and sentences."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.halves import effect_sentences
from core.errors import first_line
from core.paths import cache_dir
from core.present import deck, plots, report, views
from core.present import reference as published
from core.present.tables import readable
from ui import figure, state
from ui.data import token
from ui.page import guarded, models_row, results_page
from ui.words import glossary

selection, index = results_page(
    "Findings",
    "Per model: where each stimulus set's mean curve peaks, how much of that peak the token "
    "embeddings already give, whether it peaks twice beyond the fold noise, whether adjacent "
    "layers alternate beyond what noise gives, and which sets peak before which. Every "
    "verdict names its number and its null; each is calibrated on simulated data (README). "
    "The same numbers as `python -m core report`.",
)
pooling = selection.pooling
model2, components, (c3,), models = models_row(selection, index, key="find_comp", widths=(2, 3, 2))
show_paper = state.show_published(
    container=c3,
    help="The paper's layer bands (Llama-3.2-3B, Llama-3.3-70B) on relative depth beside "
    "ours, and any published results you added below",
)


@st.cache_data(show_spinner="Testing peaks, double peaks, anti-persistence and the order…")
def compute(state_token: str, model: str, pooling: str) -> dict:
    # every component at once: the same call (and cache entry) as the job runner's warm-up,
    # the Coordination page and the deck; the page filters what it shows
    return views.findings(None, model=model, pooling=pooling)


@st.cache_data(show_spinner=False)
def references(files: tuple[str, ...], mtimes: tuple[float, ...]) -> pd.DataFrame:
    return published.load(files)


def _only(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty or "component" not in table:
        return table
    return table[table["component"].isin(components)]


found = {}
for model in models:
    stored = index[(index["model"] == model) & (index["pooling"] == pooling)]
    if stored.empty:
        st.warning(f"No results of {model} with pooling {pooling}.")
        continue
    found[model] = {k: _only(t) for k, t in guarded(compute, token(), model, pooling).items()}
if not found:
    st.stop()

saved = published.saved()
reference = guarded(references, tuple(map(str, saved)), tuple(p.stat().st_mtime for p in saved))
curves = pd.concat([t["curves"].assign(model=m) for m, t in found.items()], ignore_index=True)
sets = list(curves["stimulus_set"].unique())
bands = published.bands(reference, stimulus_sets=sets) if show_paper else None
fig = plots.depth_summary(
    curves,
    reference=bands,
    title=f"{' vs '.join(found)}: where each set's mean curve peaks (pooling {pooling})",
    caption=(
        "Mean normalised curve over each set's targets; published bands (grey) as layer / "
        "(L-1), ±1 layer for their unstated numbering."
        if show_paper
        else "Mean normalised curve over each set's targets."
    ),
    presentation=selection.presentation,
)
figure.show(fig, curves, name=f"findings-{'-vs-'.join(found)}-{pooling}", key="depths")


def deck_box() -> None:
    """One click: the talk deck (HTML, slide PNG/SVG, PDF) of the models shown here."""
    box = st.container(border=True)
    box.markdown(
        "**Talk deck**: the hierarchy, " + ("small vs large, " if model2 else "") + "the "
        "published bands, the double-peak test, anti-persistence and the layer × layer matrix, "
        "as one HTML file that works offline, 16:9 PNG and SVG slides and a PDF."
    )
    if box.button("Make the talk deck", key="deck_make", icon=":material/slideshow:"):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = cache_dir() / "decks" / f"{'-vs-'.join(found)}-{pooling}-{stamp}"
        with st.spinner("Drawing the slides (about half a minute)…"):
            files = guarded(
                deck.build,
                None,
                model=selection.model,
                compare=model2 if model2 in found else None,
                pooling=pooling,
                out=out,
                reference_files=saved,
            )
        st.session_state["deck_files"] = files
    files = st.session_state.get("deck_files")
    if files is None:
        return
    for note in (files.image_note, files.pdf_note):
        if note:
            box.warning(note)
    row = box.container(horizontal=True)
    figure.download(row, "Deck HTML", files.html.read_bytes(), "deck.html", key="deck_html")
    if files.pdf is not None:
        figure.download(row, "Deck PDF", files.pdf.read_bytes(), "deck.pdf", key="deck_pdf")
    zipped = _zipped(files.html.parent)
    figure.download(
        row, "Everything (ZIP)", zipped, f"{files.html.parent.name}.zip", key="deck_zip"
    )
    box.caption(f"Also kept in `{files.html.parent}`.")


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                archive.write(path, path.relative_to(folder.parent))
    return buffer.getvalue()


deck_box()

SECTIONS = [
    (
        "Each peak against layer 0 and the surface baselines",
        report.controls_sentences,
        ("controls",),
    ),
    ("How much of each peak is lexical (layer 0)?", report.lexical_sentences, ("lexical",)),
    ("Double peaks", report.double_peak_sentences, ("double_peaks",)),
    ("Anti-persistence of adjacent layers", report.persistence_sentences, ("persistence",)),
    ("Which sets peak before which?", report.hierarchy_sentences, ("hierarchy", "order")),
    ("Attention-sink layers", report.sink_sentences, ("sinks",)),
    ("Dips most targets share", report.shared_dip_sentences, ("shared_dips",)),
    (
        "Analogy effect: the full stimulus minus its better half",
        effect_sentences,
        ("analogy_effect",),
    ),
]
for model, tables in found.items():
    st.header(model)
    st.subheader("Mean curve over each set's property targets")
    st.caption(
        "Normalised score (0 = chance, 1 = perfect), averaged over the set's property "
        "targets; peak: the smoothed maximum (the same peak in every view); peak band: layers "
        "within one fold SE of it; expected depth: centre of mass of the score above chance "
        "(a description, never a verdict)."
    )
    st.dataframe(report.curve_table(tables["curves"]), hide_index=True, width="stretch")
    note = report.controls_sentence(tables["curves"])
    if note:
        st.caption(note)
    for title, sentences, names in SECTIONS:
        frames = [tables.get(name, pd.DataFrame()) for name in names]
        if frames[0].empty:
            continue
        st.subheader(title)
        extra = {"controls": tables.get("controls")} if sentences in report.WITH_CONTROLS else {}
        st.markdown("\n".join(f"- {s}" for s in sentences(*frames, **extra)))
        for name, table in zip(names, frames):
            with st.expander(f"Table: {name}"):
                st.dataframe(
                    readable(table, rename={"baseline_mean": "noise baseline [95 %]"}),
                    hide_index=True,
                    width="stretch",
                )
                figure.csv_button(table, name=f"{model}-{pooling}-{name}", key=f"{model}_{name}")
    if show_paper and bands is not None and len(bands):
        st.subheader("Beside the published results")
        st.caption(
            "Where our mean curves peak against the published layer bands, widened by one "
            "published layer for their unstated numbering: a description, not a test (no "
            "interval is published to test against)."
        )
        table = published.agreement(tables["curves"], bands)
        words = published.agreement_sentences(
            table, model=model, double_peaks=tables["double_peaks"]
        )
        words += published.rho_sentences(reference, tables["persistence"], model=model)
        st.markdown("\n".join(f"- {s}" for s in words) or "No set in common.")

with st.expander("Add published results (your own CSV)", expanded="ref_added" in st.session_state):
    st.markdown(
        "One row per published number: `label` (what a figure shows, e.g. *Smith 2025, 7B*), "
        "`n_layers` of the published model, `measure` (`peak`, `first_peak` or `rho`), "
        "`layer_lo` and `layer_hi` (0-based, as published) or `value` (for `rho`); optional "
        "`model`, `stimulus_set`, `component`, `source`, `note`. The paper's own rows are in "
        f"`{published.PAPER_CSV.relative_to(published.PAPER_CSV.parents[3])}`."
    )
    upload = st.file_uploader("CSV file", type=["csv"], key="ref_file")
    name = st.text_input("Name", placeholder="smith-2025", key="ref_name")
    if st.button("Validate and add", disabled=upload is None, key="ref_add"):
        try:
            path = published.save(upload.getvalue(), name.strip())
        except published.ReferenceFileError as exc:
            st.error(first_line(exc))
        else:
            st.session_state["ref_added"] = f"added {path.stem}: its bands now show beside ours"
            references.clear()
            st.rerun()
    if "ref_added" in st.session_state:
        st.success(st.session_state.pop("ref_added"))
    for path in saved:
        left, right = st.columns([4, 1])
        left.markdown(f"- `{path.stem}`")
        if right.button("Remove", key=f"ref_rm_{path.stem}"):
            path.unlink(missing_ok=True)
            references.clear()
            st.rerun()

glossary(
    "mean curve",
    "normalised score",
    "peak band",
    "expected depth",
    "gain over layer 0",
    "surface baseline",
    "naive vs split-half",
)
