"""Model fingerprints, and the one-line errors for hub ids and damaged GGUFs."""

from __future__ import annotations

import time

import pytest

from core import lm as models


def test_hub_id_absent_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(models.ModelError, match="not in the local Hugging Face cache"):
        models.identify("meta-llama/Llama-3.2-3B-Instruct")
    assert time.monotonic() - started < 10


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
