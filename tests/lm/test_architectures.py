"""Hooks in the right place for every architecture in the table: components add up."""

from __future__ import annotations

import numpy as np
import pytest

from core import lm as models
from core.lm.architectures import ARCHITECTURES
from core.lm.extract import extract
from tests.helpers import tiny_stimuli


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "gemma3_text", "gpt2"])
def test_components_add_up_to_the_residual_stream(tiny_model_dir, model_type):
    """resid_pre[l+1] = resid_pre[l] + attn_out[l] + mlp_out[l]: hooks in the right place."""
    model = models.load(str(tiny_model_dir(model_type)))
    assert model.info.architecture == model_type
    assert model.info.n_layers == 3
    acts = extract(model, tiny_stimuli(), poolings=("last",))["last"]
    lhs = acts["resid_pre"][:, 1:]
    rhs = acts["resid_pre"][:, :-1] + acts["attn_out"][:, :-1] + acts["mlp_out"][:, :-1]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-4 * np.abs(lhs).max())
    # the sublayers add something, and the components differ from each other
    assert np.abs(acts["attn_out"]).max() > 0 and np.abs(acts["mlp_out"]).max() > 0
    assert not np.allclose(acts["attn_out"], acts["mlp_out"])


def test_layout_table_names_each_tested_architecture():
    for model_type in ("llama", "qwen2", "gemma3_text", "gpt2"):
        assert model_type in ARCHITECTURES
    assert ARCHITECTURES["gemma3_text"].attn_out == "post_attention_layernorm"
