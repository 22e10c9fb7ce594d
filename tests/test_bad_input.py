"""Every bad input is refused before any work: one ``error:`` line, exit 2, nothing written.

One table of bad inputs, every command of the CLI: usage mistakes, settings out of range,
broken models, broken or hostile stimulus files, foreign, damaged, newer or missing
databases, uploads.  Each case runs in-process (``core.__main__.main``) with the model
loader replaced by a failure, and asserts

- the exit status is 2 and stderr is exactly one line, starting ``error:``, never
  ``unexpected``, naming the problem;
- the model was not loaded (``core.pipeline.load`` / ``_load_model`` fail the test);
- nothing was written: every file under the test's folder (the inputs given, the cache,
  any database) has the same bytes afterwards, and no file appeared.

A few cases also go through a real ``python -m core`` process (no traceback, one line).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.helpers import run_main
from tests.storage.test_store import _write
from tests.test_cli import GOOD, ROOT

# --------------------------------------------------------------------------- inputs


def _csv(tmp: Path, name: str = "s.csv", **changes) -> str:
    path = tmp / name
    pd.DataFrame({**GOOD, **changes}).to_csv(path, index=False)
    return str(path)


def _file(tmp: Path, name: str, data: bytes | str) -> str:
    path = tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def _strata_db(tmp: Path, name: str = "r.duckdb") -> str:
    path = tmp / name
    _write(path)  # one small real result of model "m"
    return str(path)


def _foreign_db(tmp: Path, name: str = "other.duckdb") -> str:
    """A DuckDB file of someone else's, with its own ``probe_scores`` table."""
    path = tmp / name
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE probe_scores (id INTEGER, note TEXT)")
        con.execute("INSERT INTO probe_scores VALUES (1, 'theirs'), (2, 'not Strata')")
    return str(path)


def _damaged_db(tmp: Path, name: str = "damaged.duckdb", offset: int = 12388) -> str:
    """A Strata database with 64 garbled bytes in a block (DuckDB's checksums catch it)."""
    path = Path(_strata_db(tmp, name))
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + 64):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return str(path)


def _truncated_db(tmp: Path) -> str:
    path = Path(_strata_db(tmp, "truncated.duckdb"))
    path.write_bytes(path.read_bytes()[:13000])
    return str(path)


def _newer_db(tmp: Path, name: str = "newer.duckdb") -> str:
    path = _strata_db(tmp, name)
    with duckdb.connect(path) as con:
        con.execute("UPDATE strata_meta SET value = '7' WHERE key = 'schema_version'")
    return path


def _empty_duckdb(tmp: Path) -> str:
    path = tmp / "empty.duckdb"
    duckdb.connect(str(path)).close()
    return str(path)


def _model_dir_without_config(tmp: Path) -> str:
    folder = tmp / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\0" * 16)
    return str(folder)


PICKLE = pickle.dumps({"texts": ["a", "b"], "payload": list(range(50))})
RUN = ["run", "--model", "smollm2-135m", "--quiet"]


def _transfer(tmp: Path) -> list[str]:
    return ["transfer", "--model", "smollm2-135m", "--quiet", "--db", str(tmp / "r.duckdb")]


@dataclass(frozen=True)
class Case:
    """A bad input: how to make the command line, and what the error line must say."""

    id: str
    argv: Callable[[Path], list[str]]
    message: str
    setup: Callable[[pytest.MonkeyPatch], None] | None = None


def _less_memory(monkeypatch):
    monkeypatch.setattr("core.lm.budget.free_memory", lambda: 1 << 30)  # 1 GiB free


def _less_disk(monkeypatch):
    monkeypatch.setattr("core.lm.budget.free_disk", lambda path: 100 << 20)  # 100 MiB free


