"""Attention-sink statistics: the norm ratio in the extraction hook, attention in an eager pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.lm import extract, load, plan_tokens
from core.lm.sinks import attention_pass, norm_ratios, sink_rows
from tests.helpers import tiny_stimuli


@pytest.fixture(scope="module")
def tiny_llama(tiny_model_dir):
    return load(str(tiny_model_dir("llama")))


def test_norm_ratio_is_first_token_over_median_of_the_real_others():
    hidden = torch.zeros((2, 4, 3))
    hidden[0, :, 0] = torch.tensor([10.0, 1.0, 2.0, 3.0])
    hidden[1, :, 0] = torch.tensor([6.0, 3.0, 99.0, 99.0])  # positions 2, 3 are padding
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    np.testing.assert_allclose(norm_ratios(hidden, mask), [5.0, 2.0])
    one = norm_ratios(torch.ones((1, 1, 3)), torch.ones((1, 1)))
    assert np.isnan(one).all()


def test_sink_rows_are_fixed_and_spread():
    assert list(sink_rows(5, 32)) == [0, 1, 2, 3, 4]
    rows = sink_rows(460, 32)
    assert len(rows) == 32 and rows[0] == 0 and rows[-1] == 459
    assert np.array_equal(rows, sink_rows(460, 32))


def test_hook_norms_equal_the_attention_pass_and_batching_changes_nothing(tiny_llama):
    stimuli = tiny_stimuli()
    plan = plan_tokens(tiny_llama.tokenizer, stimuli)
    seen = {}
    extract(
        tiny_llama,
        stimuli,
        plan=plan,
        max_batch=5,
        on_norms=lambda rows, ratios: seen.update(zip(rows.tolist(), ratios)),
    )
    assert sorted(seen) == list(range(len(stimuli)))
    n_layers = tiny_llama.info.n_layers
    assert all(r.shape == (n_layers,) for r in seen.values())
    batched = attention_pass(tiny_llama, plan.input_ids, max_batch=5)
    assert list(batched.columns) == ["layer", "norm_ratio", "attn_pos0", "n_texts"]
    hook = np.median(np.stack([seen[i] for i in range(len(stimuli))]), axis=0)
    np.testing.assert_allclose(batched["norm_ratio"], hook, rtol=1e-4)
    single = [attention_pass(tiny_llama, [ids]) for ids in plan.input_ids]
    mass = np.mean([s["attn_pos0"].to_numpy() for s in single], axis=0)
    np.testing.assert_allclose(batched["attn_pos0"], mass, rtol=1e-5, atol=1e-6)
    assert ((batched["attn_pos0"] > 0) & (batched["attn_pos0"] < 1)).all()
    # the model's attention is back to what it was
    assert tiny_llama.base.config._attn_implementation != "eager"


def test_attention_mass_matches_a_manual_eager_forward(tiny_llama):
    ids = plan_tokens(tiny_llama.tokenizer, tiny_stimuli()).input_ids[:3]
    stats = attention_pass(tiny_llama, ids)
    base = tiny_llama.base
    previous = base.config._attn_implementation
    base.set_attn_implementation("eager")
    try:
        expected = []
        for tokens in ids:
            with torch.inference_mode():
                out = base(input_ids=torch.tensor([tokens]), output_attentions=True)
            expected.append([a[0, :, 1:, 0].mean().item() for a in out.attentions])
    finally:
        base.set_attn_implementation(previous)
    np.testing.assert_allclose(stats["attn_pos0"], np.mean(expected, axis=0), rtol=1e-5)
