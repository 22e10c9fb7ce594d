"""How much of a curve's peak is already there in the token embeddings (layer 0 of resid_pre).

``resid_pre`` at layer 0 is the token embeddings: what a probe reads there is lexical (the
words themselves), before any attention has run.  Item properties are often decodable
there almost as well as anywhere (``is_living`` scores about 0.9 balanced accuracy at layer
0 of SmolLM2), and a peak at layer 23 then says little about where the property is *built*.

The share of the peak present at layer 0 is ``s₀ / s_peak`` on the normalised scale (0 =
chance, 1 = perfect), ``s_peak`` at the curve's peak (:func:`~core.analysis.summary.peak_index`).
The verdict tests ``s₀ - s_peak / 2`` over the folds (paired: the same test stimuli at both
layers), one-sided t with k - 1 degrees of freedom: above zero at level α, "mostly lexical";
below, "mostly built after layer 0"; otherwise "cannot tell".  The peak is the curve's
highest layer, chosen on the same data, so ``s_peak`` is biased upward: that makes the
"mostly lexical" claim conservative and is measured for the other (calibration test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from core.analysis.summary import normalized, peak_index

VERDICTS = (
    "mostly lexical (most of the peak is decodable from the token embeddings)",
    "mostly built after layer 0",
    "cannot tell",
    "no peak above chance",
)


def _normalised_folds(folds: pd.DataFrame, chance: float) -> pd.DataFrame:
    """``fold`` × ``layer`` table of normalised fold scores."""
    frame = folds.assign(chance=chance) if "chance" not in folds.columns else folds
    frame = frame.assign(value=normalized(frame))
    return frame.pivot_table(index="fold", columns="layer", values="value", aggfunc="mean")


def lexical_share(
    curve: pd.DataFrame,
    folds: pd.DataFrame,
    *,
    layer0: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The share of a curve's peak already decodable at layer 0 of ``resid_pre``, tested.

    Parameters
    ----------
    curve : DataFrame
        One curve's rows (n_layers rows: ``layer``, ``score``, ``chance``, ``n_layers``),
        a target's ``probe_scores`` or a mean curve (chance 0).
    folds : DataFrame
        The same curve's fold scores (``fold``, ``layer``, ``score``; n_folds × n_layers).
    layer0 : DataFrame, optional
        Fold scores (``fold``, ``score``) of ``resid_pre`` at layer 0 for the same target(s)
        and folds, when ``curve`` is another component; by default the curve's own layer 0
        (right when ``curve`` is ``resid_pre``).
    alpha : float, default=0.05

    Returns
    -------
    DataFrame
        One row: ``peak_layer``, ``peak_score`` and ``layer0_score`` (normalised, means over
        folds), ``share`` (layer 0 over peak), ``t`` (of ``s₀ - s_peak / 2`` over folds),
        ``p_lexical``/``p_built`` (one-sided p of each direction), ``n_folds`` and
        ``verdict`` (one of :data:`VERDICTS`).
    """
    curve = curve.sort_values("layer")
    chance = float(curve["chance"].iloc[0]) if "chance" in curve else 0.0
    table = _normalised_folds(folds, chance)
    layers = curve["layer"].to_numpy()
    peak_layer = int(layers[peak_index(curve["score"].to_numpy(float))])
    peak = table[peak_layer].to_numpy(float) if peak_layer in table else np.array([])
    if layer0 is None:
        base = table[layers[0]] if layers[0] in table else pd.Series(dtype=float)
    else:
        base = _normalised_folds(layer0.assign(layer=0), chance)[0]
    base = base.reindex(table.index).to_numpy(float)
    ok = np.isfinite(peak) & np.isfinite(base)
    peak, base = peak[ok], base[ok]
    row = {
        "peak_layer": peak_layer,
        "peak_score": float(peak.mean()) if len(peak) else np.nan,
        "layer0_score": float(base.mean()) if len(base) else np.nan,
        "share": np.nan,
        "t": np.nan,
        "p_lexical": np.nan,
        "p_built": np.nan,
        "n_folds": int(ok.sum()),
        "verdict": VERDICTS[3],
    }
    if len(peak) < 2 or row["peak_score"] <= 0:
        return pd.DataFrame([row])
    row["share"] = row["layer0_score"] / row["peak_score"]
    diff = base - peak / 2
    sd = diff.std(ddof=1)
    t = diff.mean() / (sd / np.sqrt(len(diff))) if sd > 0 else np.sign(diff.mean()) * np.inf
    row["t"] = float(t)
    row["p_lexical"] = float(stats.t.sf(t, len(diff) - 1))
    row["p_built"] = float(stats.t.cdf(t, len(diff) - 1))
    if row["p_lexical"] < alpha:
        row["verdict"] = VERDICTS[0]
    elif row["p_built"] < alpha:
        row["verdict"] = VERDICTS[1]
    else:
        row["verdict"] = VERDICTS[2]
    return pd.DataFrame([row])
