"""What determines a model's activations, known without loading it: its fingerprint.

A GGUF is hashed (once; the hash is remembered), a local directory by its config and a
sample of its weight files, a hub model by the commit of its local snapshot, which is found
without waiting on a network that is not there (``HF_HUB_OFFLINE`` respected).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import ModelError, first_line
from core.lm.specs import ModelSpec, resolve
from core.paths import models_dir

DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")
QUANTIZATIONS: tuple[str, ...] = ("none", "8bit", "4bit")


def file_sha256(path: Path) -> str:
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
    if quantization not in QUANTIZATIONS:
        raise ModelError(f"unknown quantization '{quantization}'; use none, 8bit or 4bit")
    spec = resolve(name, revision=revision)
    if spec.kind in ("alias", "gguf"):
        gguf = Path(spec.location)
        _check_gguf(gguf)
        rev = file_sha256(gguf)
    elif spec.kind == "local":
        rev = _dir_digest(Path(spec.location))
    else:
        rev = f"{spec.location}@{hub_snapshot(spec).name}"  # snapshots/<commit>
    return ModelId(name, spec.kind, spec.location, rev, dtype, quantization)


def hub_snapshot(spec: ModelSpec) -> Path:
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
