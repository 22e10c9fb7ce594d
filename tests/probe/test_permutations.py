"""The permutation null breaks the label-stimulus link in every design, and keeps the groups.

Each test prints what it measured (run with ``-s`` to see it): the mean correlation of
permuted with true labels over 100 draws, and the null's mean against chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.probe import ProbeSettings, label_permutations
from core.probe.grid import make_plan, probe_cell
from core.stimuli import builtin_names, load, validate

N_PERM = 100


def mean_correlation(labels: np.ndarray, perms: np.ndarray, *, classes: bool) -> float:
    """Mean over draws of corr(permuted, true); for classes, averaged over one-hot columns."""
    if classes:
        columns = [(labels == c).astype(float) for c in np.unique(labels)]
    else:
        columns = [labels.astype(float)]
    values = []
    for column in columns:
        for perm in perms:
            moved = column[perm]
            if moved.std() > 0 and column.std() > 0:
                values.append(np.corrcoef(moved, column)[0, 1])
    return float(np.mean(values))


def test_draws_move_labels_between_groups_and_within_them():
    groups = np.array(list("aabbbccdddee"))
    perms = label_permutations(groups, n_permutations=50, seed=0)
    assert perms.shape == (50, len(groups))
    assert np.array_equal(perms, label_permutations(groups, n_permutations=50, seed=0))
    for perm in perms:
        for g in np.unique(groups):
            sources = groups[perm[groups == g]]
            assert len(set(sources)) == 1  # one source group per group
    # equal-size groups: every draw is an exact permutation of the rows
    equal = np.repeat(np.arange(10), 4)
    for perm in label_permutations(equal, n_permutations=20, seed=1):
        assert sorted(perm) == list(range(len(equal)))
    # rows inside a group are shuffled too (else balanced pools never change)
    draws = label_permutations(equal, n_permutations=20)
    assert any(list(perm[:4]) != sorted(perm[:4]) for perm in draws)


@pytest.mark.parametrize("name", builtin_names())
def test_permuted_labels_are_uncorrelated_with_the_truth_in_every_builtin_set(name):
    stimuli = load(name)
    perms = label_permutations(stimuli.groups, n_permutations=N_PERM, seed=1)
    for target, kind in stimuli.targets.items():
        r = mean_correlation(stimuli.labels(target), perms, classes=kind != "continuous")
        print(f"{name:>10} {target:>26} ({kind}): mean r over {N_PERM} draws = {r:+.4f}")
        assert abs(r) < 0.05


def planted(design: str, *, n_groups: int = 60, seed: int = 0) -> pd.DataFrame:
    """Labels of three designs: constant within groups, balanced within groups, mixed.

    Group sizes vary in the constant and mixed designs (2 to 6 rows), as in uploads.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        if design == "balanced":
            labels = rng.permutation([0, 0, 1, 1])
            ratings = rng.normal(g % 3, 1.0, 4)  # group means differ: a between-group part
        elif design == "constant" or (design == "mixed" and g % 2 == 0):
            size = int(rng.integers(2, 7))
            labels = np.full(size, g % 2)
            ratings = np.full(size, rng.normal())
        else:
            size = int(rng.integers(2, 4)) * 2
            labels = rng.permutation([0, 1] * (size // 2))
            ratings = rng.normal(1.0, 1.0, size)
        for label, rating in zip(labels, ratings):
            rows.append({"group": f"g{g}", "label": int(label), "rating": float(rating)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("design", ["constant", "balanced", "mixed"])
def test_permuted_labels_are_uncorrelated_in_planted_designs(design):
    frame = planted(design)
    perms = label_permutations(frame["group"].to_numpy(), n_permutations=N_PERM, seed=3)
    for column, classes in (("label", True), ("rating", False)):
        r = mean_correlation(frame[column].to_numpy(), perms, classes=classes)
        print(f"{design:>9} {column:>6}: mean r over {N_PERM} draws = {r:+.4f}")
        assert abs(r) < 0.05


def planted_stimuli(design: str, *, seed: int = 0, d: int = 40):
    """A stimulus set of a planted design and activations that decode both labels."""
    frame = planted(design, seed=seed)
    rng = np.random.default_rng(seed + 10)
    n = len(frame)
    group_effect = rng.normal(size=(frame["group"].nunique(), d))
    codes = frame["group"].astype("category").cat.codes.to_numpy()
    X = 0.8 * group_effect[codes] + rng.normal(size=(n, d))
    X[:, 0] += 3.0 * frame["label"].to_numpy()
    X[:, 1] += 2.0 * frame["rating"].to_numpy()
    stimuli = validate(
        pd.DataFrame(
            {
                "item_id": [f"i{i}" for i in range(n)],
                "text": [f"item {i}" for i in range(n)],
                "group": frame["group"],
                "label:binary": frame["label"].astype(str),
                "rating:continuous": frame["rating"].astype(str),
            }
        ),
        name=f"planted-{design}",
    )
    return stimuli, X.astype(np.float32)


@pytest.mark.parametrize("design", ["constant", "balanced", "mixed"])
def test_the_null_sits_at_chance_while_the_real_score_does_not(design):
    stimuli, X = planted_stimuli(design)
    plan = make_plan(stimuli, ProbeSettings(permutations=N_PERM, half_splits=0))
    cell = probe_cell(X, plan)["full"]
    svm, ridge = cell["label"], cell["rating"]
    real_acc = svm["folds"]["balanced_accuracy"].mean()
    real_r = ridge["folds"]["pearson_r"].mean()
    null_acc, null_r = np.nanmean(svm["null"]), np.nanmean(ridge["null"])
    print(
        f"{design:>9}: SVM balanced accuracy {real_acc:.3f}, null mean {null_acc:.3f} "
        f"(chance 0.5); ridge r {real_r:.3f}, null mean {null_r:+.3f} (chance 0)"
    )
    assert abs(null_acc - 0.5) < 0.03 and real_acc > 0.75
    assert abs(null_r) < 0.06 and real_r > 0.5
    # p-values at their floor: no permutation reaches the real score
    assert (svm["null"] < real_acc).all() and (ridge["null"] < real_r).all()
