"""Controls beside every curve: the gain over layer 0 and the surface baselines.

A layer curve means something only next to what a trivial reader already gets.  Two
readers are measured here, both on the same folds as the curve, so every comparison is
paired fold by fold (the same test stimuli on both sides):

- **Layer 0** of ``resid_pre`` (the token embeddings, before any attention ran).  The
  *gain* of a curve is ``score(layer) - score(resid_pre, 0)`` of the same target(s); its SE
  is the SD over folds of the per-fold differences / √k.  The gain curve is the raw curve
  shifted by one number per fold, so it peaks at the same layer (:func:`peak_index` of a
  curve plus a constant is unchanged, and so is every bootstrap resample's peak): the order
  of sets tested on gain curves is the order tested on the raw curves.  What the gain adds
  is the height of the peak above the embeddings, with its own SE.
- **Surface baselines** (:mod:`core.probe.baselines`): the same probe on word frequency,
  length, token count and position of the target words.  The best baseline of each target
  (highest score; chosen on the same data, which only makes the verdict harder to pass) is
  the reference.  "Beats its surface baseline" is claimed when some layer's fold-paired
  difference is above zero by a one-sided t over folds beyond the Bonferroni bound over the
  layers (the bound :func:`~core.analysis.peaks.double_peak` uses for peaks above chance):
  the peak is chosen as a maximum, so every layer is tested and the family corrected.
  Calibration: ``tests/analysis/test_calibration.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from core.analysis.lexical import lexical_share
from core.analysis.peaks import _above_z
from core.analysis.summary import normalized, peak_index, property_targets

MEAN = "mean over targets"
"""The ``target`` of a set's mean-curve row in :func:`controls_table`."""

VERDICTS = (
    "beats its surface baseline",
    "does not beat its surface baseline",
    "no surface baseline stored",
)
"""The words of :func:`surface_test`."""

TABLE_COLUMNS = [
    "target",
    "metric",
    "layer0_score",
    "peak_layer",
    "peak_score",
    "gain",
    "gain_se",
    "gain_peak_layer",
    "baseline",
    "baseline_score",
    "baseline_se",
    "above_baseline",
    "t_baseline",
    "p_baseline",
    "baseline_verdict",
    "lexical_share",
    "lexical_verdict",
]


def _fold_table(folds: pd.DataFrame) -> pd.DataFrame:
    """``fold`` × ``layer`` table of fold scores (mean over duplicate rows)."""
    return folds.pivot_table(index="fold", columns="layer", values="score", aggfunc="mean")


def gain_curve(folds: pd.DataFrame, layer0: pd.DataFrame) -> pd.DataFrame:
    """A curve's gain over layer 0 of ``resid_pre``, per layer, with its fold SE.

    Parameters
    ----------
    folds : DataFrame
        The curve's fold scores: ``fold``, ``layer``, ``score`` (n_folds × n_layers rows).
    layer0 : DataFrame
        Fold scores of ``resid_pre`` at layer 0 for the same target(s), on the same scale:
        ``fold``, ``score`` (n_folds rows).

    Returns
    -------
    DataFrame
        One row per layer: ``layer``, ``gain`` (mean over folds of the per-fold
        difference), ``gain_se`` (their SD / √k; NaN with fewer than two folds) and
        ``n_folds``.

    Examples
    --------
    A curve 0.1 above its layer 0 in every fold has gain 0.1 and SE 0 there.
    """
    table = _fold_table(folds)
    base = layer0.groupby("fold")["score"].mean().reindex(table.index)
    diff = table.sub(base, axis=0)
    n = diff.notna().sum(axis=0)
    sd = diff.std(axis=0, ddof=1)
    return pd.DataFrame(
        {
            "layer": diff.columns.to_numpy(),
            "gain": diff.mean(axis=0).to_numpy(),
            "gain_se": np.where(n > 1, sd / np.sqrt(n.clip(lower=1)), np.nan),
            "n_folds": n.to_numpy(),
        }
    )


