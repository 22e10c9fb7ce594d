"""Finished probe cells on disk (``cache/probes/<key>/``): a killed probing stage resumes.

A cell is one (component, layer) of the probe grid; each is written atomically as it
finishes, under a key made of everything that determines its numbers, so a rerun with the
same settings reads them back instead of refitting.  A cell carries its fold scores, its
null, its halves and every stimulus's held-out prediction, so a resumed run stores the
same rows as a fresh one.

Each file holds a SHA-256 checksum of its content: a cell that is damaged, or edited and
still valid JSON, no longer matches it, is named in a warning, removed and recomputed;
it is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from core.paths import cache_dir

log = logging.getLogger(__name__)
FORMAT = 2  # cells of format 1 (no predictions, no checksum) are recomputed


class CellStore:
    """The finished cells of one probe key."""

    def __init__(self, key: str, root: Path | None = None):
        self.folder = (root or cache_dir() / "probes") / key

    def load(self) -> dict[tuple[str, int], dict]:
        """Every intact finished cell; a damaged or altered one is removed (and recomputed).

        Returns
        -------
        dict
            ``(component, layer)`` → cell result, as :func:`core.probe.grid.probe_cell`
            returns it.
        """
        done = {}
        for file in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                component, layer = file.stem.rsplit("-", 1)
                done[(component, int(layer))] = cell_from_json(_verified(file))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("probe cell %s is damaged (%s); it will be recomputed", file, exc)
                file.unlink(missing_ok=True)
        return done

    def save(self, cell: tuple[str, int], result: dict) -> None:
        """Keep one finished cell (temporary file, then an atomic rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{cell[0]}-{cell[1]}.json"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        payload = cell_to_json(result)
        tmp.write_text(
            json.dumps({"format": FORMAT, "checksum": _checksum(payload), "cell": payload})
        )
        tmp.replace(target)


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _checksum(payload: dict) -> str:
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _verified(file: Path) -> dict:
    """The cell payload of a file whose checksum matches it.

    Raises
    ------
    ValueError
        When the file is not JSON, is of an older format, or does not match its checksum.
    """
    data = json.loads(file.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"format {data.get('format')}, expected {FORMAT}")
    if _checksum(data["cell"]) != data["checksum"]:
        raise ValueError("content does not match its checksum (edited or damaged)")
    return data["cell"]


def cell_to_json(result: dict) -> dict:
    """A cell result as plain lists, to keep on disk between runs (NaN as ``null``)."""

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        array = np.asarray(value, dtype=float)
        return np.where(np.isnan(array), None, array).tolist()

    return convert(result)


def cell_from_json(data: dict) -> dict:
    """Inverse of :func:`cell_to_json`."""

    def array(values) -> np.ndarray:
        return np.array(values, dtype=float)  # None → nan

    def target(res: dict) -> dict:
        out = {
            "folds": {m: array(v) for m, v in res["folds"].items()},
            "null": array(res["null"]),
        }
        for name in ("y_pred", "decision"):
            if name in res:
                out[name] = array(res[name])
        return out

    return {
        "full": {t: target(r) for t, r in data["full"].items()},
        "halves": [{t: target(r) for t, r in half.items()} for half in data["halves"]],
    }
