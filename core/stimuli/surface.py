"""Surface features of each stimulus: what a reader gets without understanding a word.

A layer curve means something only beside what these give.  Per stimulus: the log word
frequency (Zipf, from ``wordfreq``) of the target words, their length in characters, the
token count of the text under the model's tokenizer, and the character position of the
first target word.  The probe engine fits the same probes on them, with the same folds
(:mod:`core.probe.baselines`), as the surface baselines every curve is measured against.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.stimuli.audit import target_words
from core.stimuli.schema import StimulusError, StimulusSet

FEATURES: tuple[str, ...] = ("frequency", "length", "tokens", "position")
"""The surface features, one column each of :func:`surface_features`."""

BASELINES: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in FEATURES},
    "surface": FEATURES,
}
"""Baseline name → the features its probe reads (``surface``: all of them together)."""


def surface_features(stimuli: StimulusSet, tokenizer=None) -> pd.DataFrame:
    """The surface features of every stimulus, in row order.

    Parameters
    ----------
    stimuli : StimulusSet
        n_rows stimuli; rows without target words use every word of the text.
    tokenizer : callable, optional
        A Hugging Face tokenizer (``tokenizer(texts)["input_ids"]``): the model's own, so
        ``tokens`` counts what the model reads, special tokens included.  Without one
        (a remote model whose tokenizer is not on this machine) ``tokens`` is absent.

    Returns
    -------
    DataFrame of shape (n_rows, 4), or (n_rows, 3) without a tokenizer
        ``frequency`` (mean Zipf frequency of the target words; 0 for words wordfreq does
        not know), ``length`` (characters of the target words, summed), ``tokens`` (tokens
        of the whole text) and ``position`` (character offset of the first target word;
        0 without one).

    Raises
    ------
    StimulusError
        When the ``wordfreq`` package is missing (one line; before any model is loaded).

    Examples
    --------
    ``"The dog barked"`` with target word ``dog``: length 3, position 4.
    """
    try:
        from wordfreq import zipf_frequency  # a runtime requirement (requirements.txt)
    except ImportError:
        raise StimulusError(
            "word frequencies need the wordfreq package: pip install -r requirements.txt"
        ) from None

    words = target_words(stimuli)
    out = pd.DataFrame(
        {
            "frequency": [
                float(np.mean([zipf_frequency(w, "en") for w in row])) if row else 0.0
                for row in words
            ],
            "length": [float(sum(len(w) for w in row)) for row in words],
            "position": [float(spans[0][0]) if spans else 0.0 for spans in stimuli.spans],
        }
    )
    if tokenizer is not None:
        out["tokens"] = [float(len(row)) for row in tokenizer(stimuli.texts)["input_ids"]]
    return out[[f for f in FEATURES if f in out.columns]]