def gain_scores(scores: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Curves as gains over layer 0 of ``resid_pre``, in ``probe_scores`` shape (for plots).

    Parameters
    ----------
    scores : DataFrame
        Primary-metric ``probe_scores`` rows of any targets and components of one model,
        set and pooling (``resid_pre`` among them: its layer 0 is the reference).
    folds : DataFrame
        The matching ``fold_scores`` rows.

    Returns
    -------
    DataFrame
        ``scores`` with ``score`` the gain and ``score_se`` its fold SE, ``chance`` 0 (no
        gain), ``null_lo``/``null_hi`` dropped; curves without a ``resid_pre`` layer 0
        are left out.
    """
    keys = [k for k in ("model", "stimulus_set", "pooling", "target") if k in scores.columns]
    rows = folds
    if "metric" in folds.columns and "metric" in scores.columns:
        primary = scores.drop_duplicates(keys)[[*keys, "metric"]]
        rows = folds.merge(primary, on=[*keys, "metric"], how="inner")
    base = rows[(rows["component"] == "resid_pre") & (rows["layer"] == 0)]
    parts = []
    for key, curve in scores.groupby([*keys, "component"], sort=False):
        head = dict(zip([*keys, "component"], key))
        mine = rows
        ref = base
        for column, value in head.items():
            if column != "component":
                ref = ref[ref[column] == value]
            mine = mine[mine[column] == value]
        if ref.empty or mine.empty:
            continue
        gain = gain_curve(mine, ref).set_index("layer")
        out = curve.drop(columns=[c for c in ("null_lo", "null_hi") if c in curve.columns])
        out = out.assign(
            score=out["layer"].map(gain["gain"]).to_numpy(),
            score_se=out["layer"].map(gain["gain_se"]).to_numpy(),
            chance=0.0,
        )
        parts.append(out)
    return pd.concat(parts, ignore_index=True) if parts else scores.iloc[:0]


def best_baselines(baselines: pd.DataFrame) -> pd.DataFrame:
    """Each target's best surface baseline: the highest-scoring row of ``baseline_scores``.

    Parameters
    ----------
    baselines : DataFrame
        ``baseline_scores`` rows (``target``, ``baseline``, ``score``, ...), any number of
        models, sets and poolings.

    Returns
    -------
    DataFrame
        One row per (model, stimulus_set, pooling, target) present: the best baseline's row.
    """
    if baselines.empty:
        return baselines
    keys = [k for k in ("model", "stimulus_set", "pooling", "target") if k in baselines.columns]
    ranked = baselines.sort_values("score", ascending=False, kind="stable", na_position="last")
    return ranked.drop_duplicates(keys).reset_index(drop=True)


def surface_test(
    folds: pd.DataFrame, baseline_folds: pd.DataFrame, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Does some layer of a curve beat its surface baseline beyond the fold noise?

    Every layer's fold-paired difference (layer minus baseline) is tested with a one-sided
    t over folds (k - 1 df), against the Bonferroni bound over the layers: the curve's best
    layer is chosen as a maximum, so a test of that layer alone would be biased upward.

    Parameters
    ----------
    folds : DataFrame
        The curve's fold scores: ``fold``, ``layer``, ``score`` (n_folds × n_layers rows).
    baseline_folds : DataFrame
        The baseline's fold scores on the same folds and scale: ``fold``, ``score``.
    alpha : float, default=0.05
        Family-wise level over the layers.

    Returns
    -------
    DataFrame
        One row: ``baseline_score`` and ``baseline_se`` (mean and fold SE of the
        baseline), ``t_baseline`` (the largest t over layers), ``best_layer`` (where it
        is), ``p_baseline`` (its one-sided p times the number of layers, at most 1),
        ``t_bound`` (the Bonferroni bound), ``n_folds`` and ``verdict`` (one of
        :data:`VERDICTS`).
    """
    row = {
        "baseline_score": np.nan,
        "baseline_se": np.nan,
        "t_baseline": np.nan,
        "best_layer": np.nan,
        "p_baseline": np.nan,
        "t_bound": np.nan,
        "n_folds": 0,
        "verdict": VERDICTS[2],
    }
    if baseline_folds is None or baseline_folds.empty:
        return pd.DataFrame([row])
    table = _fold_table(folds)
    base = baseline_folds.groupby("fold")["score"].mean().reindex(table.index)
    ok = base.notna()
    table, base = table[ok], base[ok]
    n = len(base)
    row["n_folds"] = n
    row["baseline_score"] = float(base.mean()) if n else np.nan
    row["baseline_se"] = float(base.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    if n < 2 or table.empty:
        return pd.DataFrame([row])
    diff = table.sub(base, axis=0).to_numpy(dtype=float)
    mean = np.nanmean(diff, axis=0)
    sd = np.nanstd(diff, axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, mean / (sd / np.sqrt(n)), np.sign(mean) * np.inf)
    # a layer equal to the baseline in every fold (both at chance, say) has t = 0, not NaN,
    # which argmax would pick; a layer without scores never wins
    t = np.where(np.isfinite(mean), np.nan_to_num(t, nan=0.0, posinf=np.inf), -np.inf)
    best = int(np.argmax(t))
    n_layers = table.shape[1]
    row["t_baseline"] = float(t[best])
    row["best_layer"] = int(table.columns[best])
    row["p_baseline"] = float(min(1.0, n_layers * stats.t.sf(t[best], n - 1)))
    row["t_bound"] = _above_z(n_layers, alpha, n)
    row["verdict"] = VERDICTS[0] if t[best] > row["t_bound"] else VERDICTS[1]
    return pd.DataFrame([row])


def _normalise(folds: pd.DataFrame, chance: pd.Series) -> pd.DataFrame:
    """Fold rows with ``score`` on the 0 = chance, 1 = perfect scale (chance per target)."""
    frame = folds.assign(chance=folds["target"].map(chance).fillna(0.0).to_numpy())
    return frame.assign(score=normalized(frame))


def _mean_folds(folds: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The mean over targets of normalised fold rows, per ``by``."""
    return folds.groupby(by, as_index=False)["score"].mean()


def _control_row(
    curve: pd.DataFrame,
    folds: pd.DataFrame,
    layer0: pd.DataFrame,
    base_folds: pd.DataFrame,
    *,
    alpha: float,
) -> dict:
    """One row of :func:`controls_table` from a curve, its folds and its two references."""
    curve = curve.sort_values("layer")
    layers = curve["layer"].to_numpy()
    score = curve["score"].to_numpy(dtype=float)
    peak = int(layers[peak_index(score)]) if np.isfinite(score).any() else -1
    row = {
        "peak_layer": peak,
        "peak_score": float(score[layers == peak][0]) if peak >= 0 else np.nan,
    }
    gain = gain_curve(folds, layer0) if not layer0.empty else pd.DataFrame()
    if len(gain) and gain["gain"].notna().any():
        at = gain.set_index("layer")
        row["layer0_score"] = float(layer0["score"].mean())
        row["gain"] = float(at["gain"].get(peak, np.nan))
        row["gain_se"] = float(at["gain_se"].get(peak, np.nan))
        row["gain_peak_layer"] = int(gain["layer"].to_numpy()[peak_index(gain["gain"].to_numpy())])
    test = surface_test(folds, base_folds, alpha=alpha).iloc[0]
    row.update(
        baseline_score=test["baseline_score"],
        baseline_se=test["baseline_se"],
        above_baseline=row["peak_score"] - test["baseline_score"],
        t_baseline=test["t_baseline"],
        p_baseline=test["p_baseline"],
        baseline_verdict=test["verdict"],
    )
    if not layer0.empty:
        share = lexical_share(curve, folds, layer0=layer0, alpha=alpha).iloc[0]
        row.update(lexical_share=share["share"], lexical_verdict=share["verdict"])
    return row


def controls_table(
    scores: pd.DataFrame,
    folds: pd.DataFrame,
    layer0: pd.DataFrame,
    baselines: pd.DataFrame | None = None,
    baseline_folds: pd.DataFrame | None = None,
    *,
    targets: list[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Every target's curve and the set's mean curve against layer 0 and the surface baselines.

    For one model, stimulus set, pooling and component.

    Parameters
    ----------
    scores : DataFrame
        Primary-metric ``probe_scores`` rows of the curve family (n_targets × n_layers).
    folds : DataFrame
        The matching ``fold_scores`` rows (primary metric).
    layer0 : DataFrame
        ``fold_scores`` rows of ``resid_pre`` at layer 0 (``target``, ``fold``, ``score``)
        of the same targets.
    baselines, baseline_folds : DataFrame, optional
        ``baseline_scores`` and ``baseline_fold_scores`` rows of the same result; without
        them the baseline columns are NaN and the verdict says none is stored.
    targets : list of str, optional
        The targets averaged into the mean row (default: every target but controls).
    alpha : float, default=0.05

    Returns
    -------
    DataFrame
        One row per target, then the mean (``target`` = :data:`MEAN`, ``metric``
        ``"normalized"``): :data:`TABLE_COLUMNS`.  Target rows are in their primary metric,
        the mean row on the normalised scale (0 = chance, 1 = perfect).  ``layer0_score``
        (resid_pre layer 0), ``peak_layer``/``peak_score`` (:func:`peak_index`), ``gain``
        ± ``gain_se`` (at the peak, over layer 0, fold-paired), ``gain_peak_layer``,
        ``baseline`` (the best one's name; for the mean, each target's best, named by
        count), ``baseline_score`` ± ``baseline_se``, ``above_baseline`` (peak minus
        baseline), ``t_baseline``/``p_baseline``/``baseline_verdict``
        (:func:`surface_test`), ``lexical_share``/``lexical_verdict``
        (:func:`~core.analysis.lexical.lexical_share`).
    """
    baselines = baselines if baselines is not None else pd.DataFrame()
    baseline_folds = baseline_folds if baseline_folds is not None else pd.DataFrame()
    best = best_baselines(baselines)
    best_name = dict(zip(best["target"], best["baseline"])) if len(best) else {}
    if len(baseline_folds):
        chosen = baseline_folds["baseline"].to_numpy() == baseline_folds["target"].map(best_name)
        best_folds = baseline_folds[chosen]
    else:
        best_folds = pd.DataFrame(columns=["target", "fold", "score"])
    rows = []
    for target, curve in scores.groupby("target", sort=False):
        row = _control_row(
            curve,
            folds[folds["target"] == target],
            layer0[layer0["target"] == target],
            best_folds[best_folds["target"] == target],
            alpha=alpha,
        )
        row.update(
            target=target, metric=curve["metric"].iloc[0], baseline=best_name.get(target, "")
        )
        rows.append(row)
    chosen = targets if targets is not None else property_targets(scores["target"])
    if chosen:
        mine = scores[scores["target"].isin(chosen)]
        chance = mine.drop_duplicates("target").set_index("target")["chance"]
        mean_folds = _mean_folds(
            _normalise(folds[folds["target"].isin(chosen)], chance), ["fold", "layer"]
        )
        curve = mean_folds.groupby("layer", as_index=False)["score"].mean().assign(chance=0.0)
        curve["n_layers"] = int(mine["n_layers"].iloc[0]) if "n_layers" in mine else len(curve)
        base0 = _mean_folds(_normalise(layer0[layer0["target"].isin(chosen)], chance), ["fold"])
        base_b = best_folds[best_folds["target"].isin(chosen)]
        complete = set(base_b["target"]) >= set(chosen)  # the mean needs every target's baseline
        base_b = _mean_folds(_normalise(base_b, chance), ["fold"]) if complete else base_b.iloc[:0]
        row = _control_row(curve, mean_folds, base0, base_b, alpha=alpha)
        names = pd.Series([best_name[t] for t in chosen if t in best_name]).value_counts()
        label = ", ".join(f"{n} ×{c}" for n, c in names.items()) if complete else ""
        row.update(target=MEAN, metric="normalized", baseline=label)
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS)


__all__ = [
    "MEAN",
    "VERDICTS",
    "best_baselines",
    "controls_table",
    "gain_curve",
    "gain_scores",
    "surface_test",
]