def _many_rows(tmp: Path) -> str:
    """2,400 texts: ~0.5 GB of SmolLM2 activations per pooling, 1.3 GB with the weights."""
    n = 2400
    frame = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(n)],
            "text": [f"A word{k}" for k in range(n)],
            "group": [f"g{k % 60}" for k in range(n)],
            "y:binary": ["0", "1"] * (n // 2),
        }
    )
    path = tmp / "many.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _run_db(id: str, db: Callable[[Path], str], message: str) -> Case:
    """``run`` on a good stimulus file, writing to the results database ``db`` makes."""
    return Case(id, lambda t: [*RUN, "--stimuli", _csv(t), "--db", db(t)], message)


def _import_into_ours(id: str, source: Callable[[Path], str], message: str) -> Case:
    """``import-results`` of the file ``source`` makes into a good Strata database."""
    return Case(id, lambda t: ["import-results", source(t), "--db", _strata_db(t)], message)


CASES = [
    # usage and settings (argparse and RunConfig / ProbeSettings)
    Case("no-command", lambda t: [], "the following arguments are required: command"),
    Case("unknown-command", lambda t: ["frobnicate"], "invalid choice: 'frobnicate'"),
    Case("run-without-stimuli", lambda t: RUN, "the following arguments are required: --stimuli"),
    Case(
        "permutations-not-a-number",
        lambda t: [*RUN, "--stimuli", _csv(t), "--permutations", "many"],
        "invalid int value: 'many'",
    ),
    Case(
        "folds-1",
        lambda t: [*RUN, "--stimuli", _csv(t), "--folds", "1"],
        "folds=1: cross-validation needs at least 2 folds",
    ),
    Case(
        "permutations-negative",
        lambda t: [*RUN, "--stimuli", _csv(t), "--permutations", "-1"],
        "permutations=-1 cannot be negative",
    ),
    Case(
        "half-splits-negative",
        lambda t: [*RUN, "--stimuli", _csv(t), "--half-splits", "-2"],
        "half_splits=-2 cannot be negative",
    ),
    Case(
        "device-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--device", "gpu"],
        "device 'gpu' is not one of cpu, cuda, cuda:N, mps",
    ),
    Case(
        "device-missing",
        lambda t: [*RUN, "--stimuli", _csv(t), "--device", "cuda:7"],
        "device 'cuda:7' is not available here",
    ),
    Case("jobs-0", lambda t: [*RUN, "--stimuli", _csv(t), "--jobs", "0"], "jobs=0: use a positive"),
    Case(
        "seed-negative",
        lambda t: [*RUN, "--stimuli", _csv(t), "--seed", "-1"],
        "seed=-1: use a seed of 0 or more",
    ),
    Case(
        "batch-tokens-0",
        lambda t: [*RUN, "--stimuli", _csv(t), "--batch-tokens", "0"],
        "batch_tokens=0 must be at least 1",
    ),
    Case(
        "chunk-items-0",
        lambda t: [*RUN, "--stimuli", _csv(t), "--chunk-items", "0"],
        "chunk_items=0 must be at least 1",
    ),
    Case(
        "max-memory-malformed",
        lambda t: [*RUN, "--stimuli", _csv(t), "--max-memory", "0:3"],
        "is not DEVICE=AMOUNT",
    ),
    Case(
        "device-map-bad-json",
        lambda t: [*RUN, "--stimuli", _csv(t), "--device-map", '{"model": '],
        "--device-map is not valid JSON",
    ),
    Case(
        "joblib-backend-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--joblib-backend", "spark"],
        "unknown joblib backend 'spark'",
    ),
    Case(
        "pooling-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--pooling", "max"],
        "unknown pooling 'max'",
    ),
    Case(
        "pooling-half-on-wrong-set",
        lambda t: [*RUN, "--stimuli", _csv(t), "--pooling", "mean_ab"],
        "pooling 'mean_ab' needs 4 target words per row",
    ),
    Case(
        "component-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--components", "everything"],
        "unknown component 'everything'",
    ),
    Case(
        "dtype-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--dtype", "float8"],
        "unknown dtype 'float8'",
    ),
    Case(
        "quantization-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--quantization", "3bit"],
        "unknown quantization '3bit'",
    ),
    Case(
        "store-dtype-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--store-dtype", "int8"],
        "unknown store dtype 'int8'",
    ),
    Case(
        "backend-unknown",
        lambda t: [*RUN, "--stimuli", _csv(t), "--backend", "torchscript"],
        "unknown backend 'torchscript'",
    ),
    Case(
        "remote-without-nnsight",
        lambda t: [*RUN, "--stimuli", _csv(t), "--remote"],
        "remote execution runs through nnsight",
    ),
    # models
    Case(
        "model-unknown-name",
        lambda t: ["run", "--model", "gpt-7-imaginary", "--stimuli", _csv(t)],
        "unknown model 'gpt-7-imaginary'",
    ),
    Case(
        "model-hub-id-not-downloaded",
        lambda t: ["run", "--model", "someorg/not-downloaded", "--stimuli", _csv(t)],
        "not in the local Hugging Face cache",
    ),
    Case(
        "model-missing-dir",
        lambda t: ["run", "--model", "/nonexistent/model/dir", "--stimuli", _csv(t)],
        "is not a directory with config.json",
    ),
    Case(
        "model-dir-without-config",
        lambda t: ["run", "--model", _model_dir_without_config(t), "--stimuli", _csv(t)],
        "has no config.json",
    ),
    Case(
        "model-gguf-broken",
        lambda t: [
            "run",
            "--model",
            _file(t, "broken.gguf", b"GGUF" + b"\0" * 64),
            "--stimuli",
            _csv(t),
        ],
        "cannot read GGUF file",
    ),
    Case(
        "model-gguf-not-gguf",
        lambda t: ["run", "--model", _file(t, "fake.gguf", PICKLE), "--stimuli", _csv(t)],
        "is not a GGUF file",
    ),
    # stimulus files
    Case(
        "stimuli-missing-file",
        lambda t: [*RUN, "--stimuli", str(t / "missing.csv")],
        "stimulus file",
    ),
    Case(
        "stimuli-unknown-name",
        lambda t: [*RUN, "--stimuli", "no-such-set"],
        "unknown stimulus set 'no-such-set'",
    ),
    Case(
        "stimuli-empty", lambda t: [*RUN, "--stimuli", _file(t, "e.csv", "")], "the file is empty"
    ),
    Case(
        "stimuli-bad-quoting",
        lambda t: [*RUN, "--stimuli", _file(t, "q.csv", 'item_id,text,group\n"a,b\n')],
        "not a readable CSV",
    ),
    Case(
        "stimuli-pickle-disguised-as-csv",
        lambda t: [*RUN, "--stimuli", _file(t, "evil.csv", PICKLE)],
        "not a readable CSV",
    ),
    Case(
        "stimuli-missing-text-column",
        lambda t: [
            *RUN,
            "--stimuli",
            _file(t, "t.csv", pd.DataFrame(GOOD).drop(columns="text").to_csv(index=False)),
        ],
        "column 'text': missing required",
    ),
    Case(
        "stimuli-duplicate-id",
        lambda t: [*RUN, "--stimuli", _csv(t, item_id=["a"] * 12)],
        "row 2, column 'item_id': duplicate id 'a'",
    ),
    Case(
        "stimuli-constant-target",
        lambda t: [*RUN, "--stimuli", _csv(t, **{"y:binary": ["1"] * 12})],
        "constant",
    ),
    Case(
        "stimuli-missing-label",
        lambda t: [*RUN, "--stimuli", _csv(t, **{"r:continuous": ["1"] * 11 + ["nan"]})],
        "row 12, column 'r:continuous': missing value",
    ),
    Case(
        "stimuli-infinite-rating",
        lambda t: [*RUN, "--stimuli", _csv(t, **{"r:continuous": ["1"] * 11 + ["inf"]})],
        "'inf' is not a finite number",
    ),
    Case(
        "stimuli-too-few-groups",
        lambda t: [*RUN, "--stimuli", _csv(t, group=["g1", "g2"] * 6)],
        "only 2 distinct groups; grouped 6-fold CV",
    ),
    Case(
        "stimuli-rare-class",
        lambda t: [*RUN, "--stimuli", _csv(t, **{"y:binary": ["1"] * 3 + ["0"] * 9})],
        "class '1' occurs in only 3 groups",
    ),
    Case(
        "stimuli-span-outside-text",
        lambda t: [*RUN, "--stimuli", _csv(t, spans=["0:99"] * 12)],
        "span 0:99 is not inside",
    ),
    Case(
        "stimuli-word-not-in-text",
        lambda t: [*RUN, "--stimuli", _csv(t, words=["apple"] * 12)],
        "'apple' is not in the text",
    ),
    Case(
        "stimuli-nul-byte",
        lambda t: [*RUN, "--stimuli", _csv(t, text=[f"A word{k}\0" for k in range(12)])],
        "row 1, column 'text': contains a NUL byte",
    ),
    Case(
        "stimuli-text-too-long",
        lambda t: [*RUN, "--stimuli", _csv(t, text=["word " * 20_000, *GOOD["text"][1:]])],
        "the model takes at most 8192",
    ),
    Case(
        "stimuli-too-big-for-memory",
        lambda t: [*RUN, "--stimuli", _many_rows(t)],
        "GiB is free: use fewer texts",
        _less_memory,
    ),
    Case(
        "stimuli-too-big-for-disk",
        lambda t: [*RUN, "--stimuli", _many_rows(t)],
        "of disk under",
        _less_disk,
    ),
    Case(
        "second-set-bad-first-untouched",
        lambda t: [
            *RUN,
            "--db",
            str(t / "r.duckdb"),
            "--stimuli",
            _csv(t),
            _csv(t, "b.csv", text=[""] * 12),
        ],
        "row 1, column 'text': empty value",
    ),
    # the results database a run writes to
    _run_db(
        "run-db-in-missing-folder",
        lambda t: str(t / "nowhere" / "r.duckdb"),
        "does not exist: create it first",
    ),
    _run_db("run-db-is-a-folder", str, "is a folder"),
    _run_db("run-db-foreign", _foreign_db, "but not Strata's"),
    _run_db(
        "run-db-not-duckdb", lambda t: _file(t, "x.duckdb", PICKLE), "is not a DuckDB database file"
    ),
    _run_db(
        "run-db-damaged", _damaged_db, "is damaged (checksum mismatch in the block at byte 12288)"
    ),
    _run_db("run-db-newer", _newer_db, "made by a newer Strata"),
    # results / report
    Case(
        "results-db-missing",
        lambda t: ["results", "--db", str(t / "typo.duckdb")],
        "does not exist",
    ),
    Case(
        "results-db-foreign",
        lambda t: ["results", "--db", _foreign_db(t)],
        "but not Strata's",
    ),
    Case(
        "results-db-damaged-block",
        lambda t: ["results", "--db", _damaged_db(t)],
        "is damaged (checksum mismatch",
    ),
    Case(
        "results-db-damaged-header",
        lambda t: ["results", "--db", _damaged_db(t, offset=4096)],
        "is damaged (checksum mismatch in the block at byte 4096)",
    ),
    Case(
        "results-db-truncated",
        lambda t: ["results", "--db", _truncated_db(t)],
        "is damaged (the file ends early: truncated?)",
    ),
    Case(
        "results-db-not-duckdb",
        lambda t: ["results", "--db", _file(t, "x.duckdb", "hello" * 500)],
        "is not a DuckDB database file",
    ),
    Case("results-db-newer", lambda t: ["results", "--db", _newer_db(t)], "made by a newer Strata"),
    Case(
        "report-unknown-model",
        lambda t: ["report", "--model", "gpt-17", "--db", _strata_db(t)],
        "no results for model 'gpt-17'",
    ),
    Case(
        "report-db-missing",
        lambda t: ["report", "--db", str(t / "typo.duckdb")],
        "does not exist",
    ),
    Case(
        "report-out-is-a-file",
        lambda t: ["report", "--model", "m", "--db", _strata_db(t), "--out", _file(t, "o", "x")],
        "it is a file, not a folder",
    ),
    # export
    Case(
        "export-out-under-a-file",
        lambda t: ["export", "--stimuli", _csv(t), "--out", str(Path(_file(t, "f", "x")) / "o")],
        "is a file, not a folder",
    ),
    Case(
        "export-bad-stimuli",
        lambda t: ["export", "--stimuli", _csv(t, group=["g"] * 12), "--out", str(t / "o")],
        "only 1 distinct groups",
    ),
    Case(
        "export-bad-model",
        lambda t: ["export", "--model", "gpt-7", "--stimuli", _csv(t), "--out", str(t / "o")],
        "unknown model 'gpt-7'",
    ),
    # export-results / import-results
    Case(
        "export-results-out-exists",
        lambda t: ["export-results", "--db", _strata_db(t), "--out", _file(t, "o.duckdb", "x")],
        "exists; choose a new file name",
    ),
    Case(
        "export-results-out-in-missing-folder",
        lambda t: ["export-results", "--db", _strata_db(t), "--out", str(t / "no" / "o.duckdb")],
        "does not exist: create it first",
    ),
    Case(
        "export-results-db-missing",
        lambda t: ["export-results", "--db", str(t / "typo.duckdb"), "--out", str(t / "o.duckdb")],
        "does not exist",
    ),
    Case(
        "export-results-db-foreign",
        lambda t: ["export-results", "--db", _foreign_db(t), "--out", str(t / "o.duckdb")],
        "but not Strata's",
    ),
    _import_into_ours("import-missing-file", lambda t: str(t / "typo.duckdb"), "results file"),
    _import_into_ours("import-foreign-source", _foreign_db, "but not Strata's"),
    Case(
        "import-into-itself",
        lambda t: ["import-results", _strata_db(t), "--db", str(t / "r.duckdb")],
        "is the results database itself",
    ),
    _import_into_ours("import-damaged-source", _damaged_db, "results file"),
    _import_into_ours("import-newer-source", _newer_db, "made by a newer Strata"),
    _import_into_ours(
        "import-not-duckdb", lambda t: _file(t, "x.duckdb", PICKLE), "is not a DuckDB database file"
    ),
    _import_into_ours("import-no-tables", _empty_duckdb, "holds no Strata results"),
    Case(
        "import-into-foreign-db",
        lambda t: ["import-results", _strata_db(t), "--db", _foreign_db(t)],
        "but not Strata's",
    ),
    # uploads
    Case(
        "upload-name-escapes",
        lambda t: ["upload", "../evil", _csv(t)],
        "cannot name an upload",
    ),
    Case("upload-builtin-name", lambda t: ["upload", "items", _csv(t)], "cannot name an upload"),
    Case(
        "upload-missing-file",
        lambda t: ["upload", "mine", str(t / "missing.csv")],
        "cannot read",
    ),
    Case(
        "upload-too-big",
        lambda t: ["upload", "mine", _file(t, "big.csv", b"x" * (21 * 2**20))],
        "uploads are limited to 20 MiB",
    ),
    Case(
        "upload-folds-1",
        lambda t: ["upload", "mine", _csv(t), "--folds", "1"],
        "folds=1: cross-validation needs at least 2 folds",
    ),
    Case(
        "upload-folds-beyond-groups",
        lambda t: ["upload", "mine", _csv(t), "--folds", "20"],
        "only 12 distinct groups; grouped 20-fold CV",
    ),
    Case(
        "upload-pickle",
        lambda t: ["upload", "mine", _file(t, "evil.csv", PICKLE)],
        "not a readable CSV",
    ),
    Case(
        "upload-nul-byte",
        lambda t: ["upload", "mine", _csv(t, group=[f"g{k}\0" for k in range(12)])],
        "column 'group': contains a NUL byte",
    ),
    # transfer between sets
    Case(
        "transfer-unknown-set",
        lambda t: [*_transfer(t), "--train", "no-such-set", "--test", "buried"],
        "unknown stimulus set 'no-such-set'",
    ),
    Case(
        "transfer-no-shared-target",
        lambda t: [*_transfer(t), "--train", "pairs", "--test", "items"],
        "share no target of the same kind",
    ),
    Case(
        "transfer-target-not-shared",
        lambda t: [*_transfer(t), "--train", "pairs", "--test", "buried", "--target", "valid"],
        "target 'valid' is not shared by 'pairs' and 'buried'",
    ),
    Case(
        "transfer-same-set",
        lambda t: [*_transfer(t), "--train", "pairs", "--test", "pairs"],
        "--train and --test are both 'pairs'",
    ),
    Case(
        "transfer-matrix-component-unknown",
        lambda t: [
            *_transfer(t),
            "--train",
            "pairs",
            "--test",
            "buried",
            "--matrix-component",
            "x",
        ],
        "invalid choice: 'x'",
    ),
    Case(
        "transfer-foreign-db",
        lambda t: ["transfer", "--train", "pairs", "--test", "buried", "--db", _foreign_db(t)],
        "but not Strata's",
    ),
    # --------------------------------------------------------------------- deck
    Case(
        "deck-unknown-model",
        lambda t: ["deck", "--model", "nope", "--db", _strata_db(t), "--out", str(t / "talk")],
        "no results for model 'nope'",
    ),
    Case(
        "deck-reference-out-of-range",
        lambda t: [
            "deck",
            "--reference",
            _file(t, "ref.csv", "label,n_layers,measure,value\npaper,80,rho,-3\n"),
            "--db",
            _strata_db(t),
            "--out",
            str(t / "talk"),
        ],
        "reference file 'ref.csv', row 1, column 'value': a correlation between -1 and 1",
    ),
    Case("deck-without-out", lambda t: ["deck", "--model", "m"], "required: --out"),
]


