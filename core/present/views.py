"""Data for the views: database rows shaped for the figure builders (no Streamlit here)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd

from core.analysis.sinks import sinks_by_model
from core.analysis.summary import property_targets
from core.errors import StrataError
from core.names import COMPONENTS, in_set_order
from core.paths import cache_dir, default_db, models_dir
from core.storage import memo, store
from core.storage.activations import ActivationCache


def curves(
    db: str | Path | None,
    *,
    model: str | list[str],
    stimulus_set: str | list[str],
    pooling: str,
    components: list[str] | tuple[str, ...],
    targets: list[str] | None = None,
    metric: str = "primary",
) -> pd.DataFrame:
    """``probe_scores`` rows of the chosen curves, with ``relative_depth`` = l / (L-1).

    ``metric="primary"`` takes each probe's primary metric (balanced accuracy for SVM
    targets, Pearson r for ridge targets).
    """
    frame = store.query(
        db,
        "probe_scores",
        model=model,
        stimulus_set=stimulus_set,
        pooling=pooling,
        component=list(components),
        target=targets,
    )
    frame = frame[frame["is_primary"]] if metric == "primary" else frame[frame["metric"] == metric]
    frame = frame.copy()
    frame["relative_depth"] = frame["layer"] / (frame["n_layers"] - 1).clip(lower=1)
    return frame.sort_values(["model", "stimulus_set", "target", "component", "layer"])


def _current_hash(name: str, stamp: float) -> str | None:
    """The content hash of a stimulus set as it is now (``stamp`` keys the memo)."""
    from core.stimuli import StimulusError, load

    key = (name, stamp)
    if key not in _HASHES:
        try:
            _HASHES[key] = load(name).content_hash
        except StimulusError:
            _HASHES[key] = None  # a set that no longer exists: nothing to compare with
    return _HASHES[key]


_HASHES: dict[tuple[str, float], str | None] = {}


def results_index(db: str | Path | None = None) -> pd.DataFrame:
    """:func:`store.results_index` plus ``current``: was each result computed on the set as
    it is now?

    ``current`` is True when the stored ``stimuli_hash`` equals the content hash of the
    built-in or uploaded set of that name today, False when the set has changed since (a
    rebuilt built-in set, a re-uploaded file), and None when the set is gone or the run
    stored no hash.

    Returns
    -------
    DataFrame, one row per (model, stimulus_set, pooling)
    """
    from core.stimuli.registry import source_stamp

    frame = store.results_index(db)
    current = []
    for name, stored in zip(frame["stimulus_set"], frame["stimuli_hash"]):
        now = _current_hash(name, source_stamp(name))
        missing = now is None or stored is None or pd.isna(stored) or not stored
        current.append(None if missing else bool(now == stored))
    frame["current"] = pd.Series(current, index=frame.index, dtype=object)
    return frame


def targets_of(db, *, model: str, stimulus_set: str, pooling: str) -> pd.DataFrame:
    """The targets of a stored result, in stimulus-file order, with their kind and probe."""
    frame = store.query(db, "targets", model=model, stimulus_set=stimulus_set, pooling=pooling)
    return frame.sort_values("position") if not frame.empty else frame


def cache_status(db: str | Path | None = None) -> dict:
    """What is on disk: converted models, activation entries, the database."""
    entries = ActivationCache().entries()
    models = [p for p in models_dir().iterdir() if (p / "config.json").is_file()]
    path = Path(db) if db is not None else default_db()
    return {
        "cache_dir": str(cache_dir()),
        "converted_models": sorted(p.name for p in models),
        "converted_bytes": int(sum(f.stat().st_size for p in models for f in p.glob("*"))),
        "activation_entries": len(entries),
        "activation_bytes": int(sum(e["bytes"] for e in entries)),
        "activations": pd.DataFrame(
            [
                {
                    "model": e.get("model", {}).get("name"),
                    "stimulus_set": e.get("stimulus_set"),
                    "pooling": e.get("pooling"),
                    "items": len(e.get("item_ids", [])),
                    "MB": round(e["bytes"] / 1e6, 1),
                }
                for e in entries
            ]
        ),
        "db_path": str(path),
        "db_bytes": path.stat().st_size if path.exists() else 0,
    }


def with_significance(scores: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Shade-able significance: BH over the layers × components of each target's curve."""
    from core.analysis import mark_significant

    if scores.empty:
        return scores.assign(q_value=pd.Series(dtype=float), significant=pd.Series(dtype=bool))
    return mark_significant(scores, alpha=alpha)


