"""The probe engine against the naive scikit-learn loop, on the same activations.

    python bench/probes.py                                  # SmolLM2 on the items set
    python bench/probes.py --model gemma3-270m --stimuli pairs
    python bench/probes.py --synthetic                      # 80 layers × 8192 wide, 300 stimuli

The naive loop refits ``StandardScaler`` + ``SVC(kernel="linear")`` or ``StandardScaler`` +
``GridSearchCV(Ridge(), cv=GroupKFold)`` for every fold, target, permutation and half, cell
by cell, exactly the fits the engine makes.  It is timed on a sample of cells (all of them
with ``--naive-cells 0``) and extrapolated to the grid (cells cost the same work); the
engine is timed on the whole grid, serial and parallel.  Scores of the sampled cells are
compared fold by fold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from bench.common import header
from core.probe import ProbeSettings, metrics, probe_grid, reference
from core.probe.grid import make_plan, null_layers
from core.stimuli import StimulusSet, validate


def naive_cell(X: np.ndarray, plan, *, svm_null: bool) -> dict[str, list[float]]:
    """One cell the plain way: the same fits as ``core.probe.grid.probe_cell``, one by one.

    Returns the real labels' per-fold primary scores, for the equality check.
    """
    X = X.astype(np.float64)
    settings = plan.settings

    def fit(target, y, rows, fold) -> list[float]:
        per_fold = []
        for k in np.unique(fold):
            train, test = rows[fold != k], rows[fold == k]
            if target.probe == "svm":
                if len(np.unique(y[train])) < 2:
                    per_fold.append(np.nan)
                    continue
                pred = reference.svm_fold(X, y, train, test, C=settings.C)[1]
                per_fold.append(metrics.balanced_accuracy(y[test][:, None], pred[:, None])[0])
            else:
                pred, _ = reference.ridge_fold(
                    X,
                    y,
                    plan.groups,
                    train,
                    test,
                    alphas=settings.alphas,
                    n_inner=settings.inner_folds,
                )
                per_fold.append(metrics.pearson_r(y[test][:, None], pred[:, None])[0])
        return per_fold

    all_rows = np.arange(len(plan.groups))
    full = {t.name: fit(t, t.labels, all_rows, plan.fold) for t in plan.targets}
    for perm in plan.permutations:
        for t in plan.targets:
            if t.probe == "ridge" or svm_null:
                fit(t, t.labels[perm], all_rows, plan.fold)
    for rows, fold in plan.halves:
        for t in plan.targets:
            fit(t, t.labels, rows, fold)
    return full


def synthetic(n_items=300, n_layers=80, d_model=8192, seed=0) -> tuple[dict, StimulusSet]:
    """Activations with a signal that rises and falls with depth, and matching labels."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_items, 4))
    frame = {
        "item_id": [f"i{i}" for i in range(n_items)],
        "text": [f"item {i}" for i in range(n_items)],
        "group": [f"g{i // 2}" for i in range(n_items)],
    }
    for j in range(3):
        frame[f"b{j}:binary"] = (latent[:, j] > 0).astype(int).astype(str)
    frame["c0:continuous"] = (latent[:, 3] + 0.5 * rng.standard_normal(n_items)).astype(str)
    frame["c1:continuous"] = (latent[:, 0] - latent[:, 3]).astype(str)
    stimuli = validate(pd.DataFrame(frame), name="synthetic")
    acts = {}
    mixing = rng.standard_normal((4, d_model)).astype(np.float32)
    for c, component in enumerate(("resid_pre", "attn_out", "mlp_out")):
        array = np.empty((n_items, n_layers, d_model), dtype=np.float32)
        for layer in range(n_layers):
            strength = np.exp(-(((layer / n_layers) - 0.3 - 0.1 * c) ** 2) / 0.02)
            array[:, layer] = rng.standard_normal((n_items, d_model), dtype=np.float32)
            array[:, layer] += strength * (latent.astype(np.float32) @ mixing)
        acts[component] = array
    return acts, stimuli


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--stimuli", default="items")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--permutations", type=int, default=5)
    parser.add_argument("--half-splits", type=int, default=1)
    parser.add_argument("--naive-cells", type=int, default=6, help="cells timed naively (0: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    if args.synthetic:
        header("probe engine vs naive scikit-learn: synthetic 80 layers x 8192, 300 stimuli")
        acts, stimuli = synthetic()
    else:
        from core.config import RunConfig
        from core.pipeline import activations_for
        from core.stimuli import load

        header(f"probe engine vs naive scikit-learn: {args.model} on {args.stimuli}")
        stimuli = load(args.stimuli)
        config = RunConfig(model=args.model, stimuli=args.stimuli)
        acts = dict(activations_for(config, stimuli).arrays)
    settings = ProbeSettings(permutations=args.permutations, half_splits=args.half_splits)
    n_layers = next(iter(acts.values())).shape[1]
    cells = [(c, layer) for c in acts for layer in range(n_layers)]
    kinds = pd.Series([k for k in stimuli.targets.values()]).value_counts().to_dict()
    print(
        f"stimuli {len(stimuli)}, targets {kinds}, cells {len(cells)}, "
        f"permutations {settings.permutations} (SVM at {settings.svm_null_layers} layers), "
        f"half splits {settings.half_splits}"
    )

    plan = make_plan(stimuli, settings)
    with_null = set(null_layers(n_layers, settings))
    if args.naive_cells:
        # cells with SVM nulls cost far more than the others: sample both kinds, and
        # extrapolate each kind to its own count in the grid
        kinds_of = {True: [], False: []}
        for cell in cells:
            kinds_of[cell[1] in with_null].append(cell)
        sample = []
        for members in kinds_of.values():
            n = max(1, round(args.naive_cells * len(members) / len(cells))) if members else 0
            picks = np.linspace(0, len(members) - 1, n).round().astype(int)
            sample += [members[i] for i in sorted(set(picks))]
    else:
        sample = cells

    naive_scores, naive_times = {}, {}
    for component, layer in sample:
        X = np.asarray(acts[component][:, layer])
        started = time.perf_counter()
        naive_scores[(component, layer)] = naive_cell(X, plan, svm_null=layer in with_null)
        naive_times[(component, layer)] = time.perf_counter() - started
    naive_sample = sum(naive_times.values())

    # the engine on exactly the sampled cells, serial, for a like-for-like ratio
    from core.probe.grid import probe_cell

    started = time.perf_counter()
    engine_scores = {}
    for component, layer in sample:
        X = np.asarray(acts[component][:, layer], dtype=np.float32)
        engine_scores[(component, layer)] = probe_cell(X, plan, svm_null=layer in with_null)["full"]
    engine_sample = time.perf_counter() - started

    worst = 0.0
    for cell, naive in naive_scores.items():
        for target, folds in naive.items():
            metric = metrics.PRIMARY[next(t.probe for t in plan.targets if t.name == target)]
            ours = engine_scores[cell][target]["folds"][metric]
            worst = max(worst, float(np.nanmax(np.abs(np.asarray(folds) - ours))))

    started = time.perf_counter()
    probe_grid(acts, stimuli, settings, n_jobs=1)
    engine_serial = time.perf_counter() - started
    started = time.perf_counter()
    probe_grid(acts, stimuli, settings, n_jobs=args.jobs)
    engine_parallel = time.perf_counter() - started

    naive_full = 0.0
    for kind in (True, False):
        timed = [t for (c, layer), t in naive_times.items() if (layer in with_null) == kind]
        count = sum((layer in with_null) == kind for _, layer in cells)
        naive_full += np.mean(timed) * count if timed else 0.0
    n_null = sum(layer in with_null for _, layer in sample)
    print(
        f"naive loop, {len(sample)} cells measured ({n_null} with SVM nulls) {naive_sample:9.1f} s"
    )
    print(
        f"engine, same cells, 1 core         {engine_sample:9.1f} s   "
        f"ratio {naive_sample / engine_sample:6.1f}x"
    )
    print(f"naive loop, whole grid (extrapolated) {naive_full:9.1f} s")
    print(
        f"engine, whole grid, 1 core         {engine_serial:9.1f} s   "
        f"ratio {naive_full / engine_serial:6.1f}x"
    )
    print(
        f"engine, whole grid, {args.jobs} jobs        {engine_parallel:9.1f} s   "
        f"ratio {naive_full / engine_parallel:6.1f}x"
    )
    print(f"largest fold-score difference, engine vs naive: {worst:.2e}")


if __name__ == "__main__":
    main()
