"""Where Strata keeps its runtime data: one folder, ``cache/`` beside the code by default."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """The runtime folder; ``STRATA_CACHE`` moves it (tests use a temporary one)."""
    path = Path(os.environ.get("STRATA_CACHE", ROOT / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db() -> Path:
    return cache_dir() / "strata.duckdb"


def models_dir() -> Path:
    """Converted models; ``STRATA_MODELS`` lets tests share them across temporary caches."""
    path = Path(os.environ.get("STRATA_MODELS", cache_dir() / "models"))
    path.mkdir(parents=True, exist_ok=True)
    return path
