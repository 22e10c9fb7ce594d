"""The built-in stimulus sets: sizes, balance, groups, articles, and that they rebuild."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.stimuli import builtin_names, load
from core.stimuli.buried import DATA, filler_words

ROOT = Path(__file__).resolve().parents[2]


def test_the_contract_names_are_built_in():
    assert {"items", "pairs", "analogies", "buried"} <= set(builtin_names())


def test_items():
    items = load("items")
    assert len(items) >= 400
    binary = [t for t, k in items.targets.items() if k == "binary"]
    continuous = [t for t, k in items.targets.items() if k == "continuous"]
    assert len(binary) >= 8 and len(continuous) >= 6
    for target in binary:
        rate = items.frame[target].mean()
        assert 0.15 <= rate <= 0.85, (target, rate)
    assert (items.frame["group"] == items.frame["item_id"]).all()
    for noun, text in zip(items.frame["item_id"], items.texts):
        art = text.split()[0].lower()
        assert text == f"{text.split()[0]} {noun}"
        if noun in {"hour", "honor", "heir"}:
            assert art == "an"
        elif re.match(r"(uni|use|uten|ukul|eu|ewe|one)", noun):
            assert art == "a", noun
        else:
            assert art == ("an" if noun[0] in "aeiou" else "a"), noun


def test_pairs_every_word_related_and_unrelated_within_one_group():
    pairs = load("pairs")
    frame = pairs.frame
    assert len(frame) >= 400
    assert frame["related"].mean() == 0.5
    roles = defaultdict(set)
    groups = defaultdict(set)
    for words, related, group in zip(frame["item_id"], frame["related"], frame["group"]):
        for word in words.split("-"):
            roles[word].add(related)
            groups[word].add(group)
    assert all(r == {0, 1} for r in roles.values())
    assert all(len(g) == 1 for g in groups.values())  # a word's pairs stay in one group
    assert set(frame.loc[frame["related"] == 0, "relation"]) == {"unrelated"}
    assert {"is_a", "part_of", "co_hyponym"} <= set(frame["relation"])


def test_analogies_balanced_within_each_group():
    analogies = load("analogies")
    frame = analogies.frame
    assert len(frame) >= 400
    per_group = frame.groupby("group")["valid"].agg(["sum", "count"])
    assert (per_group["sum"] == 1).all() and (per_group["count"] == 2).all()
    assert frame["relation"].nunique() >= 6
    for text in frame["text"]:
        assert re.fullmatch(r"\S+ is to \S+ as \S+ is to \S+", text), text


@pytest.mark.parametrize(
    "name, length",
    [("buried", 100), ("buried-0", 0), ("buried-25", 25), ("buried-50", 50), ("buried-200", 200)],
)
def test_buried_keeps_the_pair_text_and_adds_clean_filler(name, length):
    pairs, buried = load("pairs"), load(name)
    assert list(buried.frame["item_id"]) == list(pairs.frame["item_id"])
    assert buried.spans == pairs.spans  # pooling over the pair sees the same characters
    for pair_text, text, words in zip(pairs.texts, buried.texts, pairs.frame["item_id"]):
        assert text.startswith(pair_text + ".")
        filler = text[len(pair_text) + 1 :].split()
        assert len(filler) == length
        lowered = {re.sub(r"[^a-z]", "", w.lower()) for w in filler}
        assert not lowered & set(words.split("-"))


def test_buried_is_deterministic():
    assert load("buried").texts == load("buried").texts
    assert len(filler_words()) > 20000 and (DATA / "filler_alice.txt").is_file()


def test_class_balance_supports_grouped_folds():
    for name in ("items", "pairs", "analogies"):
        stimuli = load(name)
        for target, kind in stimuli.targets.items():
            if kind != "continuous":
                per_class = stimuli.frame.groupby(target)["group"].nunique()
                assert per_class.min() >= 6, (name, target)
            else:
                assert np.isfinite(stimuli.labels(target)).all()


@pytest.mark.slow
def test_sets_rebuild_byte_for_byte_from_their_sources():
    """Downloads the pinned sources (PyPI) and reads Debian's WordNet, as CI does."""
    pytest.importorskip("nltk")
    pytest.importorskip("wordfreq")
    if not Path("/usr/share/wordnet/index.sense").is_file():
        if shutil.which("apt-get") is None:
            pytest.skip("WordNet is not installed and apt-get is not available")
        subprocess.run(["bash", str(ROOT / "scripts" / "install-system.sh")], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "core.stimuli.build", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_buried_filler_starts_at_a_sentence():
    for text, pair in zip(load("buried-25").texts, load("pairs").texts):
        first = text[len(pair) + 2 :].split()[0]
        assert first.lstrip("'\"(")[:1].isupper(), text
