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