def mean_curves(
    db, *, model: str | list[str], stimulus_sets: list[str], pooling: str, components
) -> pd.DataFrame:
    """Mean normalised curve over each set's targets (0 = chance, 1 = perfect)."""
    from core.analysis import mean_curve

    scores = curves(
        db, model=model, stimulus_set=stimulus_sets, pooling=pooling, components=components
    )
    if scores.empty:
        return scores
    return mean_curve(scores)


def fold_rows(db, **filters) -> pd.DataFrame:
    """``fold_scores`` of the chosen curves."""
    return store.query(db, "fold_scores", **filters)


def half_rows(db, **filters) -> pd.DataFrame:
    """``half_scores`` (per-half curves for the split-half estimator)."""
    return store.query(db, "half_scores", **filters)


def cached_activations(db, *, model: str, stimulus_set: str, pooling: str):
    """The activations behind a stored result, if they are on this machine (never extracts).

    Returns ``None`` when the result came from elsewhere (imported) or the cache was cleared.
    """
    run = store.latest_run(db, model, stimulus_set, pooling)
    if run is None or not run.get("activation_key"):
        return None
    return ActivationCache().load(run["activation_key"], verify=False)


def controls_of(
    db, *, model: str, stimulus_set: str, pooling: str, targets: list[str]
) -> dict[str, pd.DataFrame]:
    """What a target's curve is drawn against: layer 0 of ``resid_pre``, the best surface
    baseline, and the fold scores that turn curves into gains.

    Returns
    -------
    dict of DataFrame
        ``layer0``: ``target``, ``score``, ``score_se`` (primary metric, resid_pre layer 0);
        ``baseline``: the best ``baseline_scores`` row per target (empty for results stored
        before baselines existed); ``folds``: primary-metric ``fold_scores`` rows of every
        component of ``targets``.
    """
    from core.analysis.controls import best_baselines

    scores = curves(
        db,
        model=model,
        stimulus_set=stimulus_set,
        pooling=pooling,
        components=["resid_pre"],
        targets=targets,
    )
    layer0 = scores[scores["layer"] == 0][["target", "metric", "score", "score_se"]]
    base = store.query(
        db,
        "baseline_scores",
        model=model,
        stimulus_set=stimulus_set,
        pooling=pooling,
        target=targets,
    )
    if not base.empty and not layer0.empty:  # the primary metric only, as the curves
        base = base.merge(layer0[["target", "metric"]], on=["target", "metric"])
    filters = dict(model=model, stimulus_set=stimulus_set, pooling=pooling, target=targets)
    folds = _primary_folds(db, scores, **filters)
    return {"layer0": layer0, "baseline": best_baselines(base), "folds": folds}


def _primary_folds(db, scores: pd.DataFrame, **filters) -> pd.DataFrame:
    """``fold_scores`` rows of each target's primary metric (the metric of ``scores``)."""
    folds = store.query(db, "fold_scores", **filters)
    if folds.empty or scores.empty:
        return folds
    keys = ["model", "stimulus_set", "pooling", "target", "metric"]
    return folds.merge(scores[keys].drop_duplicates(), on=keys, how="inner")


