"""The built-in stimulus sets: sizes, balance, groups, articles, and that they rebuild."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.stimuli import builtin_names, load
from core.stimuli.buried import DATA, filler_words

ROOT = Path(__file__).resolve().parents[2]


def test_the_contract_names_are_built_in():
    assert {"items", "pairs", "analogies", "buried"} <= set(builtin_names())
    assert {"items-article", "analogies-paper"} <= set(builtin_names())


def test_items_frame_fits_every_noun_and_controls_are_not_targets():
    items, paper = load("items"), load("items-article")
    assert len(items) >= 400
    assert items.texts == [f"The {w}" for w in items.frame["item_id"]]
    assert (items.frame["group"] == items.frame["item_id"]).all()
    assert list(paper.frame["item_id"]) == list(items.frame["item_id"])
    assert paper.targets == items.targets
    for noun, text in zip(paper.frame["item_id"], paper.texts):
        art = text.split()[0].lower()
        assert text == f"{text.split()[0]} {noun}"
        if noun in {"hour", "honor", "heir"}:
            assert art == "an"
        elif re.match(r"(uni|use|uten|ukul|eu|ewe|one)", noun):
            assert art == "a", noun
        else:
            assert art == ("an" if noun[0] in "aeiou" else "a"), noun
    binary = [t for t, k in items.targets.items() if k == "binary"]
    assert binary == ["is_living", "is_animal", "is_plant", "is_edible", "is_man_made"]
    for target in binary:
        assert 0.10 <= items.frame[target].mean() <= 0.90, target
    assert not {"frequency_zipf", "meta_zipf", "meta_length"} & set(items.targets)
    assert {"meta_zipf", "meta_length"} <= set(items.frame.columns)


def test_item_labels_follow_their_definitions():
    frame = load("items").frame.set_index("item_id")
    assert (frame["is_living"] >= frame["is_animal"]).all()  # every animal is alive
    assert (frame["is_living"] >= frame["is_plant"]).all()
    assert not (frame["is_animal"] & frame["is_plant"]).any()
    assert not (frame["is_living"] & frame["is_man_made"]).any()
    spot = {  # word: (living, animal, plant, edible, man-made), from the written definitions
        "beef": (0, 0, 0, 1, 0),
        "salmon": (1, 1, 0, 1, 0),
        "apple": (1, 0, 1, 1, 0),
        "bread": (0, 0, 0, 1, 1),
        "milk": (0, 0, 0, 1, 0),
        "tiger": (1, 1, 0, 0, 0),
        "hammer": (0, 0, 0, 0, 1),
    }
    labels = ["is_living", "is_animal", "is_plant", "is_edible", "is_man_made"]
    for word, expected in spot.items():
        if word in frame.index:
            assert tuple(frame.loc[word, labels]) == expected, word


def test_pairs_every_word_related_and_unrelated_within_one_group():
    pairs = load("pairs")
    frame = pairs.frame
    assert len(frame) >= 300
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
    per_relation = frame.groupby("relation")["group"].nunique()
    assert set(per_relation.index) == {"is_a", "part_of", "co_hyponym", "synonym", "unrelated"}
    assert per_relation.min() >= 6


def test_is_a_pairs_put_the_hypernym_first_in_half():
    frame = load("pairs").frame
    is_a = frame[frame["relation"] == "is_a"]
    first = is_a["meta_order"].value_counts()
    assert set(first.index) == {"hyponym_first", "hypernym_first"}
    assert abs(first["hyponym_first"] - first["hypernym_first"]) <= 1


def _rows(name):
    frame = load(name).frame
    words = [w.split("|") for w in load(name).words()]
    return frame, words


@pytest.mark.parametrize("name", ["analogies", "analogies-paper"])
def test_analogy_groups_are_the_components_of_shared_words(name):
    frame, words = _rows(name)
    assert len(frame) >= 300
    for text in frame["text"]:
        assert re.fullmatch(r"Analogy: \S+ is to \S+ as \S+ is to \S+", text), text
    where = defaultdict(set)
    for row, group in zip(words, frame["group"]):
        for word in row:
            where[word].add(group)
    assert all(len(g) == 1 for g in where.values())  # no word in two groups
    per_group = frame.groupby("group")["valid"].mean()
    assert (per_group == 0.5).all()
    assert frame["relation"].nunique() == 7
    assert frame.groupby("relation")["group"].nunique().min() >= 6


def test_relation_match_halves_say_nothing_alone():
    frame, words = _rows("analogies")
    ab = pd.Series([tuple(w[:2]) for w in words])
    cd = pd.Series([tuple(w[2:]) for w in words])
    # every a:b and every c:d is once valid and once broken
    assert (frame.groupby(ab)["valid"].agg(["sum", "count"]).values == [1, 2]).all()
    assert (frame.groupby(cd)["valid"].agg(["sum", "count"]).values == [1, 2]).all()
    assert set(cd) <= set(ab)  # c:d is always a true pair
    valid = frame["valid"] == 1
    assert (frame.loc[valid, "relation"] == frame.loc[valid, "meta_cd_relation"]).all()
    assert (frame.loc[~valid, "relation"] != frame.loc[~valid, "meta_cd_relation"]).all()


def test_paper_family_rows_break_the_relation_and_part_of_runs_part_to_whole():
    frame, words = _rows("analogies-paper")
    family = frame["relation"] == "family"
    male = {w[0] for w, f in zip(words, family) if f}
    for row, ok, is_family in zip(words, frame["valid"], family):
        if is_family and not ok:
            assert row[2] in male and row[3] in male, row  # c and the wrong d: same gender


@pytest.mark.parametrize("name", ["analogies", "analogies-paper"])
def test_part_of_pairs_run_part_to_whole(name):
    from core.stimuli.audit import load_wordnet

    wn = load_wordnet()
    if wn is None:
        pytest.skip("WordNet is not installed")
    frame, words = _rows(name)
    sources = {tuple(w[:2]) for w, r in zip(words, frame["relation"]) if r == "part_of"}
    assert len(sources) >= 12
    for part, whole in sources:
        holonyms = {
            lemma.lower()
            for synset in wn.synsets(part, pos="n")
            for holonym in synset.part_holonyms()
            for lemma in holonym.lemma_names()
        }
        assert whole in holonyms, (part, whole)


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
    for name in ("items", "items-article", "pairs", "analogies", "analogies-paper"):
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
