"""The probe engine against the naive scikit-learn loop, on the same activations.

    python bench/probes.py                         # SmolLM2 on items, then the synthetic grid
    python bench/probes.py --model gemma3-270m --stimuli pairs
    python bench/probes.py --synthetic             # only the 70B-shaped synthetic grid
    python bench/probes.py --stages                # where a cell's time goes, both shapes

The naive loop is what a careful user writes without the engine: for every target ×
component × layer × fold, ``StandardScaler`` + ``SVC(kernel="linear", C=1)`` or
``StandardScaler`` + ``GridSearchCV(Ridge(), cv=GroupKFold(5))`` (the same estimator as
the engine), and no permutations.  It is timed on a sample of cells spread over the
components and layers, and extrapolated per component (cells of one component cost
about the same).  The engine is timed on the whole grid, on all cores:

1. plain (no permutations, no halves), like for like with the naive loop;
2. with the defaults: 100 permutations at every layer (SVM and ridge), one halving.

Fold scores of the sampled cells are compared with the naive loop's.  ``--stages``
instead profiles a few cells of each shape on one thread and splits their time between
the engine's stages, beside the Gram matrices' products alone and the time a cell may
take for a whole grid to finish in 60 s.  Activations come
from the cache (extracted first when missing); every engine run starts from an empty
cell cache (``probe_grid`` is called directly), so nothing is read back.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from joblib.externals.loky import get_reusable_executor
from threadpoolctl import threadpool_limits

from bench.common import best_of, header
from core.probe import ProbeSettings, metrics, probe_grid, reference
from core.probe.grid import make_plan, probe_cell
from core.stimuli import StimulusSet, validate


def naive_cell(X: np.ndarray, plan) -> dict[str, list[float]]:
    """One cell the plain way, no permutations: per target, the per-fold primary score."""
    X = X.astype(np.float64)
    settings = plan.settings
    out = {}
    for target in plan.targets:
        y, per_fold = target.labels, []
        for k in np.unique(plan.fold):
            train, test = np.flatnonzero(plan.fold != k), np.flatnonzero(plan.fold == k)
            if target.probe == "svm":
                if len(np.unique(y[train])) < 2:
                    per_fold.append(np.nan)
                    continue
                pred = reference.svm_fold(X, y, train, test, C=settings.C)[1]
                per_fold.append(metrics.balanced_accuracy(y[test][:, None], pred[:, None])[0])
            else:
                pred, _ = reference.ridge_fold(
                    X, y, plan.groups, train, test, alphas=settings.alphas, n_inner=5
                )
                per_fold.append(metrics.pearson_r(y[test][:, None], pred[:, None])[0])
        out[target.name] = per_fold
    return out


def synthetic(
    n_items: int = 300, n_layers: int = 80, d_model: int = 8192, seed: int = 0
) -> tuple[dict, StimulusSet]:
    """70B-shaped activations whose signal rises and falls with depth; 10 targets.

    Returns
    -------
    activations : dict of component to ndarray of shape (n_items, n_layers, d_model)
    stimuli : StimulusSet
        Pairs of rows share a group; 5 binary and 5 continuous targets.
    """
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_items, 6))
    frame = {
        "item_id": [f"i{i}" for i in range(n_items)],
        "text": [f"item {i}" for i in range(n_items)],
        "group": [f"g{i // 2}" for i in range(n_items)],
    }
    for j in range(5):
        frame[f"b{j}:binary"] = (latent[:, j] > 0).astype(int).astype(str)
    for j in range(5):
        rating = latent[:, (j + 1) % 5] - latent[:, 5] + 0.5 * rng.standard_normal(n_items)
        frame[f"c{j}:continuous"] = rating.astype(str)
    stimuli = validate(pd.DataFrame(frame), name="synthetic")
    acts = {}
    mixing = rng.standard_normal((6, d_model)).astype(np.float32)
    signal = latent.astype(np.float32) @ mixing
    for c, component in enumerate(("resid_pre", "attn_out", "mlp_out")):
        array = rng.standard_normal((n_items, n_layers, d_model), dtype=np.float32)
        for layer in range(n_layers):
            strength = np.exp(-(((layer / n_layers) - 0.3 - 0.1 * c) ** 2) / 0.02)
            array[:, layer] += np.float32(strength) * signal
        acts[component] = array
    return acts, stimuli


def sample_cells(cells: list[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    """``n`` cells spread evenly over each component's layers."""
    by_component: dict[str, list] = {}
    for cell in cells:
        by_component.setdefault(cell[0], []).append(cell)
    per = max(1, n // len(by_component))
    out = []
    for members in by_component.values():
        picks = np.linspace(0, len(members) - 1, per).round().astype(int)
        out += [members[i] for i in sorted(set(picks))]
    return out


def largest_difference(acts, stimuli, settings, naive_scores) -> float:
    """Largest per-fold primary-score difference of the engine against the naive loop."""
    probes = {t: "svm" if k != "continuous" else "ridge" for t, k in stimuli.targets.items()}
    worst = 0.0
    for (component, layer), naive in naive_scores.items():
        results = probe_grid({component: acts[component][:, [layer]]}, stimuli, settings)
        folds = results.fold_scores
        for target, values in naive.items():
            ours = folds[
                (folds["target"] == target) & (folds["metric"] == metrics.PRIMARY[probes[target]])
            ]
            diff = np.abs(np.asarray(values) - ours.sort_values("fold")["score"].to_numpy())
            worst = max(worst, float(np.nanmax(diff)))
    return worst


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the joblib workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_grid(acts, stimuli, settings, jobs: int) -> tuple[float, float]:
    """Wall and CPU seconds of one grid from an empty cell cache.

    The CPU time (all processes, workers included once they exit) is the work itself: on
    a machine shared with other jobs it moves far less than the wall time.
    """
    cpu = cpu_seconds()
    started = time.perf_counter()
    probe_grid(acts, stimuli, settings, n_jobs=jobs)
    elapsed = time.perf_counter() - started
    get_reusable_executor().shutdown(wait=True)  # workers exit: their CPU time is counted
    cpu = cpu_seconds() - cpu
    print(
        f"  ({settings.permutations} permutations: {elapsed:.1f} s wall, {cpu:.1f} s CPU)",
        flush=True,
    )
    return elapsed, cpu


def compare(args, acts, stimuli, label: str) -> None:
    """Naive loop (sampled, extrapolated) against the engine plain and with full nulls."""
    n_layers = next(iter(acts.values())).shape[1]
    cells = [(c, layer) for c in acts for layer in range(n_layers)]
    kinds = pd.Series(list(stimuli.targets.values())).value_counts().to_dict()
    print(f"{label}: {len(stimuli)} stimuli, targets {kinds}, {len(cells)} cells", flush=True)
    plain = ProbeSettings(permutations=0, half_splits=0)
    full = ProbeSettings()
    plan = make_plan(stimuli, plain)
    sample = sample_cells(cells, args.naive_cells)
    naive_times, naive_scores = {}, {}
    # one BLAS thread, as each engine worker has: threads spinning on a busy machine
    # would make the naive loop look far slower than it is
    naive_cpu = time.process_time()
    with threadpool_limits(1):
        for component, layer in sample:
            started = time.perf_counter()
            naive_scores[(component, layer)] = naive_cell(acts[component][:, layer], plan)
            naive_times[(component, layer)] = time.perf_counter() - started
    naive_cpu = (time.process_time() - naive_cpu) * len(cells) / len(sample)
    naive_full = 0.0
    for component in acts:
        timed = [t for (c, _), t in naive_times.items() if c == component]
        naive_full += float(np.mean(timed)) * n_layers
    # the naive loop is as parallel as the engine: on all cores it would take at best
    naive_parallel = naive_full / args.jobs
    engine_plain, plain_cpu = timed_grid(acts, stimuli, plain, args.jobs)
    engine_full, full_cpu = timed_grid(acts, stimuli, full, args.jobs)
    worst = largest_difference(acts, stimuli, plain, naive_scores)
    print(f"naive loop, {len(sample)} cells measured, 1 core  {sum(naive_times.values()):9.1f} s")
    print(f"naive loop, whole grid, 1 core (extrapolated)  {naive_full:9.1f} s")
    print(f"naive loop, whole grid, {args.jobs} cores (/ {args.jobs})  {naive_parallel:9.1f} s")
    print(
        f"engine, plain grid, {args.jobs} jobs                   {engine_plain:9.1f} s   "
        f"naive on {args.jobs} cores / engine {naive_parallel / engine_plain:6.1f}x"
    )
    print(
        f"engine, {full.permutations} permutations at every layer, {args.jobs} jobs "
        f"{engine_full:9.1f} s   naive (no nulls) on {args.jobs} cores / engine "
        f"{naive_parallel / engine_full:6.1f}x"
    )
    print(
        f"CPU time (the work, less sensitive to other jobs): naive {naive_cpu:.0f} s "
        f"(extrapolated), engine plain {plain_cpu:.0f} s ({naive_cpu / plain_cpu:.1f}x), "
        f"engine with nulls {full_cpu:.0f} s ({naive_cpu / full_cpu:.1f}x)"
    )
    print(f"largest fold-score difference, engine vs naive (sampled cells): {worst:.2e}")


# The engine's stages: functions of core.probe.solvers that do not call one another, so
# their cumulative times add up to a cell's time less the bookkeeping around them.
STAGES = {
    "standardized_gram": "Gram matrices (fold-standardised, float64)",
    "ridge_fold": "ridge: eigh, inner CV, every column",
    "svm_fold": "SVM real fits (libsvm)",
    "svm_null_predictions": "SVM nulls (batched solver)",
}


def gram_products(n_rows: list[int], d_model: int) -> float:
    """Seconds of the products ``Z @ Z.T`` alone for Gram matrices of these row counts."""
    rng = np.random.default_rng(0)
    total = 0.0
    for n in sorted(set(n_rows)):
        Z = rng.standard_normal((n, d_model))
        total += best_of(lambda Z=Z: Z @ Z.T, repeat=5) * n_rows.count(n)
    return total


def stages(acts, stimuli, label: str, jobs: int, n_cells: int = 6) -> None:
    """Where a cell's CPU time goes, on one thread, with the default settings."""
    plan = make_plan(stimuli, ProbeSettings())
    n_layers = next(iter(acts.values())).shape[1]
    cells = sample_cells([(c, layer) for c in acts for layer in range(n_layers)], n_cells)
    X = [np.asarray(acts[c][:, layer], dtype=np.float32) for c, layer in cells]
    profile = cProfile.Profile()
    with threadpool_limits(1):
        probe_cell(X[0], plan)  # warm-up: imports and first-call costs
        started = time.process_time()
        profile.enable()
        for x in X:
            probe_cell(x, plan)
        profile.disable()
        per_cell = (time.process_time() - started) / len(X)
        rows = [len(plan.groups)] * len(np.unique(plan.fold))
        rows += [len(half) for half, fold in plan.halves for _ in np.unique(fold)]
        products = gram_products(rows, X[0].shape[1])
    spent = dict.fromkeys(STAGES, 0.0)
    for (file, _, name), (*_, cumulative, _) in pstats.Stats(profile).stats.items():
        if name in STAGES and file.endswith(os.path.join("probe", "solvers.py")):
            spent[name] += cumulative / len(X)
    n_grid = len(acts) * n_layers
    print(f"{label}: where a cell's time goes ({len(X)} cells, 1 thread, under cProfile)")
    for name, seconds in spent.items():
        print(f"  {STAGES[name]:44s} {seconds:6.3f} s  {100 * seconds / per_cell:3.0f} %")
    other = per_cell - sum(spent.values())
    rest = "bookkeeping, scores, the rest"
    print(f"  {rest:44s} {other:6.3f} s  {100 * other / per_cell:3.0f} %")
    print(f"  {'a cell':44s} {per_cell:6.3f} s")
    print(f"  of which the Gram matrices' products alone   {products:6.3f} s")
    print(
        f"  {n_grid} cells: {per_cell * n_grid:.0f} s CPU, {per_cell * n_grid / jobs:.0f} s on "
        f"{jobs} cores; a whole grid in 60 s on {jobs} cores allows {60 * jobs / n_grid:.3f} s "
        f"a cell, of which the Gram products take {100 * products * n_grid / (60 * jobs):.0f} %",
        flush=True,
    )


def run_synthetic(args) -> None:
    acts, stimuli = synthetic()
    settings = ProbeSettings()
    print(
        f"synthetic: {len(stimuli)} stimuli, 80 layers x 3 components x 8192 wide, "
        f"{len(stimuli.targets)} targets, {settings.permutations} permutations at every layer, "
        f"{settings.half_splits} halving, {args.jobs} jobs"
    )
    elapsed, cpu = timed_grid(acts, stimuli, settings, args.jobs)
    print(f"engine, synthetic 70B-shaped grid         {elapsed:9.1f} s wall, {cpu:.0f} s CPU")
    print("# load average at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--stimuli", default="items")
    parser.add_argument("--synthetic", action="store_true", help="only the synthetic grid")
    parser.add_argument("--no-synthetic", action="store_true", help="skip the synthetic grid")
    parser.add_argument("--naive-cells", type=int, default=6, help="cells timed naively")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument(
        "--stages", action="store_true", help="only where a cell's time goes, both shapes"
    )
    args = parser.parse_args()
    header("probe engine vs the naive scikit-learn loop")
    # other work on the machine slows every figure below; say how busy it was
    print(
        "# load average at start (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    if not args.synthetic:
        from core.config import RunConfig
        from core.pipeline import activations_for
        from core.stimuli import load

        stimuli = load(args.stimuli)
        config = RunConfig(model=args.model, stimuli=args.stimuli)
        acts = {c: np.asarray(a) for c, a in activations_for(config, stimuli).arrays.items()}
        label = f"{args.model} on {args.stimuli}"
        if args.stages:
            stages(acts, stimuli, label, args.jobs)
        else:
            compare(args, acts, stimuli, label)
    if not args.no_synthetic:
        if args.stages:
            stages(*synthetic(), "synthetic 70B-shaped grid", args.jobs)
        else:
            run_synthetic(args)


if __name__ == "__main__":
    main()
