"""Loading a model's base (no LM head) and tokenizer for extraction.

GGUF files are dequantised once and the converted weights kept under ``cache/models/``, so
only the first load pays for the conversion.  Before loading, the memory the weights need
is estimated from the safetensors headers and a model that cannot fit is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ModelError, first_line
from core.lm.architectures import Layout, get_module, layout_for
from core.lm.identity import ModelId, ModelInfo, file_sha256, hub_snapshot, identify
from core.lm.specs import ModelSpec
from core.paths import models_dir


@dataclass
class LoadedModel:
    """A base model ready for extraction (``base`` is None when it runs remotely)."""

    base: object = field(repr=False)
    tokenizer: object = field(repr=False)
    layout: Layout
    info: ModelInfo
    config: object = field(default=None, repr=False)
    # the nnsight root to trace and the path of the base model inside it (nnsight backend)
    traced: tuple | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.config is None and self.base is not None:
            self.config = self.base.config

    @property
    def blocks(self):
        return get_module(self.base, self.layout.layers)


def model_directory(model_id: ModelId) -> Path:
    """The directory ``from_pretrained`` reads: converted GGUF, local folder or hub snapshot."""
    if model_id.kind in ("alias", "gguf"):
        return _converted_gguf(Path(model_id.source))
    if model_id.kind == "local":
        return Path(model_id.source)
    commit = model_id.revision.rsplit("@", 1)[-1]
    return hub_snapshot(ModelSpec(model_id.name, "hub", model_id.source, commit))


def converted_dir(gguf: Path) -> Path:
    """Where a GGUF's dequantised weights are (or will be) kept: ``cache/models/<stem>-<hash>``."""
    return models_dir() / f"{gguf.stem}-{file_sha256(gguf)[:12]}"


def needs_conversion(model_id: ModelId) -> bool:
    """Whether loading ``model_id`` first dequantises a GGUF (once: a minute or two)."""
    if model_id.kind not in ("alias", "gguf"):
        return False
    target = converted_dir(Path(model_id.source))
    return not ((target / "config.json").is_file() and (target / "model.safetensors").is_file())


@contextlib.contextmanager
def one_gguf_parse():
    """One ``gguf.GGUFReader`` per file while this block runs; nested blocks share it.

    transformers reads a GGUF three times to convert it (tokenizer, config, weights) and
    twice more for the checks before a run (config, tokenizer: :mod:`core.lm.budget`), and
    gguf-py parses the whole metadata each time, element by element: for Gemma-3's
    262,144-token vocabulary that is about 20 s a parse on this 2-core machine.  The readers
    are read-only memory maps, so one can serve them all: a run (or a job of several) holds
    one block around its checks and its conversion.  A file's reader is let go once the
    file is converted (:func:`release_gguf_parse`): nothing reads that GGUF again, and its
    parsed vocabulary need not stay in memory while the run extracts and probes.
    """
    import gguf

    if getattr(gguf.GGUFReader, "shares_parses", False):  # an outer block's readers serve
        yield
        return
    original = gguf.GGUFReader
    readers: dict[tuple[str, str], object] = {}

    def reader(path, mode="r"):
        key = (os.path.realpath(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    def release(path) -> None:
        for key in [k for k in readers if k[0] == os.path.realpath(path)]:
            del readers[key]

    reader.shares_parses = True
    reader.release = release
    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def release_gguf_parse(path: str | Path) -> None:
    """Let go of the shared reader of ``path`` that :func:`one_gguf_parse` holds, if any."""
    import gguf

    release = getattr(gguf.GGUFReader, "release", None)
    if release is not None:
        release(path)


def _converted_gguf(gguf: Path) -> Path:
    """Dequantise a GGUF once into ``cache/models/``; later loads read the saved weights."""
    target = converted_dir(gguf)
    digest = file_sha256(gguf)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with one_gguf_parse():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
    except Exception as exc:
        raise ModelError(
            f"cannot read GGUF file '{gguf}' (damaged or truncated?): {first_line(exc)}"
        ) from None
    finally:
        release_gguf_parse(gguf)  # read in full now: the run goes on from the converted copy
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
    n_layers = len(get_module(base, layout.layers))
    info = ModelInfo(
        id=model_id,
        architecture=getattr(config, "model_type", type(base).__name__),
        n_layers=n_layers,
        d_model=int(config.hidden_size),
        device_map=json.dumps(device_map) if isinstance(device_map, dict) else device_map or "cpu",
    )
    return LoadedModel(base=base, tokenizer=tokenizer, layout=layout, info=info)


def load_tokenizer(name: str):
    """A model's tokenizer alone, never its weights (for the stimulus audit).

    An alias or ``.gguf`` reads the converted directory's tokenizer when the model was
    converted before, else the tokenizer stored in the GGUF; a directory or hub id (local
    cache) reads its own.

    Raises
    ------
    ModelError
        With one line naming the problem.
    """
    from transformers import AutoTokenizer

    from core.lm.specs import resolve

    spec = resolve(name)
    try:
        if spec.kind in ("alias", "gguf"):
            gguf = Path(spec.location)
            converted = [
                p
                for p in sorted(models_dir().glob(f"{gguf.stem}-*"))
                if (p / "tokenizer.json").is_file()
            ]
            if converted:
                return AutoTokenizer.from_pretrained(converted[0])
            return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        return AutoTokenizer.from_pretrained(spec.location)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        raise ModelError(f"cannot load the tokenizer of '{name}': {first_line(exc)}") from None
