"""The same activations whatever runs the model: split over devices, or traced by nnsight."""

from __future__ import annotations

import pytest

from core import lm as models
from core.lm.extract import extract
from tests.helpers import assert_close_activations, items_subset


@pytest.mark.slow
def test_nnsight_local_equals_plain_hooks(smollm2):
    pytest.importorskip("nnsight")
    stimuli = items_subset(12)
    traced = extract(smollm2, stimuli, poolings=("mean", "last"), backend="nnsight", max_batch=5)
    plain = extract(smollm2, stimuli, poolings=("mean", "last"))
    assert_close_activations(traced, plain, rtol=1e-5)


@pytest.mark.slow
def test_nnsight_on_gemma_reads_the_post_norms(gemma3):
    pytest.importorskip("nnsight")
    stimuli = items_subset(6)
    assert_close_activations(
        extract(gemma3, stimuli, poolings=("last",), backend="nnsight"),
        extract(gemma3, stimuli, poolings=("last",)),
        rtol=1e-5,
    )


def test_remote_without_a_key_fails_clearly(monkeypatch):
    pytest.importorskip("nnsight")
    from core.lm.nnsight_backend import load_remote

    monkeypatch.delenv("NDIF_API_KEY", raising=False)
    with pytest.raises(models.ModelError, match="needs an API key"):
        load_remote("meta-llama/Llama-3.3-70B-Instruct")
    monkeypatch.setenv("NDIF_API_KEY", "not-a-real-key")
    with pytest.raises(models.ModelError, match="cannot reach NDIF"):
        load_remote("meta-llama/Llama-3.3-70B-Instruct")
