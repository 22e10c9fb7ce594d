"""Finding sets by name: built-in, uploads kept by exact name, CSV paths."""

from __future__ import annotations

import pandas as pd
import pytest

from core.stimuli import StimulusError, load, save_upload, upload_names
from core.stimuli.registry import _uploads


def _upload_bytes(n: int, prefix: str) -> bytes:
    frame = pd.DataFrame(
        {
            "item_id": [f"{prefix}{k}" for k in range(n)],
            "text": [f"A word{k}" for k in range(n)],
            "group": [f"g{k}" for k in range(n)],
            "y:binary": ["0", "1"] * (n // 2),
        }
    )
    return frame.to_csv(index=False).encode()


def test_names_sharing_a_prefix_stay_apart():
    save_upload(_upload_bytes(12, "g"), "good")
    save_upload(_upload_bytes(14, "v"), "good-v2")
    assert len(load("good")) == 12 and len(load("good-v2")) == 14
    assert upload_names() == ["good", "good-v2"]
    save_upload(_upload_bytes(16, "n"), "good")  # a new version of `good` only
    assert len(load("good")) == 16 and len(load("good-v2")) == 14
    assert len(list(_uploads().glob("good-v2-*.csv"))) == 1
    assert len(list(_uploads().glob("*.csv"))) == 2


def test_the_same_upload_twice_keeps_one_file():
    data = _upload_bytes(12, "a")
    save_upload(data, "twice")
    save_upload(data, "twice")
    assert [p.name.rsplit("-", 1)[0] for p in _uploads().glob("*.csv")] == ["twice"]


def test_foreign_files_in_the_uploads_folder_are_not_sets():
    (_uploads() / "notes.csv").write_text("a,b\n1,2\n")
    (_uploads() / "x-nothex.csv").write_text("a,b\n1,2\n")
    assert upload_names() == []


@pytest.mark.parametrize("folds", [1, 0, -3])
def test_an_upload_is_checked_for_folds_it_can_run(folds):
    with pytest.raises(StimulusError, match=f"folds={folds}"):
        save_upload(_upload_bytes(12, "a"), "few", n_folds=folds)
    assert upload_names() == []
