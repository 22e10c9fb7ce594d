"""Home: what Strata shows, one example figure, and what the cache and database hold."""

from __future__ import annotations

import streamlit as st

from core.config import RunConfig
from core.lm import DEFAULT_MODEL, SECOND_MODEL
from core.names import COMPONENTS, HIERARCHY
from core.present import plots, views
from core.stimuli import builtin_names
from ui import figure, jobs
from ui.page import guarded, runs_going, setup

selection, index = setup("Strata", "Where in a language model's depth each kind of meaning lives.")

st.markdown(
    "Strata probes every layer of a language model with linear classifiers and regressions, "
    "separately for the residual stream entering each block, the attention output and the MLP "
    "output, to find at which depth item properties, two-item relations and four-item "
    "analogies become decodable. It replicates Bogdan (2025, arXiv 2501.07359), who found an "
    "orderly items → relations → analogies hierarchy in Llama-3.2-3B but double peaks and "
    "alternating attention layers in Llama-3.3-70B, and adds the statistics that tell such "
    "shapes from noise: grouped cross-validation, permutation nulls and split-half estimators."
)

going = runs_going() if index.empty else []
if index.empty and going:
    st.info(
        "A run is going (above); its results show here as soon as its first stimulus set is "
        "stored. Follow it on the **Run** page."
    )
    st.page_link("pages/run.py", label="Go to Run", icon=":material/play_circle:")
elif index.empty:
    sets = [s for s in HIERARCHY if s in builtin_names()]
    st.info(
        f"The results database is empty. Run the embedded {DEFAULT_MODEL} on {', '.join(sets)} "
        f"(a few minutes on a laptop), or add {SECOND_MODEL} too for the Compare page; the "
        "runs go on in the background, one model after the other."
    )
    left, right = st.columns(2)
    one = left.button(
        f"Run {DEFAULT_MODEL}", type="primary", icon=":material/play_arrow:", key="run_default"
    )
    both = right.button(
        f"Run {DEFAULT_MODEL} and {SECOND_MODEL}", icon=":material/compare_arrows:", key="run_both"
    )
    if one or both:
        models = [DEFAULT_MODEL, SECOND_MODEL] if both else [DEFAULT_MODEL]
        # one job, set by set and both models in each: the first set's curves show on
        # Home after one model's run, and on Compare after both (not after every set)
        jobs.start([RunConfig(model=m, stimuli=s) for s in sets for m in models])
        st.switch_page("pages/run.py")
else:
    model = selection.model
    data = guarded(
        views.mean_curves,
        None,
        model=model,
        stimulus_sets=[selection.stimulus_set],
        pooling=selection.pooling,
        components=list(COMPONENTS),
    )
    n_targets = int(data["n_targets"].max()) if len(data) else 0
    fig = plots.layer_curves(
        data,
        x="layer",
        color="component",
        **plots.MEAN_CURVE,
        title=f"{model} · {selection.stimulus_set}: mean over its {n_targets} property targets",
        caption=(
            f"Each target's score normalised (0 = chance, dotted line; 1 = perfect) and "
            f"averaged over the {n_targets} property targets, classifiers and regressions "
            "alike (surface controls such as word frequency left out); band: ± SE over "
            "targets.\n" + plots.glossary(COMPONENTS)
        ),
        presentation=selection.presentation,
    )
    figure.show(fig, data, name=f"{model}-{selection.stimulus_set}-mean", key="home")
    runs_going()

st.subheader("What is stored")
status = views.cache_status()
c1, c2, c3 = st.columns(3)
c1.metric("Results (model × set × pooling)", len(index))
c2.metric(
    "Activation caches",
    status["activation_entries"],
    help=f"{status['activation_bytes'] / 1e6:.0f} MB in {status['cache_dir']}",
)
c3.metric(
    "Converted models",
    len(status["converted_models"]),
    help=", ".join(status["converted_models"]) or "none yet",
)
if not index.empty:
    st.dataframe(index.drop(columns=["run_id"]), hide_index=True, width="stretch")
if len(status["activations"]):
    with st.expander("Activation cache entries"):
        st.dataframe(status["activations"], hide_index=True, width="stretch")
