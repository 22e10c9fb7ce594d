"""Run: choose a model and stimulus sets, start extraction and probing in the background."""

from __future__ import annotations

import time

import streamlit as st

from core.config import RunConfig
from core.errors import StrataError, first_line
from core.lm import ALIASES, DEFAULT_MODEL
from core.names import COMPONENTS, HIERARCHY, POOLINGS
from core.pipeline import prepare
from core.probe import ProbeSettings
from core.stimuli import builtin_names, upload_names
from ui import jobs
from ui.page import setup
from ui.words import TERMS

setup(
    "Run",
    "Extract every layer's resid_pre, attn_out and mlp_out and probe them. Runs go on in the "
    "background (close the tab if you like); a run already done returns at once from the cache.",
)


@st.fragment(run_every=1.0)
def progress() -> None:
    """The newest runs with their progress, above the form (a run started below shows here)."""
    st.subheader("Runs")
    recent = jobs.recent(limit=8)
    if not recent:
        st.caption("No runs yet.")
        return
    for job in recent:
        box = st.container(border=True)
        started = time.strftime("%H:%M:%S", time.localtime(job.started))
        box.markdown(f"**{job.title}** · started {started} · `{job.job_id}`")
        if job.state == "running":
            fraction, text = jobs.progress_text(job)
            box.progress(fraction, text=text)
        elif job.state == "done":
            took = f" in {job.finished - job.started:.0f} s" if job.finished else ""
            box.success(f"finished{took}", icon=":material/check_circle:")
        else:
            box.error(job.error or "the run failed", icon=":material/error:")


progress()
st.subheader("Start a run")

OTHER = "another model (hub id, directory or .gguf)"
with st.form("run"):
    left, right = st.columns(2)
    choice = left.selectbox(
        "Model",
        [*ALIASES, OTHER],
        index=list(ALIASES).index(DEFAULT_MODEL),
        key="run_model",
        format_func=lambda a: f"{a} — {ALIASES[a].description}" if a in ALIASES else a,
    )
    custom = left.text_input(
        "Hub id, model directory or .gguf path",
        key="run_custom",
        placeholder="meta-llama/Llama-3.2-3B-Instruct",
        help="Used when 'another model' is chosen. Hub models are read from the local "
        "Hugging Face cache; nothing is downloaded here.",
    )
    label = left.text_input("Name in the results (optional)", placeholder="default: the model")
    dtype = left.selectbox("dtype", ["float32", "bfloat16", "float16"])
    sets = right.multiselect(
        "Stimulus sets",
        builtin_names() + upload_names(),
        default=[s for s in HIERARCHY if s in builtin_names()],
    )
    components = right.multiselect(
        "Components", list(COMPONENTS), default=list(COMPONENTS), help=TERMS["components"]
    )
    poolings = right.multiselect("Pooling", list(POOLINGS), default=["mean"], help=TERMS["pooling"])
    c1, c2, c3 = right.columns(3)
    defaults = ProbeSettings()
    permutations = c1.number_input(
        "Permutations", 0, 10000, defaults.permutations, help=TERMS["permutations"]
    )
    device = c2.text_input("Device", defaults.device, help=TERMS["device"])
    half_splits = c3.number_input(
        "Half splits", 0, 20, defaults.half_splits, help=TERMS["half splits"]
    )
    submitted = st.form_submit_button(
        "Start", type="primary", icon=":material/play_arrow:", key="run_start"
    )

if submitted:
    model = custom.strip() if choice == OTHER else choice
    problems = []
    if not model:
        problems.append("give a hub id, directory or .gguf path for 'another model'")
    if not sets:
        problems.append("choose at least one stimulus set")
    configs = []
    if model and not problems:
        try:
            probe = ProbeSettings(
                permutations=int(permutations),
                half_splits=int(half_splits),
                device=device.strip(),
            )
            configs = [
                RunConfig(
                    model=model,
                    stimuli=name,
                    poolings=tuple(poolings),
                    components=tuple(components),
                    dtype=dtype,
                    label=label.strip() or None,
                    probe=probe,
                )
                for name in sets
            ]
            with st.spinner("Checking the model, the sets and what the run needs…"):
                for config in configs:  # refused here, not minutes later in the background
                    prepare(config)
        except StrataError as exc:
            problems.append(first_line(exc))
    going = [[c.to_dict() for c in job.configs] for job in jobs.running()]
    if configs and [c.to_dict() for c in configs] in going:
        problems.append("the same run is already going (see Runs above)")
    if problems:
        for problem in problems:
            st.error(problem)
    else:
        jobs.start(configs)
        st.toast(f"started {model} × {', '.join(sets)}", icon=":material/rocket_launch:")
        st.rerun()  # the new run shows at once in Runs above
