"""The shared selection (model × stimulus set × pooling) and each page's own, kept in the URL.

Widgets read their defaults from ``st.query_params`` and write back to it, so a view can be
bookmarked or shared and reopens identically; ``st.session_state`` carries the selection
across pages within a session.  The sidebar holds what every page shares (model, stimulus
set, pooling, presentation mode); what only some pages need (the second model, the
components, the matrix component, the paper's bands) is picked on those pages, each under
its own URL key, so one page's slide does not switch the whole app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.lm import DEFAULT_MODEL
from core.names import COMPONENTS, in_set_order
from core.present.views import MEAN
from ui.words import TERMS

KEYS = ("model", "model2", "set", "pooling", "present")


@dataclass(frozen=True)
class Selection:
    model: str | None
    stimulus_set: str | None
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


def _pick(
    label: str,
    options: list[str],
    name: str,
    *,
    allow_none: bool = False,
    default: str | None = None,
    container=st,
    **kw,
):
    current = _param(name)
    choices = ([None] if allow_none else []) + options
    if current not in choices:
        current = default
    index = choices.index(current) if current in choices else 0
    value = container.selectbox(
        label,
        choices,
        index=index if choices else None,
        key=f"w_{name}",
        **{"format_func": lambda v: "—" if v is None else v, **kw},
    )
    _remember(name, value)
    return value


def sidebar(index: pd.DataFrame) -> Selection:
    """Draw the shared picker from what the results database holds.

    The app opens on the embedded default model (:data:`core.lm.DEFAULT_MODEL`) when it
    has results, whatever sorts first.
    """
    with st.sidebar:
        st.markdown("**Selection**")
        models = sorted(index["model"].unique()) if not index.empty else []
        model = _pick("Model", models, "model", default=DEFAULT_MODEL, help="Results of this model")
        sets = in_set_order(index.loc[index["model"] == model, "stimulus_set"]) if model else []
        outdated = (
            set(index.loc[(index["model"] == model) & index["current"].eq(False), "stimulus_set"])
            if model and "current" in index
            else set()
        )
        stimulus_set = _pick(
            "Stimulus set",
            sets,
            "set",
            format_func=lambda v: "—" if v is None else (f"{v} (outdated)" if v in outdated else v),
            help="'(outdated)': computed on an earlier version of the set; rerun it",
        )
        rows = index[(index["model"] == model) & (index["stimulus_set"] == stimulus_set)]
        poolings = sorted(rows["pooling"].unique()) if model else []
        pooling = _pick("Pooling", poolings, "pooling", default="mean", help=TERMS["pooling"])
        present = st.toggle(
            "Presentation mode",
            value=_param("present") == "1",
            key="w_present",
            help="Large fonts (18 pt and up) and thick lines for a projector; downloads are "
            "16:9 slides (PNG 1920 × 1080, SVG 960 × 540) either way",
        )
        _remember("present", "1" if present else None)
    return Selection(model, stimulus_set, pooling, present)


def second_model(
    index: pd.DataFrame,
    first: str | None,
    *,
    label: str = "Compare with",
    container=st,
    pooling: str | None = None,
) -> str | None:
    """A second model for this page (URL key ``model2``, so a shared link keeps it)."""
    rows = index if pooling is None else index[index["pooling"] == pooling]
    others = [m for m in sorted(rows["model"].unique()) if m != first]
    return _pick(
        label,
        others,
        "model2",
        allow_none=True,
        container=container,
        help="A second model, beside the first on relative depth",
    )


def components(
    *,
    key: str,
    container=st,
    default: Sequence[str] = COMPONENTS,
    label: str = "Components",
) -> tuple[str, ...]:
    """This page's components, kept in the URL under ``key``."""
    saved = _param(key)
    chosen = [c for c in (saved or "").split(",") if c in COMPONENTS] if saved else list(default)
    picked = container.multiselect(
        label, list(COMPONENTS), default=chosen, key=f"w_{key}", help=TERMS["components"]
    )
    _remember(key, ",".join(picked) or None)
    return tuple(picked)


def choice(label: str, options: list[str], *, key: str, default: str, container=st, **kw) -> str:
    """A page's single choice, kept in the URL under ``key``."""
    return _pick(label, options, key, default=default, container=container, **kw)


def _on_off(widget, label: str, key: str, default: bool, **kw) -> bool:
    """An on/off widget (``st.toggle``, ``st.checkbox``) kept in the URL under ``key`` as
    ``1``/``0``."""
    saved = _param(key)
    value = widget(label, value=default if saved is None else saved == "1", key=f"w_{key}", **kw)
    _remember(key, "1" if value else "0")
    return value


def toggle(label: str, *, key: str, default: bool = False, container=st, **kw) -> bool:
    """A page's on/off setting, kept in the URL under ``key`` as ``1``/``0``."""
    return _on_off(container.toggle, label, key, default, **kw)


def checkbox(label: str, *, key: str, default: bool = False, container=st, **kw) -> bool:
    """A page's on/off setting as a checkbox, kept in the URL under ``key`` as ``1``/``0``."""
    return _on_off(container.checkbox, label, key, default, **kw)


def show_published(*, help: str, container=st) -> bool:
    """Whether to draw the published layer bands: one setting for every page (URL key
    ``paper``, on by default), with this page's ``help``."""
    return toggle("Published bands", key="paper", default=True, container=container, help=help)


def page_param(name: str, default: str) -> str:
    """A page's own setting, remembered in the URL too."""
    value = _param(name)
    return value if value is not None else default


def set_page_param(name: str, value: str) -> None:
    _remember(name, value)


def pick_curve(targets: list[str], *, key: str, container=st) -> str:
    """One target's curve, or the mean over targets; remembered in the URL under ``key``."""
    options = [MEAN, *targets]
    saved = page_param(key, MEAN)
    choice_ = container.selectbox(
        "Curve",
        options,
        index=options.index(saved) if saved in options else 0,
        help=TERMS["mean curve"],
    )
    set_page_param(key, choice_)
    return choice_
