"""Error analysis: subgroups split by metadata, and the within-class shuffle test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis.errors import subgroup_columns, subgroup_errors, subgroup_scores, subgroups
from core.errors import StrataError

ALPHA = 0.05


def _row(verdict_name: str, null: str, n: int, fpr: float, power: float, against: str) -> None:
    print(f"\n| {verdict_name} | {null} | {n} | {fpr:.1%} | {power:.0%} | {against} |")


def _simulate(rng, *, n=240, planted: float = 0.0, cells: int = 10):
    """A probe worse on class 1 (30 % vs 10 % wrong); subgroup 'a' rich in class 1.

    ``planted`` adds that much error to the stimuli of subgroup 'b' (balanced classes).
    Returns errors (n, cells), subgroups, classes.
    """
    classes = rng.integers(0, 2, n)
    # subgroup 'a' holds 60 % of class 1 and few of class 0: confounded with class
    sub = np.where(
        classes == 1,
        rng.choice(["a", "b", "c", "d"], n, p=[0.6, 0.15, 0.15, 0.1]),
        rng.choice(["a", "b", "c", "d"], n, p=[0.05, 0.35, 0.35, 0.25]),
    )
    rate = np.where(classes == 1, 0.3, 0.1) + np.where(sub == "b", planted, 0.0)
    # per-stimulus difficulty shared across cells (layers), as in real curves
    item_rate = np.clip(rate + rng.normal(0, 0.05, n), 0, 1)
    errors = (rng.random((n, cells)) < item_rate[:, None]).astype(float)
    return errors, sub, classes


def test_subgroup_errors_calibration_within_class_null():
    """FP: no subgroup is worse beyond its class make-up (but 'a' is class-1 rich, so an
    unconditional shuffle would flag it); power: subgroup 'b' planted 15 points worse."""
    rng = np.random.default_rng(0)
    n_sims = 200
    false_pos = found = 0
    for _ in range(n_sims):
        errors, sub, classes = _simulate(rng)
        table = subgroup_errors(errors, sub, classes, n_shuffles=500, seed=int(rng.integers(1e9)))
        false_pos += bool(table["flagged"].any())
        errors, sub, classes = _simulate(rng, planted=0.15)
        table = subgroup_errors(errors, sub, classes, n_shuffles=500, seed=int(rng.integers(1e9)))
        flagged = set(table.loc[table["flagged"], "subgroup"])
        found += flagged == {"b"}
    fpr, power = false_pos / n_sims, found / n_sims
    _row("subgroup wrong more often", "labels shuffled within class", n_sims, fpr, power, "+15 pt")
    assert fpr <= 0.07
    assert power >= 0.8


def test_an_unconditional_shuffle_would_flag_the_class_rich_subgroup():
    """Why the null keeps classes: with one stratum the class-1-rich subgroup 'a' is flagged."""
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(20):
        errors, sub, _ = _simulate(rng)
        table = subgroup_errors(errors, sub, None, n_shuffles=500)
        hits += "a" in set(table.loc[table["flagged"], "subgroup"])
    assert hits >= 15


def test_p_values_count_the_observed_statistic_and_sizes_are_reported():
    errors = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    sub = ["x"] * 4 + ["y"] * 8
    table = subgroup_errors(errors, sub, n_shuffles=999, seed=3).set_index("subgroup")
    assert table.loc["x", "n"] == 4 and table.loc["y", "n"] == 8
    assert table.loc["x", "error"] == 1.0 and table.loc["x", "error_rest"] == 0.0
    # 'x' all wrong, rest all right: only shuffles putting all four errors in 'x' tie
    # (1 / C(12, 4) = 1/495), so p is near 1/1000 + 1/495, never 0
    assert 0 < table.loc["x", "p_value"] < 0.01
    assert table.loc["y", "p_value"] == 1.0
    assert table.loc["x", "flagged"] and not table.loc["y", "flagged"]


def test_bad_input_is_refused_in_one_line():
    with pytest.raises(StrataError, match="one value per stimulus"):
        subgroup_errors(np.zeros(4), ["a", "b", "a"])
    with pytest.raises(StrataError, match="at least two subgroups"):
        subgroup_errors(np.zeros(4), ["a"] * 4)


def test_numeric_columns_become_terciles_and_ids_are_not_subgroups():
    zipf = pd.Series(np.linspace(1, 7, 30))
    bins = subgroups(zipf)
    assert bins.nunique() == 3 and bins.str.startswith("low").sum() == 10
    frame = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(30)],
            "meta_zipf": zipf,
            "meta_synset": [f"s{k}" for k in range(30)],
            "meta_const": ["x"] * 30,
            "relation": ["is_a", "part_of", "none"] * 10,
        }
    )
    assert subgroup_columns(frame) == ["meta_zipf", "relation"]
    assert subgroup_columns(frame, exclude=["relation"]) == ["meta_zipf"]


def test_subgroup_scores_are_accuracy_with_binomial_se():
    rows = pd.DataFrame(
        {
            "subgroup": ["a"] * 4 + ["b"] * 4,
            "component": "resid_pre",
            "layer": 0,
            "correct": [True, True, True, False, True, False, False, False],
        }
    )
    rows["error"] = 1.0 - rows["correct"]
    out = subgroup_scores(rows).set_index("subgroup")
    assert out.loc["a", "score"] == 0.75 and out.loc["b", "score"] == 0.25
    assert out.loc["a", "score_se"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
