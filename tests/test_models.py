"""Model names, fingerprints, architectures and the errors a user sees."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core import models
from core.extract import extract
from tests.helpers import tiny_stimuli


def test_aliases_include_the_two_embedded_models():
    assert {"smollm2-135m", "gemma3-270m"} <= set(models.ALIASES)
    assert models.DEFAULT_MODEL == "smollm2-135m"


@pytest.mark.parametrize(
    "name, message",
    [
        ("no-such-model", "unknown model 'no-such-model'"),
        ("./missing/dir", "is not a directory with config.json"),
        ("/tmp/definitely-missing.gguf", "does not exist"),
    ],
)
def test_unknown_names_fail_with_one_clear_line(name, message):
    with pytest.raises(models.ModelError, match=message):
        models.resolve(name)


def test_hub_id_absent_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(models.ModelError, match="not in the local Hugging Face cache"):
        models.identify("meta-llama/Llama-3.2-3B-Instruct")
    assert time.monotonic() - started < 10


def test_directory_without_config_is_refused(tmp_path):
    with pytest.raises(models.ModelError, match=r"has no config\.json"):
        models.resolve(str(tmp_path))


def test_corrupt_gguf_is_refused(tmp_path):
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"not a gguf at all" * 100)
    with pytest.raises(models.ModelError, match="is not a GGUF file"):
        models.identify(str(fake))
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 10)
    with pytest.raises(models.ModelError, match="cannot read GGUF file"):
        models.load(str(truncated))


def test_fingerprint_tracks_weights_and_dtype_not_name(tiny_model_dir, tmp_path):
    import shutil

    path = tiny_model_dir("llama")
    a = models.identify(str(path))
    b = models.identify(str(path), dtype="bfloat16")
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    c = models.identify(str(copy))
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == c.fingerprint  # same weights under another path and name
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert models.identify(str(copy)).fingerprint != a.fingerprint


def test_memory_estimate_refuses_a_model_that_cannot_fit(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(models, "_available_bytes", lambda: 1000)
    with pytest.raises(models.ModelError, match=r"needs about .* GiB .* free"):
        models.load(str(tiny_model_dir("llama")))


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
        assert model_type in models.ARCHITECTURES
    assert models.ARCHITECTURES["gemma3_text"].attn_out == "post_attention_layernorm"
