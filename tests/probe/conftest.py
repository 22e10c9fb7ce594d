"""Real SmolLM2 activations of a small items subset, shared by the solver and grid tests."""

from __future__ import annotations

import pytest

from core.lm import extract
from tests.helpers import items_subset


@pytest.fixture(scope="session")
def real(smollm2):
    stimuli = items_subset(48)
    acts = extract(smollm2, stimuli, poolings=("mean",))["mean"]
    return stimuli, acts
