"""The activation cache: atomic entries, checksums, resumable chunks."""

from __future__ import annotations

import numpy as np

from core.storage.activations import ActivationCache, activation_key


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {c: rng.normal(size=(5, 3, 4)).astype(np.float32) for c in ("resid_pre", "attn_out")}


def test_key_changes_with_everything_that_changes_the_numbers():
    base = dict(model_fingerprint="m", text_hash="t", pooling="mean", store_dtype="float32")
    keys = {activation_key(**base)}
    for field, value in [
        ("model_fingerprint", "m2"),
        ("text_hash", "t2"),
        ("pooling", "last"),
        ("store_dtype", "float16"),
    ]:
        keys.add(activation_key(**{**base, field: value}))
    assert len(keys) == 5


def test_round_trip(tmp_path):
    cache = ActivationCache(tmp_path)
    arrays = _arrays()
    cache.save("k", arrays, {"note": 1})
    entry = cache.load("k")
    assert entry.manifest["note"] == 1
    for c, a in arrays.items():
        np.testing.assert_array_equal(entry.arrays[c], a)
    assert not list(tmp_path.glob(".k.*"))  # no temporary folder left behind


def test_altered_or_truncated_file_is_detected_and_dropped(tmp_path):
    cache = ActivationCache(tmp_path)
    cache.save("k", _arrays(), {})
    file = tmp_path / "k" / "attn_out.npy"
    data = bytearray(file.read_bytes())
    data[-3] ^= 0x01  # one flipped bit in the data
    file.write_bytes(bytes(data))
    assert cache.load("k") is None
    assert not (tmp_path / "k").exists()
    cache.save("k", _arrays(), {})
    file.write_bytes(file.read_bytes()[:-20])
    assert cache.load("k") is None


def test_an_unfinished_entry_is_not_visible(tmp_path):
    cache = ActivationCache(tmp_path)
    half = tmp_path / ".k.unfinished"
    half.mkdir()
    np.save(half / "resid_pre.npy", np.zeros((2, 2, 2)))
    assert cache.load("k") is None and not cache.has("k")


def test_parts_resume_and_damaged_parts_are_dropped(tmp_path):
    cache = ActivationCache(tmp_path)
    cache.save_part("k", 0, np.array([0, 1]), {"resid_pre": np.ones((2, 3, 4))})
    cache.save_part("k", 1, np.array([2]), {"resid_pre": np.zeros((1, 3, 4))})
    part = tmp_path / "k.parts" / "part-00001.npz"
    part.write_bytes(part.read_bytes()[:50])
    parts = cache.load_parts("k")
    assert list(parts) == [0]
    np.testing.assert_array_equal(parts[0][0], [0, 1])
    assert not part.exists()
