"""Activations and labels written as plain files for use outside Strata (the export contract).

``DIR/activations.npz`` holds float32 arrays ``resid_pre``, ``attn_out``, ``mlp_out`` of
shape (n_items, n_layers, d_model), rows in the order of ``DIR/stimuli.csv``;
``DIR/targets.json`` maps each binary or continuous target to its kind.  A text cell or
header that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's rule).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import RunConfig
from core.errors import ConfigError
from core.pipeline import Progress, activations_for, prepare
from core.provenance import versions
from core.safe_csv import neutralise, to_csv


def check_out_dir(out: str | Path) -> Path:
    """Refuse, without creating anything, a folder that cannot be made or written.

    Parameters
    ----------
    out : path
        The folder to write (it may not exist yet).

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        When ``out`` (or the nearest folder above it that exists) is a file or read-only.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"cannot write to '{out}': it is a file, not a folder")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write to '{out}': '{existing}' is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write to '{out}': '{existing}' is read-only")
    return out


def export(config: RunConfig, out: str | Path, *, progress: Progress | None = None) -> Path:
    """Write ``activations.npz``, ``stimuli.csv`` and ``targets.json`` for use elsewhere.

    The config's model, stimuli, first pooling and dtype say what to export; activations
    are read from the cache, or extracted first.  Every input (stimuli, model, what the
    extraction needs, the folder) is checked before anything is created.  Text cells and
    headers of the CSV files are made safe for spreadsheets (:mod:`core.safe_csv`); the
    keys of ``targets.json`` match the CSV's headers.  Returns the folder.

    Raises
    ------
    ConfigError
        When ``out`` cannot be written (checked before any extraction).
    StimulusError, ModelError, ExtractionError
        For bad stimuli, a bad model, or an extraction that cannot fit.
    """
    out = check_out_dir(out)
    stimuli = prepare(config, results=False).stimuli
    try:  # before extracting: minutes of work should not end on an unwritable folder
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".strata-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to '{out}': {exc.strerror or exc}") from None
    entry = activations_for(config, stimuli, progress=progress)
    arrays = {c: np.asarray(a, dtype=np.float32) for c, a in entry.arrays.items()}
    tmp = out / ".activations.npz.tmp"
    with tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(out / "activations.npz")
    simple = [t for t, k in stimuli.targets.items() if k in ("binary", "continuous")]
    multiclass = [t for t, k in stimuli.targets.items() if k == "multiclass"]
    frame = stimuli.frame[["item_id", "text", "group"]].assign(words=stimuli.words())
    frame = pd.concat([frame, stimuli.frame[simple]], axis=1)
    to_csv(frame, out / "stimuli.csv")
    (out / "targets.json").write_text(
        json.dumps({neutralise(t): stimuli.targets[t] for t in simple}, indent=1)
    )
    if multiclass:  # the contract's targets.json knows binary and continuous only
        to_csv(stimuli.frame[["item_id", *multiclass]], out / "multiclass.csv")
    (out / "provenance.json").write_text(
        json.dumps(
            {
                "model": entry.manifest.get("model"),
                "stimulus_set": stimuli.name,
                "stimuli_hash": stimuli.content_hash,
                "pooling": config.poolings[0],
                "shape": "[n_items, n_layers, d_model]",
                "versions": versions(),
            },
            indent=1,
            default=str,
        )
    )
    return out
