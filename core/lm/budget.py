"""What an extraction needs, known before the model is loaded: memory, disk, token lengths.

A stimulus file can hold half a million rows; its activations (rows × layers × components ×
width × poolings) would then outgrow memory and disk hours into the run.  And a text longer
than the model's context used to be refused only after the weights had loaded.  Both are
decided here from the model's config and tokenizer alone (a converted model's files, or the
GGUF's header: no weights are read), and refused with the figure before any work.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError, first_line
from core.lm.identity import ModelId
from core.lm.loading import (
    _available_bytes,
    converted_dir,
    estimate_bytes,
    model_directory,
    one_gguf_parse,
)
from core.lm.tokens import ExtractionError, plan_tokens
from core.stimuli import StimulusSet

STORE_BYTES = {"float32": 4, "float16": 2}
# Extraction keeps every finished chunk and then assembles the full arrays: both in memory
# at once, and both on disk until the chunks are removed.
COPIES = 2


@dataclass(frozen=True)
class Light:
    """A model's config and tokenizer, read without its weights."""

    config: object
    tokenizer: object
    directory: Path | None  # where safetensors headers can be read (None: not converted yet)


@functools.lru_cache(maxsize=8)
def _read_light(kind: str, source: str, revision: str) -> Light:
    from transformers import AutoConfig, AutoTokenizer

    kwargs: dict = {}
    directory: Path | None
    if kind in ("alias", "gguf"):
        gguf = Path(source)
        directory = converted_dir(gguf)
        if not (directory / "config.json").is_file():  # not converted yet: the GGUF header
            kwargs, directory = {"gguf_file": gguf.name}, None
        where = directory or gguf.parent
    else:
        model = ModelId(source, kind, source, revision)
        where = directory = model_directory(model)
    try:
        with one_gguf_parse():  # a GGUF's header parsed once for both
            config = AutoConfig.from_pretrained(where, **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    except Exception as exc:
        what = (
            f"cannot read GGUF file '{source}' (damaged or truncated?)"
            if kwargs
            else f"cannot read the config or tokenizer of model '{source}'"
        )
        raise ModelError(f"{what}: {first_line(exc)}") from None
    config = getattr(config, "text_config", None) or config  # multimodal: the LM part
    return Light(config=config, tokenizer=tokenizer, directory=directory)


def read_light(model: ModelId) -> Light:
    """The config and tokenizer of a local model, without loading its weights (cached).

    Parameters
    ----------
    model : ModelId
        An alias, GGUF, local directory or (locally cached) hub model.

    Returns
    -------
    Light

    Raises
    ------
    ModelError
        When the config or tokenizer cannot be read (a damaged GGUF, say).
    """
    return _read_light(model.kind, model.source, model.revision)


def activation_bytes(
    n_items: int,
    n_layers: int,
    d_model: int,
    *,
    n_components: int,
    n_poolings: int,
    store_dtype: str,
) -> int:
    """Bytes of one copy of a run's activation arrays.

    Parameters
    ----------
    n_items, n_layers, d_model : int
        Each of the ``n_components × n_poolings`` arrays has shape
        (n_items, n_layers, d_model).
    n_components, n_poolings : int
    store_dtype : {"float32", "float16"}

    Returns
    -------
    int
    """
    return n_items * n_layers * d_model * n_components * n_poolings * STORE_BYTES[store_dtype]


def free_memory() -> int:
    """Bytes of memory available now (``MemAvailable``)."""
    return _available_bytes()


def free_disk(path: Path) -> int:
    """Bytes free on the file system holding ``path`` (its nearest existing folder).

    Parameters
    ----------
    path : Path

    Returns
    -------
    int
    """
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_extraction(
    model: ModelId,
    stimuli: StimulusSet,
    *,
    poolings: Sequence[str],
    components: Sequence[str],
    store_dtype: str,
    chat_template: bool,
    cache_root: Path,
    weights_in_memory: bool = True,
) -> None:
    """Refuse, before the model loads, an extraction that cannot fit or cannot be tokenised.

    Parameters
    ----------
    model : ModelId
        The model, resolved (nothing is loaded).
    stimuli : StimulusSet
        The texts, validated.
    poolings, components : sequence of str
        What will be extracted.
    store_dtype : {"float32", "float16"}
    chat_template : bool
        Whether texts become chat turns (longer inputs).
    cache_root : Path
        Where the activations will be written (its free disk is checked).
    weights_in_memory : bool, default=True
        Count the weights too (a CPU load; accelerate's device maps are checked by it).

    Raises
    ------
    ExtractionError
        When the arrays need more memory or disk than is free (with the figure), or a text
        has more tokens than the model takes.
    ModelError
        When the model's config or tokenizer cannot be read.
    """
    light = read_light(model)
    config = light.config
    n_layers, d_model = int(config.num_hidden_layers), int(config.hidden_size)
    one = activation_bytes(
        len(stimuli),
        n_layers,
        d_model,
        n_components=len(components),
        n_poolings=len(poolings),
        store_dtype=store_dtype,
    )
    shape = (
        f"{len(stimuli)} texts × {n_layers} layers × {len(components)} components × "
        f"{d_model} wide × {len(poolings)} poolings × {STORE_BYTES[store_dtype]} bytes"
    )
    weights = (
        estimate_bytes(config, model.dtype, model.quantization, light.directory)
        if weights_in_memory
        else 0
    )
    need, have = COPIES * one + weights, free_memory()
    if need * 1.2 > have:
        raise ExtractionError(
            f"this run needs about {_gib(need)} of memory ({shape} = {_gib(one)} of "
            f"activations, held twice while assembled, plus {_gib(weights)} of weights) but "
            f"only {_gib(have)} is free: use fewer texts, components or poolings, "
            "or --store-dtype float16"
        )
    disk = free_disk(cache_root)
    if COPIES * one > disk:
        raise ExtractionError(
            f"this run's activations need about {_gib(COPIES * one)} of disk under "
            f"'{cache_root}' ({shape}, twice while chunks are kept) but only {_gib(disk)} is "
            "free: free some space, move STRATA_CACHE, or use fewer texts"
        )
    plan_tokens(  # raises ExtractionError naming the first text that is too long
        light.tokenizer,
        stimuli,
        poolings=poolings,
        max_length=getattr(config, "max_position_embeddings", None),
        chat_template=chat_template,
    )
