"""Stimuli: browse the sets (texts, labels, groups, sources) and upload your own CSV."""

from __future__ import annotations

import streamlit as st

from core.errors import StrataError, first_line
from core.stimuli import StimulusError, StimulusSet, builtin_names, load, save_upload, upload_names
from core.stimuli.audit import AUC_BOUNDS, FEATURES, audit, balance, load_wordnet, outside
from core.stimuli.items import DEFINITIONS
from core.stimuli.registry import DATA
from ui.page import setup
from ui.state import page_param, set_page_param
from ui.words import TERMS

setup("Stimuli", "The texts each probe sees, their labels and CV groups, and where they come from.")


@st.cache_resource(show_spinner=False)
def _tools():
    """SmolLM2's tokenizer (no weights) and WordNet, when they can be loaded."""
    from core.lm.loading import load_tokenizer

    try:
        tokenizer = load_tokenizer("smollm2-135m")
    except StrataError:
        tokenizer = None
    return tokenizer, load_wordnet()


@st.cache_data(show_spinner="Auditing the set…", max_entries=32)
def _audit(name: str, content_hash: str, _stimuli: StimulusSet):
    tokenizer, wordnet = _tools()
    return audit(_stimuli, tokenizer=tokenizer, wordnet=wordnet)


def show_audit(stimuli: StimulusSet) -> None:
    """The stimulus audit: surface confounds, words across groups, halves, in words."""
    st.subheader("Audit")
    try:
        result = _audit(stimuli.name, stimuli.content_hash, stimuli)
    except StrataError as exc:
        st.error(first_line(exc))
        return
    low, high = AUC_BOUNDS
    st.caption(
        "Can a trivial reader predict a label? AUC of each surface feature per binary label "
        f"(0.50: no information; flagged outside {low:.2f}-{high:.2f}); target words shared "
        "by CV groups; synonyms split across groups; for a:b :: c:d sets, what one half alone "
        "says about the label. The same as `python -m core audit " + stimuli.name + "`."
    )
    if "meta_design" in stimuli.frame and (stimuli.frame["meta_design"] == "paper").all():
        st.info(
            "The paper's analogy design, kept for replication: a broken row pairs c with a "
            "wrong d, so whether c:d is a true pair decides the label. Use `analogies` (relation "
            "match) to claim that a layer represents the analogy."
        )
    if result.passed:
        st.success("This set passes every check of the audit.")
    for warning in result.warnings:
        st.warning(warning[0].upper() + warning[1:] + ".")
    if len(result.confounds):
        table = result.confounds.rename(columns={k: v for k, v in FEATURES.items()})
        st.dataframe(
            table.style.format(precision=2, na_rep="—").map(
                lambda v: (
                    "color: #D55E00; font-weight: bold"
                    if isinstance(v, float) and outside(v)
                    else ""
                )
            ),
            hide_index=True,
            width="stretch",
        )
    if len(result.halves):
        st.markdown("**One half alone** (AUC; 0.50: the half says nothing about the label)")
        st.dataframe(result.halves.round(3), hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.metric("Target words in more than one CV group", len(result.shared_words))
    c2.metric("Synonym sets split across groups", len(result.synonyms))
    if len(result.shared_words):
        c1.dataframe(result.shared_words, hide_index=True, height=180)
    if len(result.synonyms):
        c2.dataframe(result.synonyms, hide_index=True, height=180)
    for note in result.notes:
        st.caption(f"Not checked: {note}.")


browse, upload = st.tabs(["Browse", "Upload a CSV"])

with browse:
    names = builtin_names() + upload_names()
    current = page_param("view_set", "items")
    name = st.selectbox(
        "Stimulus set", names, index=names.index(current) if current in names else 0
    )
    set_page_param("view_set", name)
    try:
        stimuli = load(name)
    except StimulusError as exc:
        st.error(str(exc))
        st.stop()
    n_groups = stimuli.frame["group"].nunique()
    c1, c2, c3 = st.columns(3)
    c1.metric("Items", len(stimuli))
    c2.metric("CV groups", n_groups, help=TERMS["CV groups"])
    c3.metric("Targets", len(stimuli.targets))
    targets = balance(stimuli, counts=False)
    targets.insert(2, "probe", ["ridge" if k == "continuous" else "SVM" for k in targets["kind"]])
    st.dataframe(targets, hide_index=True, width="stretch")
    definitions = {t: DEFINITIONS[t] for t in stimuli.targets if t in DEFINITIONS}
    if definitions and name.startswith("items"):
        with st.expander("What each property means (the written definitions every label follows)"):
            st.markdown("\n".join(f"- **{t}**: {d}" for t, d in definitions.items()))
    show_audit(stimuli)
    query = st.text_input("Filter texts", placeholder="a word, e.g. apple")
    frame = stimuli.frame
    if query:
        frame = frame[frame["text"].str.contains(query, case=False, regex=False)]
    st.dataframe(frame, hide_index=True, width="stretch", height=420)
    sources = DATA.parent / "SOURCES.md"
    if sources.is_file():
        with st.expander("Sources, licences and how each column was derived"):
            st.markdown(sources.read_text())

with upload:
    st.markdown(
        "A CSV with `item_id`, `text`, `group`, optional `words` (target words, `|`-separated) "
        "or `spans` (`start:end;...`), any `meta_*` columns, and one column per target with its "
        "kind in the header: `is_edible:binary`, `concreteness:continuous`, "
        "`relation:multiclass`. Files are read as data only, up to 20 MiB."
    )
    file = st.file_uploader("CSV file", type=["csv"], key="upload_file")
    upload_name = st.text_input("Name for the set", placeholder="my-nouns", key="upload_name")
    if st.button("Validate and keep", type="primary", disabled=file is None, key="upload_keep"):
        try:
            kept = save_upload(file.getvalue(), upload_name.strip() or "")
        except StimulusError as exc:
            st.error(str(exc))
        else:
            st.session_state["upload_kept"] = (
                f"'{kept.name}': {len(kept)} items, targets {', '.join(kept.targets)}. "
                "It is now in the Run page's stimulus sets and under Browse."
            )
            set_page_param("view_set", kept.name)
            st.rerun()
    if "upload_kept" in st.session_state:
        st.success(st.session_state.pop("upload_kept"))
