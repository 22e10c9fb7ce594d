"""The app's job runner: typed configs in, a structured progress and result record out."""

from __future__ import annotations

import time

import pandas as pd

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


def test_a_job_runs_its_configs_in_order_and_reports_each(tmp_path, tiny_model_dir):
    model = str(tiny_model_dir("llama"))
    probe = ProbeSettings(folds=3, permutations=2, half_splits=0)
    db = str(tmp_path / "r.duckdb")
    configs = [
        RunConfig(model=model, stimuli=_csv(tmp_path), probe=probe, db=db, label=name)
        for name in ("first", "second")
    ]
    status = _wait(jobs.start(configs))
    assert status.state == "done", status.error
    assert status.title == f"first, second × {configs[0].stimuli}"
    assert status.n_steps == 2 and status.step == 2 and status.stage == "store"
    assert set(store.results_index(db)["model"]) == {"first", "second"}


def test_a_failing_job_says_why_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,text\na,A word\n")
    status = _wait(jobs.start([RunConfig(model="smollm2-135m", stimuli=str(bad))]))
    assert status.state == "failed"
    assert status.error.startswith("column 'group': missing required column")
