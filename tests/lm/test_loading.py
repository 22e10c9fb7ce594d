"""Loading: the memory check, and a model split over CPU and disk giving the same vectors."""

from __future__ import annotations

import pytest

from core import lm as models
from core.lm import loading
from core.lm.extract import extract
from tests.helpers import assert_close_activations, items_subset


def test_memory_estimate_refuses_a_model_that_cannot_fit(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(loading, "_available_bytes", lambda: 1000)
    with pytest.raises(models.ModelError, match=r"needs about .* GiB .* free"):
        models.load(str(tiny_model_dir("llama")))


@pytest.mark.slow
def test_offload_split_equals_unsplit(smollm2, tmp_path):
    """Half the blocks on disk through accelerate's offload: hooks still see the same."""
    device_map = {"embed_tokens": "cpu", "norm": "cpu", "rotary_emb": "cpu"}
    for layer in range(30):
        device_map[f"layers.{layer}"] = "cpu" if layer < 15 else "disk"
    split = models.load("smollm2-135m", device_map=device_map, offload_folder=tmp_path / "off")
    assert split.info.device_map != "cpu"
    assert any(getattr(m, "_hf_hook", None) is not None for m in split.base.modules())
    stimuli = items_subset(12)
    assert_close_activations(
        extract(split, stimuli, poolings=("mean", "last")),
        extract(smollm2, stimuli, poolings=("mean", "last")),
    )


@pytest.mark.slow
def test_a_gguf_is_parsed_once_and_converts_to_the_same_weights(smollm2, tmp_path, monkeypatch):
    """transformers reads a GGUF twice for the checks before a run (config, tokenizer) and
    three times to convert it (tokenizer, config, weights): within one block, one parse
    serves all five, is let go after the conversion, and the weights come out byte for byte
    as the session's converted copy."""
    import gguf

    from core.embedded import ALIASES
    from core.lm import budget, identify

    parses = []

    class Counting(gguf.GGUFReader):
        def __init__(self, path, mode="r"):
            parses.append(str(path))
            super().__init__(path, mode)

    monkeypatch.setattr(gguf, "GGUFReader", Counting)
    source = ALIASES["smollm2-135m"].locate()
    shared = loading.converted_dir(source)  # made by the smollm2 fixture
    monkeypatch.setenv("STRATA_MODELS", str(tmp_path / "models"))
    budget._read_light.cache_clear()
    with loading.one_gguf_parse():
        light = budget.read_light(identify("smollm2-135m"))
        assert light.directory is None  # not converted yet: read from the GGUF's header
        assert parses == [str(source)]
        converted = loading._converted_gguf(source)
        assert parses == [str(source)]
        # let go once converted (its vocabulary need not stay in memory through the run):
        # a later read within the block parses the file anew
        gguf.GGUFReader(source)
        assert parses == [str(source)] * 2
    budget._read_light.cache_clear()
    assert converted != shared
    assert gguf.GGUFReader is Counting  # put back afterwards
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (converted / name).read_bytes() == (shared / name).read_bytes(), name
