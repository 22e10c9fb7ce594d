"""Shared fixtures: an isolated cache per test, converted models shared per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Converted models are expensive (SmolLM2 ~40 s, Gemma ~100 s): keep them in the project's
# cache across tests and runs, while everything else goes to a temporary cache per test.
os.environ.setdefault("STRATA_MODELS", str(ROOT / "cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("STRATA_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def smollm2():
    """The real SmolLM2-135M, loaded once (converted from its GGUF on first use)."""
    from core import lm as models

    return models.load("smollm2-135m")


@pytest.fixture(scope="session")
def gemma3():
    from core import lm as models

    return models.load("gemma3-270m")


@pytest.fixture(scope="session")
def smol_tokenizer():
    """SmolLM2's fast tokenizer alone: from the converted model when there is one, else read
    from the GGUF (a few seconds), so the fast tier never dequantises the weights."""
    from transformers import AutoTokenizer

    from core.embedded import ALIASES

    gguf = ALIASES["smollm2-135m"].locate()
    converted = [p for p in models_dir_glob(gguf.stem) if (p / "tokenizer.json").is_file()]
    if converted:
        return AutoTokenizer.from_pretrained(converted[0])
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def models_dir_glob(stem: str) -> list[Path]:
    from core.paths import models_dir

    return sorted(models_dir().glob(f"{stem}-*"))


@pytest.fixture(scope="session")
def smol_tokenizer_dir(smol_tokenizer, tmp_path_factory):
    """A directory holding SmolLM2's fast tokenizer, for tiny random models."""
    path = tmp_path_factory.mktemp("tokenizer")
    smol_tokenizer.save_pretrained(path)
    return path


# Llama and Qwen2 share one shape: grouped-query attention, 2 key/value heads for 4.
_GQA = dict(
    hidden_size=32,
    intermediate_size=64,
    num_attention_heads=4,
    num_key_value_heads=2,
    num_hidden_layers=3,
)
TINY = {
    "llama": _GQA,
    "qwen2": _GQA,
    "gemma3_text": dict(
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=4,
        num_key_value_heads=1,
        num_hidden_layers=3,
        head_dim=8,
        sliding_window=4,
    ),
    "gpt2": dict(n_embd=32, n_layer=3, n_head=4, n_positions=128),
}


@pytest.fixture(scope="session")
def tiny_model_dir(smol_tokenizer_dir, tmp_path_factory):
    """Factory: a tiny random model of an architecture, saved as a local directory."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    made = {}

    def make(model_type: str) -> Path:
        if model_type in made:
            return made[model_type]
        torch.manual_seed(0)
        config = AutoConfig.for_model(model_type, vocab_size=49152, **TINY[model_type])
        model = AutoModelForCausalLM.from_config(config)
        # random weights give near-identical vectors at every layer: make them bigger
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(5.0 if p.dim() > 1 else 1.0)
        path = tmp_path_factory.mktemp(f"tiny-{model_type}")
        model.save_pretrained(path)
        for file in smol_tokenizer_dir.iterdir():
            shutil.copy(file, path / file.name)
        made[model_type] = path
        return path

    return make


@pytest.fixture(scope="session")
def app_cache(tmp_path_factory):
    """A cache with real results: SmolLM2 on items/pairs/analogies subsets, Gemma on two."""
    from tests.app_results import build

    return build(tmp_path_factory.mktemp("app"))