def findings(
    db,
    *,
    model: str,
    pooling: str = "mean",
    components: list[str] | tuple[str, ...] = COMPONENTS,
    stimulus_sets: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Peaks, layer-0 shares, double peaks, anti-persistence and the order of one model's sets.

    Computed by :func:`core.analysis.findings.findings` and kept in the analysis cache, so
    a second call (another app session, the CLI's ``report``) reads it back.  Per-stimulus
    predictions (``item_predictions``) and their groups are passed when the database has
    them, so the order of sets is tested by resampling stimuli; without them the analysis
    falls back to resampling folds and says so.

    Raises
    ------
    StrataError
        When the database holds no results of ``model`` with ``pooling``.
    """
    from core.analysis.findings import findings as compute

    scores = curves(
        db, model=model, stimulus_set=stimulus_sets, pooling=pooling, components=components
    )
    if scores.empty:
        raise StrataError(
            f"no results for model '{model}' with pooling '{pooling}' "
            "(see `python -m core results`)"
        )
    filters = dict(
        model=model,
        stimulus_set=sorted(scores["stimulus_set"].unique()),
        pooling=pooling,
        component=list(components),
    )
    folds = _primary_folds(db, scores, **filters)
    halves = store.query(db, "half_scores", **filters)
    predictions = store.query(db, "item_predictions", **filters)
    by_result = {k: v for k, v in filters.items() if k != "component"}
    groups = store.query(db, "folds", **by_result) if not predictions.empty else None
    targets = store.query(db, "targets", **by_result)
    kinds = (
        dict(zip(targets["target"], targets["kind"]))
        if not targets.empty and "kind" in targets
        else None
    )
    baselines = store.query(db, "baseline_scores", **by_result)
    baseline_folds = store.query(db, "baseline_fold_scores", **by_result)
    stats = store.sink_stats(db, model=model)
    sinks = sinks_by_model(stats)
    tables = memo.cached(
        db,
        compute,
        scores,
        folds,
        halves,
        predictions=predictions,
        groups=groups,
        kinds=kinds,
        baselines=baselines if not baselines.empty else None,
        baseline_folds=baseline_folds if not baseline_folds.empty else None,
        sink_layers=sinks or None,
    )
    tables = dict(tables)
    tables["sinks"] = sink_table(stats)
    if pooling == "mean":
        layers, thirds = analogy_effects(
            db, model=model, components=components, stimulus_sets=stimulus_sets
        )
        tables["analogy_effect"], tables["analogy_layers"] = thirds, layers
    return tables


def sink_table(stats: pd.DataFrame) -> pd.DataFrame:
    """Per model: its sink layers and, at each, the norm ratio and attention on position 0.

    Parameters
    ----------
    stats : DataFrame
        ``sink_stats`` rows.

    Returns
    -------
    DataFrame
        ``model``, ``sink_layers`` (text), ``norm_ratio``, ``attn_pos0`` (at the sink
        layers, medians over sets), ``median_norm_ratio`` and ``median_attn_pos0`` over
        all layers, ``stimulus_sets`` measured; empty without statistics.
    """
    from core.analysis.sinks import sink_layers, sink_profile

    rows = []
    for model, part in stats.groupby("model") if not stats.empty else []:
        profile = sink_profile(part).set_index("layer")
        layers = sink_layers(part)
        rows.append(
            {
                "model": model,
                "sink_layers": ", ".join(map(str, layers)) or "none",
                "norm_ratio": ", ".join(f"{profile.loc[x, 'norm_ratio']:.1f}" for x in layers),
                "attn_pos0": ", ".join(f"{profile.loc[x, 'attn_pos0']:.2f}" for x in layers),
                "median_norm_ratio": float(profile["norm_ratio"].median()),
                "median_attn_pos0": float(profile["attn_pos0"].median()),
                "stimulus_sets": ", ".join(in_set_order(part["stimulus_set"].unique())),
            }
        )
    return pd.DataFrame(rows)


def analogy_effects(
    db,
    *,
    model: str,
    components: list[str] | tuple[str, ...] = COMPONENTS,
    stimulus_sets: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`core.analysis.halves.analogy_effect` of every set stored with its halves.

    Returns
    -------
    per_layer, per_range : DataFrame
        Both empty when no set has ``mean`` and both half poolings stored.
    """
    from core.analysis.halves import analogy_effect, half_fold_curves, halves_of

    index = store.results_index(db)
    index = index[index["model"] == model]
    if stimulus_sets is not None:
        index = index[index["stimulus_set"].isin(stimulus_sets)]
    wanted = {}
    for stimulus_set, part in index.groupby("stimulus_set"):
        pair = halves_of(part["pooling"])
        if pair is not None and "mean" in set(part["pooling"]):
            wanted[stimulus_set] = ["mean", *pair]
    if not wanted:
        return pd.DataFrame(), pd.DataFrame()
    frames = []
    for stimulus_set, poolings in wanted.items():
        for pooling in poolings:
            scores = curves(
                db, model=model, stimulus_set=stimulus_set, pooling=pooling, components=components
            )
            scores = scores[scores["target"].isin(property_targets(scores["target"]))]
            filters = dict(
                model=model, stimulus_set=stimulus_set, pooling=pooling, component=list(components)
            )
            frames.append((scores, _primary_folds(db, scores, **filters)))
    scores = pd.concat([s for s, _ in frames], ignore_index=True)
    folds = pd.concat([f for _, f in frames], ignore_index=True)
    return analogy_effect(half_fold_curves(scores, folds))


def run_settings(db, *, model: str, pooling: str, stimulus_sets: list[str]) -> pd.DataFrame:
    """What each stored result was measured with, for captions: n, folds, permutations.

    Returns
    -------
    DataFrame
        One row per set that has a stored run: ``stimulus_set``, ``n_items``, ``n_layers``,
        ``folds``, ``permutations``, ``half_splits``.
    """
    rows = []
    for name in stimulus_sets:
        run = store.latest_run(db, model, name, pooling)
        if run is None:
            continue
        settings = run.get("settings") or {}
        rows.append(
            {
                "stimulus_set": name,
                "n_items": int(run["n_items"]),
                "n_layers": int(run["n_layers"]),
                "folds": settings.get("folds"),
                "permutations": settings.get("permutations"),
                "half_splits": settings.get("half_splits"),
            }
        )
    return pd.DataFrame(rows)


MEAN = "mean over targets"
"""The curve choice that averages a set's targets (normalised), as the pages name it."""


def peak_shift_table(
    db,
    *,
    models: list[str] | tuple[str, str],
    stimulus_set: str,
    pooling: str,
    component: str,
    target: str = MEAN,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Where two models' curves peak on relative depth, and the shift (second minus first).

    The one computation behind the Compare page, the deck and the cache warmed after a
    run (kept in the analysis cache, keyed by the rows it reads).

    Returns
    -------
    DataFrame
        One row (:func:`core.analysis.compare.peak_shift`) with ``component``.
    """
    from core.analysis import peak_shift

    parts = []
    for model in models:
        scores = curves(
            db,
            model=model,
            stimulus_set=stimulus_set,
            pooling=pooling,
            components=[component],
            targets=None if target == MEAN else [target],
        )
        if scores.empty:
            raise StrataError(f"no {stimulus_set} results of '{model}' with pooling '{pooling}'")
        folds = fold_rows(
            db, model=model, stimulus_set=stimulus_set, pooling=pooling, component=component
        )
        primary = scores.drop_duplicates("target").set_index("target")["metric"]
        folds = folds[folds["target"].isin(primary.index)]
        folds = folds[folds["metric"] == folds["target"].map(primary)]
        parts += [scores, folds]
    return memo.cached(db, peak_shift, *parts, n_boot=n_boot).assign(component=component)


def warm(db, *, model: str, pooling: str = "mean") -> list[str]:
    """Compute what the pages show first, so a first visit reads it from the cache.

    Called by the job runner when a model's runs end: the Findings tables of ``model``
    (which the Coordination page and the deck read too), and the Compare page's peak
    shifts of ``model`` against every other stored model, on each set they share.

    Returns
    -------
    list of str
        What was computed, one line each (for the job's log).
    """
    done = []
    findings(db, model=model, pooling=pooling)
    done.append(f"findings of {model}")
    index = store.results_index(db)
    index = index[index["pooling"] == pooling]
    mine = set(index.loc[index["model"] == model, "stimulus_set"])
    for other in sorted(set(index["model"]) - {model}):
        shared = mine & set(index.loc[index["model"] == other, "stimulus_set"])
        for name in sorted(shared):
            for pair in ((model, other), (other, model)):
                for component in COMPONENTS:
                    with contextlib.suppress(StrataError):
                        peak_shift_table(
                            db,
                            models=list(pair),
                            stimulus_set=name,
                            pooling=pooling,
                            component=component,
                        )
            done.append(f"peak shifts of {model} and {other} on {name}")
    return done


def sinks_of(db, *, model: str) -> list[int]:
    """The attention-sink layers of a model (:func:`core.analysis.sinks.sink_layers`), from
    its ``sink_stats``; empty when none were measured."""
    return sinks_by_model(store.sink_stats(db, model=model)).get(model, [])


def half_poolings_of(db, *, model: str, stimulus_set: str) -> list[str]:
    """The half-stimulus poolings stored beside ``mean`` for a set (empty when none)."""
    from core.analysis.halves import halves_of

    index = store.results_index(db)
    stored = index.loc[
        (index["model"] == model) & (index["stimulus_set"] == stimulus_set), "pooling"
    ]
    pair = halves_of(stored) if "mean" in set(stored) else None
    return list(pair) if pair else []
