"""The shared names, pinned: other tools and stored results depend on them and their order."""

from __future__ import annotations

from core.names import COMPONENTS, HIERARCHY, SET_ORDER, in_set_order


def test_components_are_pinned_in_the_order_they_run():
    assert COMPONENTS == ("resid_pre", "attn_out", "mlp_out")


def test_sets_are_listed_paper_first_then_naturally():
    assert SET_ORDER == ("items", "pairs", "analogies", "buried")
    assert HIERARCHY == ("items", "pairs", "analogies")
    names = ["buried-100", "mine", "pairs", "buried-25", "items", "buried"]
    assert in_set_order(names) == ["items", "pairs", "buried", "buried-25", "buried-100", "mine"]
