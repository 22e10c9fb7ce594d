"""A model's findings in numbers: the paper's questions asked of every stored set at once.

Where does each set's mean curve peak, how much of that peak is already in the token
embeddings, does it peak twice beyond the noise, do adjacent layers alternate beyond what
noise gives, and which sets peak before which?  The answer is a dict of tidy tables, the
same ones the CLI's ``report`` prints and the app shows, computed from ``probe_scores``,
``fold_scores`` and ``half_scores`` rows, and from ``item_predictions`` where they exist.
Controls (word frequency, length...) never enter a curve here: every table is about the
property targets (:func:`~core.analysis.summary.property_targets`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from core.analysis.compare import hierarchy
from core.analysis.controls import controls_table
from core.analysis.dips import shared_dips, valley_at_sink
from core.analysis.lexical import lexical_share
from core.analysis.peaks import double_peak
from core.analysis.persistence import naive_rho, split_half_rho
from core.analysis.summary import (
    curve_summary,
    mean_curve,
    normalized,
    property_targets,
    select_properties,
)
from core.analysis.threads import one_blas_thread
from core.names import COMPONENTS, HIERARCHY, in_set_order

CURVE = ["model", "stimulus_set", "pooling", "component"]
TABLES = (
    "curves",
    "lexical",
    "double_peaks",
    "persistence",
    "hierarchy",
    "order",
    "shared_dips",
    "controls",
)


def mean_fold_curve(
    scores: pd.DataFrame, folds: pd.DataFrame, *, targets: Iterable[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mean normalised curve over property targets, with the fold noise of that mean.

    :func:`~core.analysis.summary.mean_curve` gives each layer an SE over *targets* (how
    much the mean would move with other targets).  Whether a dip in this one mean curve is
    real is a question about *measurement* noise, so here every fold's scores are
    normalised and averaged over targets first, and the SE is taken over folds.

    Parameters
    ----------
    scores : DataFrame
        Primary-metric ``probe_scores`` rows of one curve family (any number of targets of
        one model, stimulus set, pooling and component), with ``chance``.
    folds : DataFrame
        The matching ``fold_scores`` rows (other metrics are dropped).
    targets : iterable of str, optional
        The targets to average (default: every target but controls).

    Returns
    -------
    curve : DataFrame
        As :func:`mean_curve` (n_layers rows), with ``score_se`` = SD over folds of the
        fold means / √k.
    fold_curve : DataFrame
        ``fold``, ``layer``, ``score`` (n_folds × n_layers rows): the mean normalised score
        of each fold.
    """
    chosen = list(targets) if targets is not None else property_targets(scores["target"])
    scores = scores[scores["target"].isin(chosen)]
    keys = [k for k in CURVE if k in scores.columns and k in folds.columns]
    primary = scores.drop_duplicates([*keys, "target"])[[*keys, "target", "metric", "chance"]]
    rows = folds.merge(primary, on=[*keys, "target", "metric"], how="inner")
    rows = rows.assign(score=normalized(rows))
    fold_curve = rows.groupby(["fold", "layer"], as_index=False)["score"].mean()
    spread = fold_curve.groupby("layer")["score"].agg(["std", "count"])
    curve = mean_curve(scores, by=tuple(keys), targets=chosen)
    se = spread["std"] / np.sqrt(spread["count"])
    curve["score_se"] = curve["layer"].map(se).to_numpy()
    return curve, fold_curve


