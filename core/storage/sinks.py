"""The attention-sink statistics of a model × stimulus set, kept beside the activations.

Measuring them needs the model (an eager-attention pass), so they are cached on disk like
activations, keyed by what determines them, and a run whose activations are cached never
loads the model for them.  Written to a temporary file and moved into place: an
interrupted run leaves the old file or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from core.paths import cache_dir


def sink_key(*, model_fingerprint: str, text_hash: str, chat_template: bool) -> str:
    """The cache key: the model's weights and the exact texts it read."""
    payload = json.dumps([model_fingerprint, text_hash, chat_template, "sinks-v1"])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _path(key: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / "sinks" / f"{key}.csv"


def load(key: str, root: Path | None = None) -> pd.DataFrame | None:
    """The cached per-layer statistics, or ``None`` when they were never measured."""
    path = _path(key, root)
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None  # a damaged file is measured again


def save(key: str, stats: pd.DataFrame, root: Path | None = None) -> None:
    """Keep the statistics atomically (temporary file, then ``os.replace``)."""
    path = _path(key, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sinks-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            stats.to_csv(fh, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
