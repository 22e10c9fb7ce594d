"""Finished probe cells on disk (``cache/probes/<key>/``): a killed probing stage resumes.

A cell is one (component, layer) of the probe grid; each is written atomically as it
finishes, under a key made of everything that determines its numbers, so a rerun with the
same settings reads them back instead of refitting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from core.paths import cache_dir


class CellStore:
    """The finished cells of one probe key."""

    def __init__(self, key: str, root: Path | None = None):
        self.folder = (root or cache_dir() / "probes") / key

    def load(self) -> dict[tuple[str, int], dict]:
        """Every readable finished cell; a damaged one is removed (and recomputed)."""
        done = {}
        for file in self.folder.glob("*.json") if self.folder.is_dir() else []:
            component, layer = file.stem.rsplit("-", 1)
            try:
                done[(component, int(layer))] = cell_from_json(json.loads(file.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                file.unlink(missing_ok=True)
        return done

    def save(self, cell: tuple[str, int], result: dict) -> None:
        """Keep one finished cell (temporary file, then an atomic rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{cell[0]}-{cell[1]}.json"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cell_to_json(result)))
        tmp.replace(target)


def cell_to_json(result: dict) -> dict:
    """A cell result as plain lists, to keep on disk between runs."""

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return np.asarray(value, dtype=float).tolist()

    return convert(result)


def cell_from_json(data: dict) -> dict:
    """Inverse of :func:`cell_to_json`."""

    def target(res: dict) -> dict:
        return {
            "folds": {m: np.asarray(v, dtype=float) for m, v in res["folds"].items()},
            "null": np.asarray(res["null"], dtype=float),
        }

    return {
        "full": {t: target(r) for t, r in data["full"].items()},
        "halves": [{t: target(r) for t, r in half.items()} for half in data["halves"]],
    }
