"""The app's job runner: typed configs in, a structured progress and result record out."""

from __future__ import annotations

import time
from collections import Counter

import pandas as pd
import pytest

from core.config import RunConfig
from core.probe import ProbeSettings
from core.storage import store
from tests.helpers import NOUNS
from ui import jobs


def _wait(job_id: str, timeout: float = 300) -> jobs.JobStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = jobs.status(job_id)
        if status.state != "running":
            return status
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def _csv(tmp_path) -> str:
    frame = pd.DataFrame(
        {
            "item_id": NOUNS,
            "text": [f"A big {n}" for n in NOUNS],
            "group": NOUNS,
            "words": NOUNS,
            "is_food:binary": ["1", "0"] * 6,
        }
    )
    path = tmp_path / "tiny.csv"
    frame.to_csv(path, index=False)
    return str(path)


# a real job process running two configs end to end: ~12 s, most of it the process's
# imports and the analyses it warms; the fast tier keeps the failing job's real process
@pytest.mark.slow
def test_a_job_runs_its_configs_in_order_and_reports_each(tmp_path, tiny_model_dir):
    """Each config stored, in order; each model's findings left in the analysis cache, so
    the pages' first visit reads them back rather than computing them."""
    from core.storage import memo

    model = str(tiny_model_dir("llama"))
    probe = ProbeSettings(folds=3, permutations=2, half_splits=1)
    db = str(tmp_path / "r.duckdb")
    configs = [
        RunConfig(model=model, stimuli=_csv(tmp_path), probe=probe, db=db, label=name, jobs=1)
        for name in ("first", "second")
    ]
    status = _wait(jobs.start(configs))
    assert status.state == "done", status.error
    assert status.title == f"first, second × {configs[0].stimuli}"
    assert status.n_steps == 2 and status.step == 2
    assert status.stage == "analyse" and status.done == status.total == 1
    assert set(store.results_index(db)["model"]) == {"first", "second"}
    cached = store.connect(memo.cache_path(db), read_only=True, check_version=False)
    with cached as con:
        names = [r[0] for r in con.execute("SELECT name FROM analyses").fetchall()]
    # exactly: each model's findings, and once the second is stored, the peak shifts of the
    # two on their one shared set (both orders × 3 components); nothing else
    assert Counter(names) == {
        "core.analysis.findings.findings": 2,
        "core.analysis.compare.peak_shift": 6,
    }


def test_a_failing_job_says_why_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,text\na,A word\n")
    status = _wait(jobs.start([RunConfig(model="smollm2-135m", stimuli=str(bad))]))
    assert status.state == "failed"
    assert status.error.startswith("column 'group': missing required column")


def test_time_left_comes_from_the_steady_pace_not_the_start_up():
    """A first cell that takes 60 s (workers starting, a null layer) must not be
    extrapolated over the 90 cells that then take 1 s each (was "about 8341 s left")."""
    rate = jobs.Rate()
    assert rate("probe", 0, 90, now=0.0) is None
    assert rate("probe", 1, 90, now=60.0) is None  # the clock starts here
    seen = [rate("probe", n, 90, now=60.0 + (n - 1)) for n in range(2, 91)]
    assert all(s is None for s in seen[:3])  # too few cells to say
    left = {n: s for n, s in zip(range(2, 91), seen) if s is not None}
    for n, estimate in left.items():
        assert estimate == pytest.approx(90 - n, rel=0.01)
    assert rate("store", 0, 1, now=200.0) is None  # a new stage starts afresh


def test_progress_says_which_run_which_stage_and_why_it_waits():
    configs = tuple(RunConfig(model="smollm2-135m", stimuli=s) for s in ("items", "pairs"))
    base = dict(
        job_id="j",
        configs=configs,
        state="running",
        step=2,
        n_steps=2,
        error=None,
        started=0.0,
        finished=None,
    )
    start = jobs.JobStatus(**base, stage=None, done=0, total=0, eta_s=None, note=None)
    assert jobs.progress_text(start) == (
        0.0,
        "run 2 of 2 (smollm2-135m × pairs): reading the stimuli and checking what is already "
        "stored",
    )  # not "starting: 0/0"
    load = jobs.JobStatus(
        **base, stage="load", done=0, total=1, eta_s=None, note=jobs.CONVERSION_NOTE
    )
    assert (
        "(the first time only: converting the model from its GGUF file"
        in (jobs.progress_text(load)[1])
    )
    probe = jobs.JobStatus(**base, stage="probe", done=45, total=90, eta_s=130.0, note=None)
    assert jobs.progress_text(probe) == (
        0.5,
        "run 2 of 2 (smollm2-135m × pairs): probing layer × component cells: 45/90, about "
        "2 min left in this stage",
    )
