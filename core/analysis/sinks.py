"""Which layers are attention-sink layers, from the per-layer statistics of ``sink_stats``.

A sink layer is where massive activations *appear*: the first token's ``resid_pre`` norm
(relative to the median token, :mod:`core.lm.sinks`) jumps to at least ``min_ratio`` and to
at least ``jump`` times the previous layer's.  That is the layer whose block wrote the
outlier into the residual stream, the one a shared dip of every probe can coincide with.

Why the onset and not a level: on the real models the ratio, once it appears, stays high
for many layers (SmolLM2-135M: about 130 at layer 12, still above 40 at layer 28; Gemma-3-
270M: 34 at layer 1, then 5-15 to the end), so "well above the model's median layer" marks
a plateau of ten layers or none, and the attention mass on position 0 is above 0.5 in
almost every layer of both models (SmolLM2 items: 26 of 30), which separates nothing.  The
onset is one layer in each: SmolLM2 layer 12 (×170 over layer 11), Gemma layer 1 (×34 over
the embeddings).  The thresholds sit far from both: the next largest jumps are ×3 (SmolLM2
layer 3) and ×1.8 (Gemma layer 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_RATIO = 10.0
"""The first token's norm at least this many times the median token's."""
JUMP = 4.0
"""... and at least this many times its ratio at the layer before."""


def sink_profile(stats: pd.DataFrame) -> pd.DataFrame:
    """One row per layer of a model: the median over its stimulus sets' ``sink_stats``.

    Parameters
    ----------
    stats : DataFrame
        ``sink_stats`` rows of one model (``layer``, ``norm_ratio``, ``attn_pos0``, any
        number of ``stimulus_set`` values).

    Returns
    -------
    DataFrame
        ``layer``, ``norm_ratio``, ``attn_pos0``, sorted by layer.
    """
    if stats.empty:
        return pd.DataFrame(columns=["layer", "norm_ratio", "attn_pos0"])
    return (
        stats.groupby("layer", as_index=False)[["norm_ratio", "attn_pos0"]]
        .median()
        .sort_values("layer", ignore_index=True)
    )


def sink_layers(
    stats: pd.DataFrame, *, min_ratio: float = MIN_RATIO, jump: float = JUMP
) -> list[int]:
    """The layers where the first token's massive activation appears.

    Parameters
    ----------
    stats : DataFrame
        ``sink_stats`` rows of one model (see :func:`sink_profile`).
    min_ratio, jump : float
        The ratio a sink layer reaches, and its factor over the previous layer.

    Returns
    -------
    list of int
        Sink layers in order (empty when none qualifies or ``stats`` is empty).

    Examples
    --------
    >>> frame = pd.DataFrame({"layer": range(5), "norm_ratio": [1, 1.2, 60, 55, 50],
    ...                       "attn_pos0": 0.8})
    >>> sink_layers(frame)
    [2]
    """
    profile = sink_profile(stats)
    if len(profile) < 2:
        return []
    ratio = profile["norm_ratio"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = ratio[1:] / ratio[:-1]
    hits = (ratio[1:] >= min_ratio) & (rise >= jump)
    return [int(x) for x in profile["layer"].to_numpy()[1:][hits]]


def sinks_by_model(stats: pd.DataFrame) -> dict[str, list[int]]:
    """``model`` → :func:`sink_layers` for every model in ``sink_stats`` rows."""
    if stats.empty:
        return {}
    return {model: sink_layers(part) for model, part in stats.groupby("model")}
