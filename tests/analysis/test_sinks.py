"""Sink layers: the onset of the first token's massive activation."""

from __future__ import annotations

import pandas as pd

from core.analysis.sinks import sink_layers, sink_profile, sinks_by_model


def _stats(ratios, model="m", stimulus_set="items"):
    return pd.DataFrame(
        {
            "model": model,
            "stimulus_set": stimulus_set,
            "layer": range(len(ratios)),
            "norm_ratio": ratios,
            "attn_pos0": 0.8,
        }
    )


def test_the_onset_layer_is_the_sink_not_the_plateau():
    # SmolLM2-like: a small rise at 3, the massive onset at 12, a plateau after
    ratios = [0.8, 0.7, 2.3, 7.0, 6.2, 6.1, 6.0, 5.6, 4.9, 3.8, 0.9, 0.8]
    ratios += [132, 133, 126, 117, 111, 110, 114, 107, 103, 90, 82, 77, 65, 57, 49, 47, 42, 14]
    assert sink_layers(_stats(ratios)) == [12]


def test_gemma_like_onset_at_layer_one_and_none_without_a_jump():
    assert sink_layers(_stats([1.0, 33.8, 5.2, 5.8, 6.9, 12.1, 14.8])) == [1]
    assert sink_layers(_stats([1.0, 1.5, 2.0, 3.0, 3.5])) == []
    assert sink_layers(_stats([1.0])) == []
    assert sink_layers(_stats([])) == []


def test_sets_are_combined_by_their_median_per_layer():
    both = pd.concat(
        [
            _stats([1.0, 50.0, 40.0], stimulus_set="items"),
            _stats([1.0, 60.0, 45.0], stimulus_set="pairs"),
            _stats([1.0, 2.0, 45.0], stimulus_set="analogies"),
        ]
    )
    assert list(sink_profile(both)["norm_ratio"]) == [1.0, 50.0, 45.0]
    assert sinks_by_model(both) == {"m": [1]}
