"""Real results for the app tests: SmolLM2 and Gemma on small subsets of the built-in sets."""

from __future__ import annotations

import os
from pathlib import Path

from core.pipeline import RunConfig, run
from core.probe import ProbeSettings
from tests.helpers import items_subset

SETS = {"items": 48, "pairs": 48, "analogies": 48}
MODELS = {"smollm2-135m": ("items", "pairs", "analogies"), "gemma3-270m": ("items", "pairs")}


def build(folder: Path) -> Path:
    """Write the subsets as CSVs named like the built-in sets and run both models on them.

    Returns the cache folder (``STRATA_CACHE``) holding ``strata.duckdb`` and activations.
    """
    cache = folder / "cache"
    previous = os.environ.get("STRATA_CACHE")
    os.environ["STRATA_CACHE"] = str(cache)
    try:
        csvs = {}
        for name, n in SETS.items():
            stimuli = items_subset(n, name=name)
            frame = stimuli.frame.copy()
            frame["spans"] = [";".join(f"{a}:{b}" for a, b in s) for s in stimuli.spans]
            frame = frame.rename(columns={t: f"{t}:{k}" for t, k in stimuli.targets.items()})
            (folder / name).mkdir(parents=True, exist_ok=True)
            csvs[name] = folder / name / f"{name}.csv"
            frame.to_csv(csvs[name], index=False)
        for model, sets in MODELS.items():
            for name in sets:
                run(
                    RunConfig(
                        model=model,
                        stimuli=str(csvs[name]),
                        poolings=("mean",),
                        probe=ProbeSettings(permutations=5, half_splits=2),
                        db=str(cache / "strata.duckdb"),
                    )
                )
    finally:
        if previous is None:
            os.environ.pop("STRATA_CACHE", None)
        else:
            os.environ["STRATA_CACHE"] = previous
    return cache
