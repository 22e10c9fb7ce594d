"""Real runs killed with SIGKILL at several points, then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.helpers import run_args, subset_csv
from tests.test_cli import ROOT, cli

pytestmark = pytest.mark.slow


def _start(args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(proc, ready, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run ended before the kill point: {proc.stderr.read()[-2000:]}")
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("kill point never reached")


def _scores(db: Path):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT target, component, layer, metric, score FROM probe_scores ORDER BY ALL"
        ).fetchall()


def _all_rows(db: Path) -> dict[str, list]:
    """Every score a run stores (run ids aside), for byte-identical comparisons."""
    queries = {
        "probe_scores": "SELECT * EXCLUDE (run_id) FROM probe_scores ORDER BY ALL",
        "fold_scores": "SELECT * FROM fold_scores ORDER BY ALL",
        "null_scores": "SELECT * FROM null_scores ORDER BY ALL",
        "half_scores": "SELECT * FROM half_scores ORDER BY ALL",
        "folds": "SELECT * FROM folds ORDER BY ALL",
    }
    with duckdb.connect(str(db), read_only=True) as con:
        return {table: con.execute(sql).fetchall() for table, sql in queries.items()}


def test_killed_runs_resume_and_match_an_uninterrupted_run(tmp_path, isolated_cache):
    csv = subset_csv(tmp_path, n=30)
    db = tmp_path / "killed.duckdb"
    args = run_args(csv, db, "--permutations", "2", "--half-splits", "1", "--chunk-items", "5")
    args += ["--batch-tokens", "40", "--jobs", "1", "--quiet"]
    env = {"STRATA_CACHE": str(isolated_cache)}
    activations = isolated_cache / "activations"

    # 1. killed during extraction: chunks kept, no entry that reads as complete
    proc = _start(args, env)
    _kill_when(proc, lambda: any(activations.glob("*.parts/part-*.npz")))
    parts = list(activations.glob("*.parts/part-*.npz"))
    assert parts, "no chunk was kept"
    assert not list(activations.glob("*/manifest.json"))
    assert len(parts) < 30 / 5  # chunks of 5 texts: not all of them

    # 2. killed during probing: the activations are complete, some cells are kept
    proc = _start(args, env)
    cells = isolated_cache / "probes"
    _kill_when(proc, lambda: len(list(cells.glob("*/*.json"))) >= 10)
    assert len(list(activations.glob("*/manifest.json"))) == 1
    kept_cells = list(cells.glob("*/*.json"))
    assert len(kept_cells) >= 10
    assert not db.exists() or _scores(db) == []

    # 3. killed inside the database transaction: nothing half-written is visible
    flag = tmp_path / "flag"
    proc = _start(args, {**env, "STRATA_FAULT_PAUSE": "store", "STRATA_FAULT_FLAG": str(flag)})
    _kill_when(proc, flag.exists)
    assert _scores(db) == []

    # 4. the rerun finishes without loading the model and reuses the kept cells
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model not loaded" in done.stderr
    resumed = _scores(db)
    assert resumed

    # the same run, never interrupted, in a fresh cache, gives the same scores
    fresh_cache = tmp_path / "fresh"
    fresh_db = tmp_path / "fresh.duckdb"
    fresh_args = [a if a != str(db) else str(fresh_db) for a in args]
    clean = cli(*fresh_args, env={"STRATA_CACHE": str(fresh_cache)})
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert _scores(fresh_db) == resumed
    fresh, kept = _all_rows(fresh_db), _all_rows(db)
    for table, rows in fresh.items():
        assert rows and kept[table] == rows, table  # identical, every stored number
    sizes = ", ".join(f"{len(rows):,} {table}" for table, rows in fresh.items())
    print(f"\nkilled in extraction, probing and the store, resumed: identical rows ({sizes})")


def test_a_corrupt_activation_file_is_recomputed(tmp_path, isolated_cache):
    csv = subset_csv(tmp_path, n=24)
    db = tmp_path / "r.duckdb"
    args = run_args(csv, db, "--permutations", "0", "--half-splits", "0")
    args += ["--components", "resid_pre", "--quiet"]
    env = {"STRATA_CACHE": str(isolated_cache)}
    first = cli(*args, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _scores(db)
    (npy,) = (isolated_cache / "activations").glob("*/resid_pre.npy")
    data = bytearray(npy.read_bytes())
    data[len(data) // 2] ^= 0x40
    npy.write_bytes(bytes(data))
    again = cli(*args, "--force", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "damaged" in again.stderr and "recomputed" in again.stderr
    assert "model loaded" in again.stderr
    assert _scores(db) == before


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


def test_probe_workers_exit_when_their_run_is_killed(tmp_path, isolated_cache):
    """joblib's workers once idled 26 minutes after their run was killed with SIGKILL."""
    csv = subset_csv(tmp_path, n=30)
    args = ["run", "--stimuli", str(csv), "--db", str(tmp_path / "r.duckdb"), "--jobs", "2"]
    args += ["--permutations", "2", "--quiet"]
    proc = _start(args, {"STRATA_CACHE": str(isolated_cache)})
    cells = isolated_cache / "probes"
    workers: list[int] = []

    def probing() -> bool:
        nonlocal workers
        workers = [p for p in _children(proc.pid) if "loky" in _cmdline(p)]
        return len(workers) >= 2 and len(list(cells.glob("*/*.json"))) >= 2

    _kill_when(proc, probing)
    killed = time.time()
    while any(_alive(p) for p in workers) and time.time() - killed < 15:
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their run"
    print(f"{len(workers)} loky processes gone {time.time() - killed:.1f} s after the run's kill")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
