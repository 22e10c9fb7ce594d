"""Half-stimulus poolings: the tokens of some target words, from the same forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import RunConfig, run_poolings
from core.errors import ConfigError
from core.lm import extract, load
from core.stimuli import load as load_stimuli
from core.stimuli import validate


def _with_words(stimuli, keep: tuple[int, ...], name: str):
    """The same texts with only the kept target words (as explicit spans): an upload-like set."""
    frame = stimuli.frame[["item_id", "text", "group"]].copy()
    frame["spans"] = [";".join(f"{s[k][0]}:{s[k][1]}" for k in keep) for s in stimuli.spans]
    frame["label:binary"] = stimuli.frame[next(iter(stimuli.targets))].astype(str)
    return validate(frame, name=name, n_folds=2)


@pytest.fixture(scope="module")
def tiny_llama(tiny_model_dir):
    return load(str(tiny_model_dir("llama")))


@pytest.mark.parametrize(
    ("set_name", "halves"),
    [
        ("analogies", {"mean_ab": (0, 1), "mean_cd": (2, 3)}),
        ("pairs", {"mean_x": (0,), "mean_y": (1,)}),
    ],
)
def test_halves_equal_a_run_with_those_words_only(tiny_llama, set_name, halves):
    stimuli = load_stimuli(set_name).subset(range(0, 80, 5))
    calls = []
    base = tiny_llama.base
    original = base.forward

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    base.forward = counted
    try:
        both = extract(tiny_llama, stimuli, poolings=("mean", *halves), max_batch=4)
        n_with_halves = len(calls)
        calls.clear()
        extract(tiny_llama, stimuli, poolings=("mean",), max_batch=4)
        assert n_with_halves == len(calls) == 4  # no second forward pass for the halves
    finally:
        del base.forward
    for pooling, keep in halves.items():
        alone = extract(tiny_llama, _with_words(stimuli, keep, pooling), poolings=("mean",))
        for component, values in alone["mean"].items():
            np.testing.assert_allclose(both[pooling][component], values, rtol=1e-5, atol=1e-5)
        # and the half is not the full mean
        assert not np.allclose(both[pooling]["resid_pre"], both["mean"]["resid_pre"])


def test_run_poolings_adds_halves_by_default_and_refuses_wrong_sets():
    analogies, pairs, items = (load_stimuli(n) for n in ("analogies", "pairs", "items"))
    assert run_poolings(("mean",), analogies) == ("mean", "mean_ab", "mean_cd")
    assert run_poolings(("mean", "last"), pairs) == ("mean", "last", "mean_x", "mean_y")
    assert run_poolings(("mean",), items) == ("mean",)
    assert run_poolings(("last",), analogies) == ("last",)
    assert run_poolings(("mean_cd",), analogies) == ("mean_cd",)
    with pytest.raises(
        ConfigError, match=r"pooling 'mean_ab' needs 4 target words per row.*'pairs' has 2"
    ):
        run_poolings(("mean_ab",), pairs)
    with pytest.raises(ConfigError, match=r"'mean_x' needs 2 .*'items' has 1"):
        run_poolings(("mean", "mean_x"), items)
    RunConfig(model="m", stimuli="pairs", poolings=("mean_x",))  # a known pooling name


def test_prepare_refuses_a_half_pooling_on_the_wrong_set_before_any_work(tmp_path):
    from core import pipeline

    config = RunConfig(
        model="smollm2-135m", stimuli="items", poolings=("mean_ab",), db=str(tmp_path / "r.duckdb")
    )
    with pytest.raises(ConfigError, match="needs 4 target words"):
        pipeline.prepare(config)
    assert not (tmp_path / "r.duckdb").exists()
