"""The shared selection (model × stimulus set × component × pooling), kept in the URL.

Widgets read their defaults from ``st.query_params`` and write back to it, so a view can be
bookmarked or shared and reopens identically; ``st.session_state`` carries the selection
across pages within a session.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.names import COMPONENTS, in_set_order

KEYS = ("model", "model2", "set", "component", "pooling", "present")


@dataclass(frozen=True)
class Selection:
    model: str | None
    model2: str | None
    stimulus_set: str | None
    components: tuple[str, ...]
    pooling: str | None
    presentation: bool


def _param(name: str) -> str | None:
    if name in st.session_state.get("_strata_sel", {}):
        return st.session_state["_strata_sel"][name]
    value = st.query_params.get(name)
    return value if value else None


def _remember(name: str, value: str | None) -> None:
    st.session_state.setdefault("_strata_sel", {})[name] = value
    if value:
        st.query_params[name] = value
    elif name in st.query_params:
        del st.query_params[name]


def _pick(label: str, options: list[str], name: str, *, allow_none: bool = False, **kw):
    current = _param(name)
    choices = ([None] if allow_none else []) + options
    index = choices.index(current) if current in choices else 0
    value = st.selectbox(
        label,
        choices,
        index=index if choices else None,
        key=f"w_{name}",
        format_func=lambda v: "—" if v is None else v,
        **kw,
    )
    _remember(name, value)
    return value


def sidebar(index: pd.DataFrame) -> Selection:
    """Draw the shared picker from what the results database holds."""
    with st.sidebar:
        st.markdown("**Selection**")
        models = sorted(index["model"].unique()) if not index.empty else []
        model = _pick("Model", models, "model", help="Results of this model")
        others = [m for m in models if m != model]
        model2 = _pick(
            "Second model (compare)",
            others,
            "model2",
            allow_none=True,
            help="Shown beside the first on the Compare page",
        )
        sets = in_set_order(index.loc[index["model"] == model, "stimulus_set"]) if model else []
        stimulus_set = _pick("Stimulus set", sets, "set")
        poolings = (
            sorted(
                index.loc[
                    (index["model"] == model) & (index["stimulus_set"] == stimulus_set), "pooling"
                ].unique()
            )
            if model
            else []
        )
        pooling = _pick(
            "Pooling", poolings, "pooling", help="mean: target words; last: final token"
        )
        saved = _param("component")
        default = [c for c in (saved or "").split(",") if c in COMPONENTS] or list(COMPONENTS)
        components = st.multiselect(
            "Components", list(COMPONENTS), default=default, key="w_component"
        )
        _remember("component", ",".join(components))
        present = st.toggle(
            "Presentation mode",
            value=_param("present") == "1",
            key="w_present",
            help="Large fonts and lines for a projector",
        )
        _remember("present", "1" if present else None)
    return Selection(model, model2, stimulus_set, tuple(components), pooling, present)


def page_param(name: str, default: str) -> str:
    """A page's own setting, remembered in the URL too."""
    value = _param(name)
    return value if value is not None else default


def set_page_param(name: str, value: str) -> None:
    _remember(name, value)


MEAN = "mean over targets"


def pick_curve(targets: list[str], *, key: str, container=st) -> str:
    """One target's curve, or the mean over targets; remembered in the URL under ``key``."""
    options = [MEAN, *targets]
    saved = page_param(key, MEAN)
    choice = container.selectbox(
        "Curve", options, index=options.index(saved) if saved in options else 0
    )
    set_page_param(key, choice)
    return choice
