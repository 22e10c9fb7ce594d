"""Small stimulus sets built in code, for tests that need no real labels."""

from __future__ import annotations

import pandas as pd

from core.stimuli import StimulusSet, load, validate

NOUNS = [
    "apple",
    "banana",
    "cherry",
    "dog",
    "cat",
    "horse",
    "hammer",
    "chair",
    "table",
    "river",
    "mountain",
    "tree",
]


def tiny_stimuli() -> StimulusSet:
    frame = pd.DataFrame(
        {
            "item_id": NOUNS,
            "text": [f"A big {n} and a small one" for n in NOUNS],
            "group": NOUNS,
            "words": NOUNS,
            "is_food:binary": ["1", "1", "1"] + ["0"] * 9,
            "n_letters:continuous": [str(len(n)) for n in NOUNS],
        }
    )
    return validate(frame, name="tiny", n_folds=3)


def items_subset(n: int = 48, *, name: str = "items") -> StimulusSet:
    """The first ``n`` rows of a built-in set after a fixed shuffle (keeps classes mixed)."""
    import numpy as np

    full = load(name)
    rows = np.random.default_rng(0).permutation(len(full))[:n]
    return full.subset(sorted(rows))
