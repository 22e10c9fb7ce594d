"""The same activations whatever runs the model: split over devices, or traced by nnsight."""

from __future__ import annotations

import numpy as np
import pytest

from core import models
from core.extract import extract
from tests.helpers import items_subset

pytestmark = pytest.mark.slow


def _close(a: dict, b: dict, rtol=1e-4) -> None:
    for pooling in a:
        for component, values in a[pooling].items():
            ref = b[pooling][component]
            rel = np.abs(values - ref).max() / np.abs(ref).max()
            assert rel < rtol, (pooling, component, rel)


def test_offload_split_equals_unsplit(smollm2, tmp_path):
    """Half the blocks on disk through accelerate's offload: hooks still see the same."""
    device_map = {"embed_tokens": "cpu", "norm": "cpu", "rotary_emb": "cpu"}
    for layer in range(30):
        device_map[f"layers.{layer}"] = "cpu" if layer < 15 else "disk"
    split = models.load("smollm2-135m", device_map=device_map, offload_folder=tmp_path / "off")
    assert split.info.device_map != "cpu"
    assert any(getattr(m, "_hf_hook", None) is not None for m in split.base.modules())
    stimuli = items_subset(12)
    _close(
        extract(split, stimuli, poolings=("mean", "last")),
        extract(smollm2, stimuli, poolings=("mean", "last")),
    )


def test_nnsight_local_equals_plain_hooks(smollm2):
    pytest.importorskip("nnsight")
    stimuli = items_subset(12)
    traced = extract(smollm2, stimuli, poolings=("mean", "last"), backend="nnsight", max_batch=5)
    _close(traced, extract(smollm2, stimuli, poolings=("mean", "last")), rtol=1e-5)


def test_nnsight_on_gemma_reads_the_post_norms(gemma3):
    pytest.importorskip("nnsight")
    stimuli = items_subset(6)
    _close(
        extract(gemma3, stimuli, poolings=("last",), backend="nnsight"),
        extract(gemma3, stimuli, poolings=("last",)),
        rtol=1e-5,
    )


def test_remote_without_a_key_fails_clearly(monkeypatch):
    pytest.importorskip("nnsight")
    from core.nnsight_backend import load_remote

    monkeypatch.delenv("NDIF_API_KEY", raising=False)
    with pytest.raises(models.ModelError, match="needs an API key"):
        load_remote("meta-llama/Llama-3.3-70B-Instruct")
    monkeypatch.setenv("NDIF_API_KEY", "not-a-real-key")
    with pytest.raises(models.ModelError, match="cannot reach NDIF"):
        load_remote("meta-llama/Llama-3.3-70B-Instruct")
