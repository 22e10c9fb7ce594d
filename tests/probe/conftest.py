"""Real SmolLM2 activations of small subsets, shared by the solver and grid tests."""

from __future__ import annotations

import pytest

from core.lm import extract
from tests.helpers import items_subset


@pytest.fixture(scope="session")
def real(smollm2):
    """48 items (binary and continuous targets) and their mean-pooled activations."""
    stimuli = items_subset(48)
    acts = extract(smollm2, stimuli, poolings=("mean",))["mean"]
    return stimuli, acts


@pytest.fixture(scope="session")
def real_pairs(smollm2):
    """64 pairs (8 pools: a binary, a four-class and a continuous target) and activations."""
    from core.stimuli import load

    full = load("pairs")
    stimuli = full.subset(list(range(64)))
    acts = extract(smollm2, stimuli, poolings=("mean",))["mean"]
    return stimuli, acts
