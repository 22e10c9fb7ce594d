"""A run's stages: what is cached is reused, and the model is loaded only when needed."""

from __future__ import annotations

import pytest

from tests.helpers import subset_csv


@pytest.mark.slow
def test_second_run_does_not_load_the_model(tmp_path, monkeypatch):
    from core import pipeline
    from core.config import RunConfig
    from core.probe import ProbeSettings

    csv = subset_csv(tmp_path, n=24)
    config = RunConfig(
        model="smollm2-135m",
        stimuli=str(csv),
        db=str(tmp_path / "r.duckdb"),
        probe=ProbeSettings(permutations=2, half_splits=0, folds=6),
        components=("resid_pre",),
    )
    first = pipeline.run(config)
    assert first.loaded_model and first.probed == ["mean"]

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(pipeline, "load", refuse)
    second = pipeline.run(config)
    assert not second.loaded_model and second.probed == []
    # with the results gone but the activations cached, probing reruns, still no model
    (tmp_path / "r.duckdb").unlink()
    third = pipeline.run(config)
    assert not third.loaded_model and third.probed == ["mean"]


@pytest.mark.slow
def test_item_predictions_are_stored_and_a_resumed_run_stores_the_same_rows(tmp_path):
    """Per-stimulus predictions reach ``item_predictions``; a run that reads its finished
    cells back (a resumed run) writes the same rows as the run that computed them."""
    import shutil

    import pandas as pd

    from core import pipeline
    from core.config import RunConfig
    from core.probe import ProbeSettings
    from core.storage import store

    csv = subset_csv(tmp_path, n=24)
    db = tmp_path / "r.duckdb"
    config = RunConfig(
        model="smollm2-135m",
        stimuli=str(csv),
        db=str(db),
        probe=ProbeSettings(permutations=3, half_splits=0, folds=6),
        components=("resid_pre",),
    )
    pipeline.run(config)
    keys = ["target", "component", "layer", "item_id"]
    first = store.query(db, "item_predictions").sort_values(keys, ignore_index=True)
    n_targets = first["target"].nunique()
    assert len(first) == 24 * n_targets * first["layer"].nunique()
    # every target's surface baselines, one fold score per fold, summarised as probe_scores
    base = store.query(db, "baseline_scores")
    # "The {noun}": the position never varies, so it is no baseline here
    assert set(base["baseline"]) == {"frequency", "length", "tokens", "surface"}
    assert base["target"].nunique() == n_targets and len(base) == 4 * n_targets
    base_folds = store.query(db, "baseline_fold_scores")
    assert len(base_folds) == 6 * len(base)
    means = base_folds.groupby(["target", "baseline"])["score"].mean()
    assert means.reindex(pd.MultiIndex.from_frame(base[["target", "baseline"]])).to_numpy() == (
        pytest.approx(base["score"].to_numpy())
    )
    shutil.move(db, tmp_path / "first.duckdb")
    pipeline.run(config)  # every cell read back from disk
    second = store.query(db, "item_predictions").sort_values(keys, ignore_index=True)
    assert first.equals(second)


def test_a_four_word_set_stores_its_half_poolings_from_one_extraction(tmp_path, tiny_model_dir):
    """``mean`` on analogies also stores ``mean_ab`` and ``mean_cd`` (DESIGN.md contract 7),
    extracted with ``mean`` in one pass: the model is loaded and run once."""
    from core import pipeline
    from core.config import RunConfig
    from core.probe import ProbeSettings
    from core.stimuli import load
    from core.storage import store

    stimuli = load("analogies").subset(range(48))
    frame = stimuli.frame[["item_id", "text", "group", "valid"]].rename(
        columns={"valid": "valid:binary"}
    )
    frame["words"] = stimuli.words()
    csv = tmp_path / "four.csv"
    frame.to_csv(csv, index=False)
    db = tmp_path / "r.duckdb"
    config = RunConfig(
        model=str(tiny_model_dir("llama")),
        stimuli=str(csv),
        db=str(db),
        probe=ProbeSettings(permutations=2, half_splits=0, folds=4),
        components=("resid_pre",),
        jobs=1,
    )
    loads, real_load = [], pipeline.load

    def counted_load(*args, **kwargs):
        loads.append(1)
        return real_load(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "load", counted_load)
        report = pipeline.run(config)
    assert loads == [1]
    assert report.poolings == ("mean", "mean_ab", "mean_cd")
    scores = store.query(db, "probe_scores")
    assert set(scores["pooling"]) == {"mean", "mean_ab", "mean_cd"}
    per = scores.groupby("pooling")["score"].apply(list)
    assert per["mean_ab"] != per["mean"] and per["mean_cd"] != per["mean"]
    # the attention-sink statistics of the set: every layer, norms from the extraction hook
    sinks = store.sink_stats(db)
    assert list(sinks["layer"]) == list(range(3)) and set(sinks["stimulus_set"]) == {"four"}
    assert (sinks["norm_source"] == "extraction").all() and (sinks["n_norm_texts"] == 48).all()
    assert (sinks["n_attn_texts"] == 32).all() and sinks["attn_pos0"].between(0, 1).all()
    # results gone, activations and sink statistics cached: nothing loads the model
    db.unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "load", counted_load)
        again = pipeline.run(config)
    assert loads == [1] and not again.loaded_model
    assert store.sink_stats(db).drop(columns="n_layers").equals(sinks.drop(columns="n_layers"))
