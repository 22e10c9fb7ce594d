"""Extraction on the real models: hook placement, pooling, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.lm import extract
from tests.helpers import items_subset


@pytest.mark.slow
def test_smollm2_batched_equals_one_at_a_time(smollm2):
    stimuli = items_subset(24)
    batched = extract(smollm2, stimuli, poolings=("mean", "last"), max_batch=16)
    single = extract(smollm2, stimuli, poolings=("mean", "last"), max_batch=1)
    for pooling in batched:
        for component, values in batched[pooling].items():
            ref = single[pooling][component]
            rel = np.abs(values - ref).max() / np.abs(ref).max()
            assert rel < 1e-4, (pooling, component, rel)


@pytest.mark.slow
def test_smollm2_components_match_hugging_face(smollm2):
    """resid_pre[l] is HF's hidden_states[l]; the three components add up exactly."""
    stimuli = items_subset(8)
    acts = extract(smollm2, stimuli, poolings=("last",))["last"]
    assert acts["resid_pre"].shape == (8, 30, 576)
    lhs = acts["resid_pre"][:, 1:]
    rhs = acts["resid_pre"][:, :-1] + acts["attn_out"][:, :-1] + acts["mlp_out"][:, :-1]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-4)
    ids = smollm2.tokenizer(stimuli.texts[0], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        hidden = smollm2.base(input_ids=ids, output_hidden_states=True).hidden_states
    for layer in (0, 7, 29):
        np.testing.assert_allclose(
            acts["resid_pre"][0, layer], hidden[layer][0, -1].numpy(), rtol=1e-4, atol=1e-4
        )
    # hidden_states[-1] is after the final norm: not resid_pre of anything
    post = acts["resid_pre"][0, 29] + acts["attn_out"][0, 29] + acts["mlp_out"][0, 29]
    assert not np.allclose(post, hidden[-1][0, -1].numpy(), atol=1e-2)


@pytest.mark.slow
def test_only_the_base_model_runs(smollm2):
    assert not hasattr(smollm2.base, "lm_head")
    assert type(smollm2.base).__name__ == "LlamaModel"


@pytest.mark.slow
def test_gemma3_components_add_up_and_batch(gemma3):
    """Gemma's post-norms: hooks take what is added to the residual, after the norm."""
    assert gemma3.info.n_layers == 18 and gemma3.info.d_model == 640
    stimuli = items_subset(12)
    acts = extract(gemma3, stimuli, poolings=("last",), max_batch=8)["last"]
    lhs = acts["resid_pre"][:, 1:]
    rhs = acts["resid_pre"][:, :-1] + acts["attn_out"][:, :-1] + acts["mlp_out"][:, :-1]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-3)
    single = extract(gemma3, stimuli, poolings=("last",), max_batch=1)["last"]
    for component in acts:
        ref = single[component]
        assert np.abs(acts[component] - ref).max() / np.abs(ref).max() < 1e-4


@pytest.mark.slow
def test_buried_pair_tokens_equal_the_pairs_set(smollm2):
    """A causal model's pair tokens never see the filler after them (padding/position check)."""
    from core.stimuli import load

    rows = list(range(0, 320, 40))
    pairs, buried = load("pairs").subset(rows), load("buried").subset(rows)
    assert all(b.startswith(p) for p, b in zip(pairs.texts, buried.texts))
    plain = extract(smollm2, pairs, poolings=("mean",))["mean"]
    behind = extract(smollm2, buried, poolings=("mean", "last"), max_batch=4)
    for component, values in plain.items():
        ref = behind["mean"][component]
        assert np.abs(values - ref).max() / np.abs(values).max() < 1e-4, component
    assert not np.allclose(behind["last"]["resid_pre"], behind["mean"]["resid_pre"])