def _subset(frame: pd.DataFrame | None, head: Mapping) -> pd.DataFrame:
    """Rows of ``frame`` matching every key of ``head`` that it has."""
    if frame is None or frame.empty:
        return pd.DataFrame()
    mask = np.ones(len(frame), dtype=bool)
    for column, value in head.items():
        if column in frame.columns:
            mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def _curve_tables(
    scores: pd.DataFrame, folds: pd.DataFrame, *, n_sim: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per set × component: the mean curve's summary, its layer-0 share and its double peak."""
    keys = [k for k in CURVE if k in scores.columns]
    curve_rows, lexical_rows, peak_rows = [], [], []
    layer0 = {}  # resid_pre's layer-0 fold scores per (model, set, pooling)
    fold_curves = {}
    for key, part in scores.groupby(keys, sort=False):
        head = dict(zip(keys, key))
        curve, fold_curve = mean_fold_curve(part, _subset(folds, head))
        fold_curves[key] = (head, curve, fold_curve)
        if head.get("component") == "resid_pre":
            rest = tuple(v for k, v in head.items() if k != "component")
            layer0[rest] = fold_curve[fold_curve["layer"] == curve["layer"].min()]
    for head, curve, fold_curve in fold_curves.values():
        summary = curve_summary(curve, keys=keys)
        curve_rows.append(summary.assign(n_targets=int(curve["n_targets"].max())))
        rest = tuple(v for k, v in head.items() if k != "component")
        base = None if head.get("component") == "resid_pre" else layer0.get(rest)
        if head.get("component") == "resid_pre" or base is not None:
            lexical_rows.append(lexical_share(curve, fold_curve, layer0=base).assign(**head))
        peak_rows.append(double_peak(curve, fold_curve, n_sim=n_sim, seed=seed).assign(**head))
    return (
        _concat(curve_rows, keys),
        _concat(lexical_rows, keys),
        _concat(peak_rows, keys),
    )


def _concat(rows: list[pd.DataFrame], keys: list[str], *extra: str) -> pd.DataFrame:
    """Concatenate per-curve tables with the key columns first."""
    if not rows:
        return pd.DataFrame()
    frame = pd.concat(rows, ignore_index=True)
    first = [k for k in (*keys, *extra) if k in frame.columns]
    return frame[[*first, *[c for c in frame.columns if c not in first]]]


def _persistence_table(
    scores: pd.DataFrame,
    folds: pd.DataFrame,
    halves: pd.DataFrame,
    *,
    sink_layers: Mapping[str, Iterable[int]] | None,
    n_baseline: int,
    seed: int,
) -> pd.DataFrame:
    """Naive and split-half ρ per set × component (split-half only where halves exist)."""
    keys = [k for k in CURVE if k in scores.columns]
    rows = []
    for key, part in scores.groupby(keys, sort=False):
        head = dict(zip(keys, key))
        sinks = (sink_layers or {}).get(head.get("model"))
        settings = dict(n_baseline=n_baseline, seed=seed, sink_layers=sinks)
        fold_rows = _subset(folds, head)
        if not fold_rows.empty:
            primary = part.drop_duplicates("target").set_index("target")["metric"]
            fold_rows = fold_rows[fold_rows["target"].isin(primary.index)]
            if "metric" in fold_rows.columns:
                fold_rows = fold_rows[fold_rows["metric"] == fold_rows["target"].map(primary)]
        rows.append(naive_rho(part, fold_rows, **settings).assign(estimator="naive"))
        own = _subset(halves, head)
        own = own[own["target"].isin(part["target"])] if not own.empty else own
        if not own.empty:
            split = split_half_rho(own, fold_rows, **settings)
            rows.append(split.assign(estimator="split-half"))
    return _concat(rows, keys, "estimator")


def _shared_dip_table(
    scores: pd.DataFrame, *, sink_layers: Mapping[str, Iterable[int]] | None, seed: int
) -> pd.DataFrame:
    """:func:`~core.analysis.dips.shared_dips` over each set × component's property targets."""
    keys = [k for k in CURVE if k in scores.columns]
    rows = []
    for key, part in scores.groupby(keys, sort=False):
        head = dict(zip(keys, key))
        wide = part.assign(value=normalized(part)).pivot_table(
            index="target", columns="layer", values="value", aggfunc="mean"
        )
        sinks = list((sink_layers or {}).get(head.get("model"), ()))
        table = shared_dips(
            wide.to_numpy(), layers=wide.columns.to_numpy(), sink_layers=sinks, seed=seed
        )
        if not table.empty:
            rows.append(table.assign(**head, sink_layers=", ".join(map(str, sinks))))
    return _concat(rows, keys)


def _mark_sink_valleys(
    peaks: pd.DataFrame, sink_layers: Mapping[str, Iterable[int]] | None
) -> pd.DataFrame:
    """``valley_at_sink``: whether each double peak's valley is an attention-sink layer."""
    if peaks.empty or not sink_layers or "valley_layer" not in peaks.columns:
        return peaks
    return peaks.assign(
        valley_at_sink=[
            valley_at_sink(row.valley_layer, (sink_layers or {}).get(row.model, ()))
            for row in peaks.itertuples()
        ]
    )


def _mark_shared_valleys(peaks: pd.DataFrame, dips: pd.DataFrame) -> pd.DataFrame:
    """``valley_shared``: the share of targets dipping at a double peak's valley when that
    layer is a dip most targets share (:func:`~core.analysis.dips.shared_dips`), else NaN."""
    if peaks.empty or dips.empty or "valley_layer" not in peaks.columns:
        return peaks
    keys = [k for k in CURVE if k in peaks.columns and k in dips.columns]
    shared = dips[dips["shared"].astype(bool)]
    found = {
        (*(getattr(row, k) for k in keys), float(row.layer)): float(row.share)
        for row in shared.itertuples()
    }
    return peaks.assign(
        valley_shared=[
            found.get((*(getattr(row, k) for k in keys), float(row.valley_layer)), np.nan)
            for row in peaks.itertuples()
        ]
    )


def valley_flags(
    peaks: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    sink_layers: Mapping[str, Iterable[int]] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Say of each double peak whether its valley is a sink layer or a dip targets share.

    What :func:`findings` adds to its ``double_peaks`` rows, for double-peak rows computed
    elsewhere (the Double peaks page tests one target's curve, or the mean).

    Parameters
    ----------
    peaks : DataFrame
        :func:`~core.analysis.peaks.double_peak` rows with ``valley_layer`` and the
        :data:`CURVE` columns that tell the curves apart (``model``, ``component``, ...).
    scores : DataFrame
        Layer scores of every target of those curves (controls are left out here), the
        curves the shared-dip test is run on.
    sink_layers : mapping of str to iterable of int, optional
        Attention-sink layers per model.
    seed : int

    Returns
    -------
    DataFrame
        ``peaks`` with ``valley_at_sink`` (with ``sink_layers``) and ``valley_shared``
        (when a valley is a flagged shared dip; the share of targets dipping there).
    """
    dips = _shared_dip_table(select_properties(scores), sink_layers=sink_layers, seed=seed)
    return _mark_shared_valleys(_mark_sink_valleys(peaks, sink_layers), dips)


def _hierarchy_tables(
    scores: pd.DataFrame,
    folds: pd.DataFrame,
    predictions: pd.DataFrame | None,
    groups: pd.DataFrame | None,
    *,
    order: tuple[str, ...],
    kinds: Mapping[str, str] | None,
    n_boot: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`hierarchy` per model × pooling × component where two sets of ``order`` exist."""
    keys = [k for k in ("model", "pooling", "component") if k in scores.columns]
    sets_rows, pair_rows = [], []
    for key, part in scores.groupby(keys, sort=False):
        if len(set(part["stimulus_set"]) & set(order)) < 2:
            continue
        head = dict(zip(keys, key))
        result = hierarchy(
            part,
            predictions=_subset(predictions, head),
            groups=_subset(groups, {k: v for k, v in head.items() if k != "component"}),
            folds=_subset(folds, head),
            kinds=kinds,
            order=order,
            n_boot=n_boot,
            seed=seed,
        )
        # one model and pooling is the usual case: name them only when they vary
        label = {k: v for k, v in head.items() if k == "component" or scores[k].nunique() > 1}
        sets_rows.append(result["sets"].assign(**label))
        pair_rows.append(result["pairs"].assign(**label))
    return _concat(sets_rows, keys), _concat(pair_rows, keys)


def _controls_tables(
    scores: pd.DataFrame,
    folds: pd.DataFrame,
    baselines: pd.DataFrame | None,
    baseline_folds: pd.DataFrame | None,
) -> pd.DataFrame:
    """:func:`~core.analysis.controls.controls_table` per set × component (targets and mean)."""
    keys = [k for k in CURVE if k in scores.columns]
    rest = [k for k in keys if k != "component"]
    rows = []
    for key, part in scores.groupby(keys, sort=False):
        head = dict(zip(keys, key))
        result = {k: v for k, v in head.items() if k != "component"}
        own = _subset(folds, head)
        if own.empty:
            continue
        resid = _subset(folds, {**result, "component": "resid_pre"})
        layer0 = resid[resid["layer"] == 0] if not resid.empty else resid
        table = controls_table(
            part,
            own,
            layer0,
            _subset(baselines, result),
            _subset(baseline_folds, result),
        )
        rows.append(table.assign(**head))
    return _concat(rows, [*rest, "component"]) if rows else pd.DataFrame()


@one_blas_thread
def findings(
    scores: pd.DataFrame,
    folds: pd.DataFrame,
    halves: pd.DataFrame,
    *,
    predictions: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    kinds: Mapping[str, str] | None = None,
    controls: Iterable[str] = (),
    sink_layers: Mapping[str, Iterable[int]] | None = None,
    baselines: pd.DataFrame | None = None,
    baseline_folds: pd.DataFrame | None = None,
    order: tuple[str, ...] = HIERARCHY,
    n_sim: int = 200,
    n_boot: int = 1000,
    n_baseline: int = 500,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Every set × component of one model and pooling, summarised and tested.

    Parameters
    ----------
    scores, folds, halves : DataFrame
        Primary-metric ``probe_scores`` rows and the matching ``fold_scores`` and
        ``half_scores`` rows (``halves`` may be empty: runs without half splits).
    predictions : DataFrame, optional
        The matching ``item_predictions`` rows: the hierarchy then resamples stimuli;
        without them it falls back to resampling folds (labelled weaker).
    groups : DataFrame, optional
        ``folds``-table rows (``stimulus_set``, ``item_id``, ``group``) for ``predictions``.
    kinds : mapping, optional
        ``target`` → ``binary``/``multiclass``/``continuous`` (the ``targets`` table).
    controls : iterable of str
        Targets to leave out beside those :func:`~core.analysis.summary.is_control` finds.
    sink_layers : mapping, optional
        ``model`` → attention-sink layers (:func:`core.analysis.sinks.sink_layers`): ρ is
        also given with them interpolated, and dips and valleys there are marked.
    baselines, baseline_folds : DataFrame, optional
        The matching ``baseline_scores`` and ``baseline_fold_scores`` rows (surface
        baselines); without them the controls table has no baseline columns filled.
    order : tuple of str
        The hierarchy to test, shallowest first.
    n_sim, n_boot, n_baseline : int
        Simulations of the double-peak null, bootstrap resamples of the hierarchy, null
        replicates of ρ.
    seed : int

    Returns
    -------
    dict of DataFrame
        ``curves``: per set × component, the mean curve's peak layer and depth, peak band,
        expected depth (a description) and area above chance
        (:func:`~core.analysis.summary.curve_summary`), ``n_targets`` and ``controls``
        (targets left out); ``lexical``: :func:`~core.analysis.lexical.lexical_share` of
        each mean curve against ``resid_pre`` layer 0; ``double_peaks``:
        :func:`~core.analysis.peaks.double_peak` on each mean curve against its fold noise;
        ``persistence``: naive and split-half ρ against their nulls; ``hierarchy`` and
        ``order``: :func:`~core.analysis.compare.hierarchy`'s ``sets`` and ``pairs`` per
        component, when two or more of ``order`` are present; ``controls``: per set ×
        component, every property target and the mean against ``resid_pre`` layer 0 and
        the best surface baseline (:func:`~core.analysis.controls.controls_table`; the
        gain curve peaks where the raw curve does, so ``hierarchy`` and ``order`` hold
        for the gain curves as they stand); ``shared_dips``:
        :func:`~core.analysis.dips.shared_dips` of each set × component's targets, with
        ``at_sink`` and the model's ``sink_layers``; with ``sink_layers``, ``double_peaks``
        also has ``valley_at_sink``.
    """
    keep = property_targets(scores["target"], controls=controls)
    left_out = sorted(set(scores["target"]) - set(keep))
    scores = scores[scores["target"].isin(keep)]
    if "is_primary" in scores.columns:
        scores = scores[scores["is_primary"].astype(bool)]
    curves, lexical, peaks = _curve_tables(scores, folds, n_sim=n_sim, seed=seed)
    if len(curves):
        curves = curves.assign(controls=", ".join(left_out))
    rho = _persistence_table(
        scores, folds, halves, sink_layers=sink_layers, n_baseline=n_baseline, seed=seed
    )
    sets, pairs = _hierarchy_tables(
        scores, folds, predictions, groups, order=order, kinds=kinds, n_boot=n_boot, seed=seed
    )
    controls = _controls_tables(scores, folds, baselines, baseline_folds)
    dips = _shared_dip_table(scores, sink_layers=sink_layers, seed=seed)
    peaks = _mark_shared_valleys(_mark_sink_valleys(peaks, sink_layers), dips)
    return {
        "curves": _in_order(curves, order),
        "lexical": _in_order(lexical, order),
        "double_peaks": _in_order(peaks, order),
        "persistence": _in_order(rho, order, "estimator"),
        "hierarchy": _in_order(sets, order),
        "order": _in_order(pairs, order),
        "controls": _in_order(controls, order),
        "shared_dips": _in_order(dips, order),
    }


def _in_order(frame: pd.DataFrame, order: tuple[str, ...], *extra: str) -> pd.DataFrame:
    """Sets shallowest first (then the rest by name), components as extracted."""
    if frame.empty:
        return frame
    named = frame["stimulus_set"] if "stimulus_set" in frame.columns else []
    sets = [*order, *(s for s in in_set_order(named) if s not in order)]
    rank = {
        "stimulus_set": lambda c: c.map({s: i for i, s in enumerate(sets)}),
        "component": lambda c: c.map({x: i for i, x in enumerate(COMPONENTS)}).fillna(
            len(COMPONENTS)
        ),
    }
    columns = [c for c in ("stimulus_set", "component", *extra) if c in frame.columns]
    return frame.sort_values(
        columns,
        key=lambda c: rank[c.name](c) if c.name in rank else c,
        ignore_index=True,
        kind="stable",  # rows of one component keep their order (pairs: earlier set first)
    )
