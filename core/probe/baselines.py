"""Surface baselines: the layer probes, refitted on a few surface features per stimulus.

Each baseline (:data:`core.stimuli.surface.BASELINES`) is one more "layer" for the probe
engine: its feature matrix goes through :func:`~core.probe.grid.probe_cell` with the run's
own plan, so the folds, the solver (SVM or ridge with inner-CV alpha) and the metrics are
those of every layer probe, and a layer's fold scores pair with the baseline's fold by fold.
No permutations: the verdict against a baseline is the paired test over folds
(:mod:`core.analysis.controls`), not a null of the baseline itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from core.probe import metrics
from core.probe.grid import make_plan, probe_cell
from core.probe.settings import ProbeSettings
from core.stimuli import StimulusSet
from core.stimuli.surface import BASELINES

FOLD_COLUMNS = ["target", "baseline", "metric", "fold", "score"]
SCORE_COLUMNS = ["target", "baseline", "metric", "score", "score_se"]


def probe_baselines(
    features: pd.DataFrame,
    stimuli: StimulusSet,
    settings: ProbeSettings | None = None,
    *,
    baselines: dict[str, tuple[str, ...]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fold scores and summaries of every target's probe on each surface baseline.

    Parameters
    ----------
    features : DataFrame of shape (n_items, n_features)
        :func:`~core.stimuli.surface.surface_features` of ``stimuli``, rows in its order.
    stimuli : StimulusSet
        The run's stimuli (targets, groups).
    settings : ProbeSettings, optional
        The run's settings: folds, seed, C and alphas as for the layer probes
        (permutations and halves are not used here).
    baselines : dict of str to tuple of str, optional
        Baseline name → feature columns (default :data:`~core.stimuli.surface.BASELINES`).
        A feature that is absent or constant over the set (the position in ``"The {noun}"``)
        is dropped; a baseline left without features is left out.

    Returns
    -------
    scores : DataFrame
        ``target``, ``baseline``, ``metric``, ``score`` (mean over folds) and ``score_se``
        (fold SD / √k, as ``probe_scores``): one row per target × baseline, primary metric.
    folds : DataFrame
        ``target``, ``baseline``, ``metric``, ``fold``, ``score``: the primary metric of
        every fold (n_targets × n_baselines × n_folds rows).
    """
    settings = replace(settings or ProbeSettings(), permutations=0, half_splits=0)
    plan = make_plan(stimuli, settings)  # same seed and folds as the layer probes
    primary = {t.name: metrics.PRIMARY[t.probe] for t in plan.targets}
    rows = []
    varying = [c for c in features.columns if features[c].nunique() > 1]
    for name, columns in (baselines or BASELINES).items():
        present = [c for c in columns if c in varying]
        if not present:  # e.g. position in "The {noun}": nothing to read, no row
            continue
        X = features[present].to_numpy(dtype=np.float64)
        result = probe_cell(X, plan)["full"]
        for target, metric in primary.items():
            for k, value in enumerate(result[target]["folds"][metric]):
                rows.append((target, name, metric, k, float(value)))
    folds = pd.DataFrame(rows, columns=FOLD_COLUMNS)
    grouped = folds.groupby(["target", "baseline", "metric"], sort=False)["score"]
    scores = grouped.agg(
        score="mean",
        score_se=lambda s: (
            s.std(ddof=1) / np.sqrt(s.notna().sum()) if s.notna().sum() > 1 else np.nan
        ),
    ).reset_index()
    return scores[SCORE_COLUMNS], folds
