"""Results stored for an earlier version of a stimulus set are marked, never shown as current."""

from __future__ import annotations

import pandas as pd

from core.present import views
from core.stimuli import load, save_upload
from core.storage import store
from tests.helpers import score_row


def _write(db, stimulus_set: str, stimuli_hash: str | None) -> None:
    scores = pd.DataFrame([score_row(n_perm=9, n_null=9, run_id=stimulus_set)])
    run = {
        "run_id": stimulus_set,
        "model": "m",
        "stimulus_set": stimulus_set,
        "pooling": "mean",
        "stimuli_hash": stimuli_hash,
    }
    store.write_run(db, run=run, tables={"probe_scores": scores})


def test_results_of_a_changed_set_are_marked_outdated(tmp_path):
    db = tmp_path / "r.duckdb"
    _write(db, "pairs", load("pairs").content_hash)  # the set as it is now
    _write(db, "items", "0123456789abcdef")  # computed on an earlier items
    _write(db, "no-such-set", "0123456789abcdef")  # a set that is gone
    _write(db, "analogies", None)  # a run that stored no hash
    current = views.results_index(db).set_index("stimulus_set")["current"].to_dict()
    assert current == {"pairs": True, "items": False, "no-such-set": None, "analogies": None}


def test_a_reuploaded_set_makes_its_old_results_outdated(tmp_path):
    db = tmp_path / "r.duckdb"
    rows = ["item_id,text,group,y:binary"] + [f"i{k},The thing{k},g{k},{k % 2}" for k in range(14)]
    first = save_upload("\n".join(rows).encode(), "mine")
    _write(db, "mine", first.content_hash)
    assert views.results_index(db).set_index("stimulus_set").loc["mine", "current"] is True
    rows[1] = "i0,The thing0,g0,1"  # a relabelled row: a new version of the set
    save_upload("\n".join(rows).encode(), "mine")
    assert views.results_index(db).set_index("stimulus_set").loc["mine", "current"] is False