# --------------------------------------------------------------------------- checks


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with the hash of its bytes, and every
    folder but Strata's own runtime folders (``cache/``, made on demand): an output folder
    made and left empty is something written too."""
    runtime = Path(os.environ["STRATA_CACHE"])
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "folder"
        for p in sorted(folder.rglob("*"))
        if p.is_file() or not (p == runtime or runtime in p.parents)
    }


def _no_model(*args, **kwargs):
    pytest.fail("the model was loaded for a bad input")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_before_any_work(case, tmp_path, capsys, monkeypatch):
    from core import pipeline

    monkeypatch.setattr(pipeline, "load", _no_model)
    monkeypatch.setattr(pipeline, "_load_model", _no_model)
    if case.setup is not None:
        case.setup(monkeypatch)
    argv = case.argv(tmp_path)
    before = snapshot(tmp_path)
    code = run_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "unexpected" not in err[0], err[0]
    assert case.message in err[0], err[0]
    after = snapshot(tmp_path)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"written or modified: {changed}"


def test_the_table_covers_forty_kinds_of_bad_input():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: ["results", "--db", _foreign_db(t)], "but not Strata's"),
        (
            lambda t: [*RUN, "--stimuli", _csv(t), "--db", _damaged_db(t)],
            "is damaged (checksum mismatch",
        ),
        (lambda t: ["import-results", _strata_db(t), "--db", str(t / "r.duckdb")], "itself"),
        (  # the model's path: transformers and gguf are imported on the way
            lambda t: [
                "run",
                "--model",
                _file(t, "b.gguf", b"GGUF" + bytes(64)),
                "--stimuli",
                _csv(t),
            ],
            "cannot read GGUF file",
        ),
        pytest.param(  # loads transformers and the tokenizer: about 10 s
            lambda t: [*RUN, "--stimuli", _csv(t, text=["word " * 20_000, *GOOD["text"][1:]])],
            "tokens long; the model takes at most 8192",
            marks=pytest.mark.slow,
        ),
    ],
    ids=["foreign-db", "damaged-db", "import-itself", "broken-gguf", "text-too-long"],
)
def test_a_real_process_prints_one_line(tmp_path, make, message):
    argv = make(tmp_path)
    before = snapshot(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "core", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr
    assert snapshot(tmp_path) == before
