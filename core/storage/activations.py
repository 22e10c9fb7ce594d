"""Content-addressed activation store with atomic writes and checksums.

An entry is a folder ``activations/<key>/`` holding one ``.npy`` per component, shaped
``(n_items, n_layers, d_model)``, and a ``manifest.json`` with their checksums.  It is written
in a temporary folder and renamed into place, so a killed run never leaves an entry that
reads as valid; an entry whose files do not match their checksums is discarded and
recomputed.  Long extractions save chunks as they go (``<key>.parts/``), so a rerun resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.paths import cache_dir

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


def activation_key(
    *,
    model_fingerprint: str,
    text_hash: str,
    pooling: str,
    store_dtype: str,
    chat_template: bool = False,
) -> str:
    """Key of one activation entry: everything that changes the stored numbers."""
    payload = json.dumps(
        {
            "format": FORMAT_VERSION,
            "model": model_fingerprint,
            "texts": text_hash,
            "pooling": pooling,
            "chat_template": chat_template,
            "store_dtype": store_dtype,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _checksum(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Activations:
    """A verified cache entry: arrays (memory-mapped) and the manifest that describes them."""

    key: str
    arrays: Mapping[str, np.ndarray]
    manifest: dict

    @property
    def n_layers(self) -> int:
        return int(next(iter(self.arrays.values())).shape[1])


class ActivationCache:
    """The activation store under ``root`` (default ``cache/activations``)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_dir() / "activations"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        return (self.path(key) / "manifest.json").is_file()

    def load(self, key: str, *, verify: bool = True) -> Activations | None:
        """The entry, or ``None`` when absent or damaged (a damaged entry is removed)."""
        folder = self.path(key)
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
            arrays = {}
            for component, meta in manifest["files"].items():
                file = folder / meta["file"]
                if verify and _checksum(file) != meta["checksum"]:
                    raise ValueError(f"{file.name} does not match its checksum")
                arrays[component] = np.load(file, mmap_mode="r")
                if list(arrays[component].shape) != meta["shape"]:
                    raise ValueError(f"{file.name} has shape {arrays[component].shape}")
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            log.warning(
                "activation cache entry %s is damaged (%s); it will be recomputed", key, exc
            )
            self.discard(key)
            return None
        return Activations(key=key, arrays=arrays, manifest=manifest)

    def save(self, key: str, arrays: Mapping[str, np.ndarray], manifest: dict) -> Activations:
        """Write an entry atomically: a temporary folder, then one rename."""
        folder = self.path(key)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        try:
            files = {}
            for component, array in arrays.items():
                file = tmp / f"{component}.npy"
                np.save(file, np.ascontiguousarray(array))
                files[component] = {
                    "file": file.name,
                    "checksum": _checksum(file),
                    "shape": list(array.shape),
                    "dtype": str(array.dtype),
                }
            full = dict(manifest, key=key, files=files, created=time.time(), format=FORMAT_VERSION)
            (tmp / "manifest.json").write_text(json.dumps(full, indent=1))
            _fsync_tree(tmp)
            if folder.exists():  # a damaged or concurrent entry: ours is complete, replace it
                shutil.rmtree(folder, ignore_errors=True)
            try:
                tmp.rename(folder)
            except OSError:
                if not self.has(key):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.discard_parts(key)
        loaded = self.load(key, verify=False)
        assert loaded is not None
        return loaded

    def discard(self, key: str) -> None:
        shutil.rmtree(self.path(key), ignore_errors=True)

    # ----------------------------------------------------------------- resumable chunks
    def _parts(self, key: str) -> Path:
        return self.root / f"{key}.parts"

    def save_part(self, key: str, index: int, rows: np.ndarray, arrays: Mapping[str, np.ndarray]):
        """Keep a finished chunk of rows, so a killed extraction resumes after it."""
        folder = self._parts(key)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"part-{index:05d}.npz"
        fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".npz", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, __rows__=rows, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def load_parts(self, key: str) -> dict[int, tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Finished chunks by index; unreadable ones (CRC errors, truncation) are dropped."""
        folder = self._parts(key)
        parts = {}
        for file in sorted(folder.glob("part-*.npz")) if folder.is_dir() else []:
            try:
                with np.load(file) as data:
                    arrays = {k: data[k] for k in data.files}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                log.warning("dropping damaged chunk %s (%s)", file.name, exc)
                file.unlink(missing_ok=True)
                continue
            rows = arrays.pop("__rows__")
            parts[int(file.stem.split("-")[1])] = (rows, arrays)
        return parts

    def discard_parts(self, key: str) -> None:
        shutil.rmtree(self._parts(key), ignore_errors=True)

    def entries(self) -> list[dict]:
        """Manifests of every complete entry, for the app's cache view."""
        out = []
        for manifest in sorted(self.root.glob("*/manifest.json")):
            try:
                data = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            size = sum(f.stat().st_size for f in manifest.parent.glob("*.npy"))
            out.append({**{k: v for k, v in data.items() if k != "files"}, "bytes": size})
        return out


def _fsync_tree(folder: Path) -> None:
    """Flush files and the folder itself before the rename makes them visible."""
    for file in folder.iterdir():
        with file.open("rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
