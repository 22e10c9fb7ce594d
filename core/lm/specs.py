"""Model names: the embedded aliases, and what a user's name resolves to.

A model is named by an alias (``smollm2-135m``), a Hugging Face hub id, a local directory or
a ``.gguf`` file.  Resolving a name reads nothing heavy: weights stay where they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.embedded import ALIASES
from core.errors import ModelError

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
