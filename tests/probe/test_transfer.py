"""Transfer between sets: a set to itself gives back its own CV scores; linked stimuli are
never predicted by a model that saw their group; bad requests are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import StrataError
from core.probe import ProbeSettings
from core.probe.folds import outer_folds
from core.probe.grid import probe_grid
from core.probe.transfer import assign_test_folds, shared_targets, transfer
from core.stimuli import load

SETTINGS = ProbeSettings(permutations=0, half_splits=0)


def _acts(stimuli, rng, *, n_layers=3, d=10, shift=0):
    """``related`` readable along feature 0 from layer ``1 + shift`` on."""
    y = stimuli.labels("related") * 2.0 - 1
    X = rng.normal(size=(len(stimuli), n_layers, d))
    for layer in range(1 + shift, n_layers):
        X[:, layer, 0] += 1.5 * y
    return {"resid_pre": X.astype(np.float32)}


@pytest.fixture(scope="module")
def pairs():
    return load("pairs")


def test_a_set_transferred_to_itself_gives_its_cross_validated_scores(pairs):
    rng = np.random.default_rng(0)
    acts = _acts(pairs, rng)
    within = probe_grid(acts, pairs, SETTINGS).fold_scores
    within = within.groupby(["target", "layer", "metric"])["score"].mean()
    got = transfer(acts, acts, pairs, pairs, settings=SETTINGS, target=None)
    diag = got[got["train_layer"] == got["test_layer"]].set_index(
        ["target", "train_layer", "metric"]
    )
    for (target, layer, metric), score in within.items():
        assert diag.loc[(target, layer, metric), "score"] == pytest.approx(score, abs=1e-9)


def test_linked_stimuli_are_predicted_by_the_fold_that_held_their_group_out(pairs):
    buried = load("buried")
    fold = outer_folds(pairs.groups, n_folds=6, seed=0)
    model, scored = assign_test_folds(pairs, buried, fold, settings=SETTINGS)
    group_fold = dict(zip(pairs.groups, fold))
    assert (model == [group_fold[g] for g in buried.groups]).all()
    assert (scored == model).all()
    # a set with other groups and items: one model trained on all of A, B's own folds
    other = buried.subset(range(len(buried)))
    frame = other.frame.assign(
        group=["x" + g for g in other.frame["group"]],
        item_id=["x" + i for i in other.frame["item_id"]],
    )
    other = type(other)(name="other", frame=frame, targets=other.targets, spans=other.spans)
    model, scored = assign_test_folds(pairs, other, fold, settings=SETTINGS)
    assert (model == -1).all() and set(scored) == set(range(6))


def test_the_matrix_reads_the_signal_where_it_is_and_chance_elsewhere(pairs):
    rng = np.random.default_rng(1)
    # in B the signal arrives one layer later: trained at layer 1, read at layer 2 only
    a, b = _acts(pairs, rng, n_layers=3), _acts(pairs, rng, n_layers=3, shift=1)
    got = transfer(a, b, pairs, pairs, settings=SETTINGS, target="related")
    primary = got[got["is_primary"]].set_index(["train_layer", "test_layer"])["score"]
    assert len(primary) == 9
    assert primary[(1, 2)] > 0.85 and primary[(2, 2)] > 0.85
    assert abs(primary[(1, 1)] - 0.5) < 0.12 and abs(primary[(0, 2)] - 0.5) < 0.12


def test_bad_transfer_requests_are_refused_in_one_line(pairs):
    items = load("items")
    with pytest.raises(StrataError, match="share no target"):
        shared_targets(pairs, items)
    with pytest.raises(StrataError, match="not shared"):
        shared_targets(pairs, load("buried"), "valid")
    acts = _acts(pairs, np.random.default_rng(2))
    short = {"resid_pre": acts["resid_pre"][:, :2]}
    with pytest.raises(StrataError, match="differ in layers"):
        transfer(acts, short, pairs, pairs, settings=SETTINGS)
    with pytest.raises(StrataError, match="matrix component"):
        transfer(acts, acts, pairs, pairs, settings=SETTINGS, matrix_component="mlp_out")
