"""Soak: 4 reader processes run the app's queries while 2 writer processes store whole runs.

Bounded in time (``STRATA_SOAK_SECONDS``, default 60).  Each write is a realistic result:
SmolLM2 on ``items`` (16 targets × 3 components × 30 layers) with its fold, null and half
scores and 633,600 ``item_predictions`` rows (every target × cell × item).  Writers pause
0.5-1.5 s between writes (a run probes for minutes between them; this is far denser).
Readers call what the pages call (``results_index``, ``views.curves``, ``fold_rows``,
``targets_of``, ``latest_run``, one cell's ``item_predictions``) and check, inside one
snapshot, that every stored result is whole: exactly one run's rows, all of them.

Asserted: zero failed reads, zero partial results seen, zero lost runs (every run written
is in ``runs``; each result holds exactly its last run).  Printed: reads, writes, the
longest read wait and write transaction (the README's figures).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import SCORE_STATS

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("STRATA_SOAK_SECONDS", "60"))
N_TARGETS, N_LAYERS, N_ITEMS = 16, 30, 440
COMPONENTS = ("resid_pre", "attn_out", "mlp_out")
EXPECTED = {  # rows per result, by table
    "probe_scores": N_TARGETS * 3 * N_LAYERS * 2,
    "fold_scores": N_TARGETS * 3 * N_LAYERS * 2 * 6,
    "null_scores": N_TARGETS * 3 * N_LAYERS * 20,
    "item_predictions": N_TARGETS * 3 * N_LAYERS * N_ITEMS,
}
SHARED = "soak-shared"


def _result(seed: int) -> dict[str, pd.DataFrame]:
    """The tables of one realistic run (everything but the result key and run id)."""
    rng = np.random.default_rng(seed)
    targets = [f"t{t}" for t in range(N_TARGETS)]
    cells = pd.MultiIndex.from_product(
        [targets, COMPONENTS, range(N_LAYERS)], names=["target", "component", "layer"]
    ).to_frame(index=False)
    scores = pd.concat([cells.assign(metric="balanced_accuracy"), cells.assign(metric="accuracy")])
    n = len(scores)
    scores = scores.assign(
        **SCORE_STATS
        | dict(
            n_layers=N_LAYERS,
            score=rng.random(n),
            p_value=rng.random(n),
            n_perm=20,
            n_null=60,
            is_primary=scores["metric"] == "balanced_accuracy",
        )
    )
    folds = scores[["target", "component", "layer", "metric"]].merge(
        pd.DataFrame({"fold": range(6)}), how="cross"
    )
    nulls = cells.assign(metric="balanced_accuracy").merge(
        pd.DataFrame({"perm": range(20)}), how="cross"
    )
    halves = cells.assign(metric="balanced_accuracy").merge(
        pd.DataFrame({"split": [0, 0], "half": [0, 1]}), how="cross"
    )
    items = cells.merge(
        pd.DataFrame({"item_id": [f"item{i}" for i in range(N_ITEMS)]}), how="cross"
    )
    return {
        "probe_scores": scores,
        "fold_scores": folds.assign(score=rng.random(len(folds))),
        "null_scores": nulls.assign(score=rng.random(len(nulls))),
        "half_scores": halves.assign(score=rng.random(len(halves))),
        "targets": pd.DataFrame(
            {
                "target": targets,
                "kind": "binary",
                "probe": "svm",
                "n_classes": 2,
                "positive_rate": 0.5,
                "position": range(N_TARGETS),
            }
        ),
        "folds": pd.DataFrame(
            {
                "item_id": [f"item{i}" for i in range(N_ITEMS)],
                "group": [f"g{i // 2}" for i in range(N_ITEMS)],
                "fold": [i % 6 for i in range(N_ITEMS)],
                "row_index": range(N_ITEMS),
            }
        ),
        "item_predictions": items.assign(
            fold=rng.integers(0, 6, len(items)),
            y_true=rng.integers(0, 2, len(items)).astype(float),
            y_pred=rng.integers(0, 2, len(items)).astype(float),
            decision=rng.normal(size=len(items)),
        ),
    }


def _write(db: Path, model: str, run_id: str, tables: dict):
    from core.storage import store

    run = {"run_id": run_id, "model": model, "stimulus_set": "items", "pooling": "mean"}
    return store.write_run(
        db,
        run=run,
        tables={
            k: v.assign(run_id=run_id) if k == "probe_scores" else v for k, v in tables.items()
        },
    )


def _writer(db: Path, index: int, deadline: float, queue) -> None:
    tables = _result(seed=index)
    rng = np.random.default_rng(100 + index)
    written, durations, errors = [], [], []
    k = 0
    while time.time() < deadline:
        time.sleep(rng.uniform(0.5, 1.5))  # a run probes between writes
        model = SHARED if k % 2 == 0 else f"soak-w{index}"
        run_id = f"w{index}-{k}"
        try:
            timing = _write(db, model, run_id, tables)
            durations.append((timing.waited_s, timing.held_s))
            written.append((model, run_id))
        except Exception as exc:
            errors.append(f"{run_id}: {exc!r}")
        k += 1
    queue.put(("writer", index, written, durations, errors))


def _whole(con, model: str) -> str | None:
    """Inside one snapshot: is the stored result of ``model`` exactly one whole run?"""
    key = [model, "items", "mean"]
    where = "WHERE model = ? AND stimulus_set = ? AND pooling = ?"
    n, runs = con.execute(
        f"SELECT count(*), count(DISTINCT run_id) FROM probe_scores {where}", key
    ).fetchone()
    if n == 0:
        return None
    counts = {
        table: con.execute(f"SELECT count(*) FROM {table} {where}", key).fetchone()[0]
        for table in EXPECTED
    }
    if runs != 1 or counts != EXPECTED:
        return f"{model}: {runs} run ids, rows {counts}"
    return None


def _reader(db: Path, deadline: float, queue) -> None:
    from core.names import COMPONENTS as ALL
    from core.present import views
    from core.storage import store

    waits, errors, partial = [], [], []

    def timed(fn, *args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            errors.append(repr(exc))
            return None
        finally:
            waits.append(time.perf_counter() - started)

    while time.time() < deadline:
        index = timed(store.results_index, db)
        models = list(index["model"]) if index is not None else []
        for model in models:
            curves = timed(
                views.curves, db, model=model, stimulus_set="items", pooling="mean", components=ALL
            )
            if curves is not None and (
                len(curves) != EXPECTED["probe_scores"] // 2 or curves["run_id"].nunique() != 1
            ):
                partial.append(f"curves of {model}: {len(curves)} rows")
            folds = timed(views.fold_rows, db, model=model, stimulus_set="items", pooling="mean")
            if folds is not None and len(folds) != EXPECTED["fold_scores"]:
                partial.append(f"fold_scores of {model}: {len(folds)} rows")
            timed(views.targets_of, db, model=model, stimulus_set="items", pooling="mean")
            timed(store.latest_run, db, model, "items", "mean")
            cell = timed(
                store.query,
                db,
                "item_predictions",
                model=model,
                target="t0",
                component="attn_out",
                layer=3,
            )
            if cell is not None and len(cell) != N_ITEMS:
                partial.append(f"item_predictions of {model}: {len(cell)} rows")

        def check(models=models):
            with store.connect(db) as con:
                return [p for m in models if (p := _whole(con, m))]

        found = timed(check)
        partial.extend(found or [])
    queue.put(("reader", os.getpid(), waits, errors, partial))


def test_readers_never_fail_nor_see_half_a_run_while_two_writers_store(tmp_path, capsys):
    from core.storage import store

    db = tmp_path / "soak.duckdb"
    _write(db, SHARED, "seed", _result(seed=9))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    deadline = time.time() + 10 + SECONDS  # spawned processes take a few seconds to start
    procs = [ctx.Process(target=_writer, args=(db, i, deadline, queue)) for i in range(2)]
    procs += [ctx.Process(target=_reader, args=(db, deadline, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=SECONDS + 300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    writers = [r for r in results if r[0] == "writer"]
    readers = [r for r in results if r[0] == "reader"]
    waits = np.concatenate([np.asarray(r[2]) for r in readers])
    durations = np.concatenate([np.asarray(r[3]).reshape(-1, 2) for r in writers])
    waited, held = durations[:, 0], durations[:, 1]
    written = [w for r in writers for w in r[2]]
    read_errors = [e for r in readers for e in r[3]]
    partial = [p for r in readers for p in r[4]]
    write_errors = [e for r in writers for e in r[4]]

    # nothing lost: every run written is recorded, and each result is its last run, whole
    runs = set(store.query(db, "runs")["run_id"])
    lost = [run_id for _, run_id in written if run_id not in runs]
    final = store.query(db, "probe_scores")
    last = {}
    for model, run_id in written:
        last.setdefault(model, []).append(run_id)
    with store.connect(db) as con:
        whole = [p for m in [*last, SHARED] if (p := _whole(con, m))]
    with capsys.disabled():
        print(
            f"\nsoak {SECONDS:.0f} s, 4 readers, 2 writers: {len(waits)} reads, "
            f"{len(read_errors)} failed, {len(partial)} partial; {len(written)} runs written "
            f"({EXPECTED['item_predictions']:,} item_predictions rows each), {len(lost)} lost; "
            f"read wait median {np.median(waits) * 1e3:.0f} ms, p99 "
            f"{np.quantile(waits, 0.99) * 1e3:.0f} ms, longest {waits.max():.2f} s; "
            f"a write held the file for median {np.median(held):.2f} s, longest "
            f"{held.max():.2f} s, after waiting its turn for median {np.median(waited):.2f} s, "
            f"longest {waited.max():.2f} s; database {db.stat().st_size / 2**20:.0f} MiB"
        )
    assert not write_errors, write_errors[:3]
    assert not read_errors, read_errors[:3]
    assert not partial, partial[:3]
    assert not lost and not whole, (lost, whole)
    # enough of both to mean something; on a loaded 2-core machine (load 4-6) 96 reads came
    # in 60 s while probe runs shared the cores, 191 in the README's run
    assert len(written) >= 4 and len(waits) >= 50
    for model, run_ids in last.items():  # each result holds the last run written for it
        stored = set(final.loc[final["model"] == model, "run_id"])
        if model == SHARED:  # both writers write it: the last of one of them
            shared = [[rid for m, rid in r[2] if m == SHARED] for r in writers]
            ends = {ids[-1] for ids in shared if ids}
            assert len(stored) == 1 and stored <= ends, (stored, ends)
        else:
            assert stored == {run_ids[-1]}, (model, stored, run_ids[-1])
