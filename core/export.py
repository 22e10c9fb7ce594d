"""Activations and labels written as plain files for use outside Strata (the export contract).

``DIR/activations.npz`` holds float32 arrays ``resid_pre``, ``attn_out``, ``mlp_out`` of
shape (n_items, n_layers, d_model), rows in the order of ``DIR/stimuli.csv``;
``DIR/targets.json`` maps each binary or continuous target to its kind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import RunConfig
from core.errors import ConfigError
from core.pipeline import Progress, activations_for
from core.provenance import versions
from core.stimuli import load as load_stimuli


def export(config: RunConfig, out: str | Path, *, progress: Progress | None = None) -> Path:
    """Write ``activations.npz``, ``stimuli.csv`` and ``targets.json`` for use elsewhere.

    The config's model, stimuli, first pooling and dtype say what to export; activations
    are read from the cache, or extracted first.  Returns the folder.

    Raises
    ------
    ConfigError
        When ``out`` cannot be written (checked before any extraction).
    """
    stimuli = load_stimuli(config.stimuli, n_folds=config.probe.folds)
    out = Path(out)
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
    frame.to_csv(out / "stimuli.csv", index=False)
    (out / "targets.json").write_text(json.dumps({t: stimuli.targets[t] for t in simple}, indent=1))
    if multiclass:  # the contract's targets.json knows binary and continuous only
        stimuli.frame[["item_id", *multiclass]].to_csv(out / "multiclass.csv", index=False)
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
