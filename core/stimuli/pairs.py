"""The ``pairs`` set: "A(n) {x} and {y}", related by a WordNet relation or re-paired.

Related pairs are WordNet links between the *reader's senses* (:func:`items.reader_sense`)
of the reviewed nouns (the ``items`` lexicon): *is-a* (one is a hypernym of the other
within three steps; the hypernym comes first in half of them), *part-of* (a part meronym:
part first), *co-hyponym* (the same direct hypernym) and *synonym* (the same sense).
Pairs a reviewer rejects (related only through a sense a reader does not take first, or
not related in the reader's senses) are dropped in ``overrides.csv`` (``pair`` rows).

The words are split into disjoint pools of four related pairs; inside a pool the four
second words are rotated to make four unrelated pairs (no WordNet link, Wu-Palmer
similarity below 0.4, and not a pair ``overrides.csv`` marks as related in use).  So every
word is in one related and one unrelated pair, no word predicts the label, and the pool is
the CV group: a word (and its synonyms) never sits on both sides of a fold.
"""

from __future__ import annotations

import random

import pandas as pd

from core.stimuli.items import article

RELATIONS = ("is_a", "part_of", "co_hyponym", "synonym")
# hypernyms too general to make an is-a pair a reader would call related
TOO_GENERAL = {
    "thing",
    "object",
    "whole",
    "piece",
    "part",
    "unit",
    "entity",
    "matter",
    "being",
    "organism",
    "person",
    "artifact",
    "substance",
    "material",
    "stuff",
    "item",
    "article",
    "device",
    "structure",
    "body",
    "group",
    "form",
    "shape",
    "product",
    "creation",
}
PAIRS_PER_POOL = 4
UNRELATED_WUP_MAX = 0.4
SEED = 13
MAX_FAILURES = 20000


def edges(wn, senses: dict[str, str]) -> pd.DataFrame:
    """Every related (x, y, relation) among the words' reader's senses.

    Parameters
    ----------
    wn : WordNet corpus reader
    senses : dict of str to str
        Word to the name of its reader's sense.

    Returns
    -------
    DataFrame with columns ``x``, ``y``, ``relation``
        One row per unordered pair; is-a rows put the hyponym first, part-of rows the
        part first.  Sorted by relation, x, y.
    """
    first = {w: wn.synset(s) for w, s in senses.items()}
    by_sense: dict = {}
    for word, synset in sorted(first.items()):
        by_sense.setdefault(synset, []).append(word)
    rows = []
    for x, sx in first.items():
        frontier, seen = [sx], set()
        for _ in range(3):
            frontier = [h for s in frontier for h in s.hypernyms() if h not in seen]
            seen.update(frontier)
            for h in frontier:
                for y in by_sense.get(h, []):
                    if y != x and y not in TOO_GENERAL:
                        rows.append((x, y, "is_a"))
        for whole in sx.part_holonyms():
            rows.extend((x, y, "part_of") for y in by_sense.get(whole, []) if y != x)
        for part in sx.part_meronyms():
            rows.extend((y, x, "part_of") for y in by_sense.get(part, []) if y != x)
    for words in by_sense.values():
        rows.extend((x, y, "synonym") for i, x in enumerate(words) for y in words[i + 1 :])
    by_parent: dict = {}
    for w, s in first.items():
        for h in s.hypernyms():
            by_parent.setdefault(h, []).append(w)
    for siblings in by_parent.values():
        siblings = sorted(siblings)
        for i, x in enumerate(siblings):
            for y in siblings[i + 1 :]:
                if first[x] != first[y]:
                    rows.append((x, y, "co_hyponym"))
    frame = pd.DataFrame(rows, columns=["x", "y", "relation"])
    frame["key"] = [frozenset(p) for p in zip(frame["x"], frame["y"])]
    frame = frame.drop_duplicates("key").drop(columns="key")
    return frame.sort_values(["relation", "x", "y"]).reset_index(drop=True)


def reviewed_links(wn, lexicon: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """:func:`edges` among the reviewed nouns, without the pairs the review rejected.

    Parameters
    ----------
    wn : WordNet corpus reader
    lexicon : DataFrame
        ``word`` and ``synset`` (the reader's sense), as :func:`items.lexicon` returns it.
    overrides : DataFrame
        ``overrides.csv``; its ``pair`` rows are the rejections.

    Returns
    -------
    DataFrame with columns ``x``, ``y``, ``relation``
    """
    links = edges(wn, dict(zip(lexicon["word"], lexicon["synset"])))
    rejected = _pairs_set(overrides, "pair")
    keep = [frozenset(p) not in rejected for p in zip(links["x"], links["y"])]
    return links[keep].reset_index(drop=True)


def _pairs_set(frame: pd.DataFrame, column: str) -> set[frozenset]:
    rows = frame.loc[frame["column"] == column, "word"]
    return {frozenset(word.split("|")) for word in rows}


def build(
    wn,
    lexicon: pd.DataFrame,
    overrides: pd.DataFrame,
    articles: dict[str, str],
    *,
    n_pools: int = 60,
) -> pd.DataFrame:
    """Pools of four related pairs and their four rotations, as the stimulus table.

    Parameters
    ----------
    wn : WordNet corpus reader
    lexicon : DataFrame
        The reviewed nouns (:func:`items.lexicon`): ``word``, ``synset``, ``synonyms``.
    overrides : DataFrame
        ``overrides.csv`` rows; ``pair`` rows (``x|y``) drop a related pair, ``related``
        rows mark a pair a rotation must not make (related in use, unlinked in WordNet).
    articles : dict of str to str
        Article exceptions.
    n_pools : int
        How many pools (CV groups) of 8 rows to make.

    Returns
    -------
    DataFrame, 8 * n_pools rows, in the stimulus schema
    """
    senses = dict(zip(lexicon["word"], lexicon["synset"]))
    family = dict(zip(lexicon["word"], lexicon["synonyms"]))
    first = {w: wn.synset(s) for w, s in senses.items()}
    links = edges(wn, senses)
    linked = {frozenset(p) for p in zip(links["x"], links["y"])} | _pairs_set(overrides, "related")
    # shuffled before the reviewed rejections are taken out, so that rejecting a pair
    # changes only the pool it was in
    rng = random.Random(SEED)
    queues = {r: list(g.itertuples(index=False)) for r, g in links.groupby("relation")}
    rejected = _pairs_set(overrides, "pair")
    for relation, queue in queues.items():
        rng.shuffle(queue)
        queues[relation] = [e for e in queue if frozenset((e.x, e.y)) not in rejected]
    used: set[str] = set()  # synonym-set ids, so synonyms never sit in two pools
    rows = []
    pool = failures = 0
    n_is_a = 0

    similarity: dict[tuple[str, str], float] = {}  # pools that fail come back: ask WordNet once

    def unrelated(x: str, y: str) -> bool:
        if (x, y) not in similarity:
            similarity[x, y] = first[x].wup_similarity(first[y]) or 0.0
        wup = similarity[x, y]
        return (
            frozenset((x, y)) not in linked and family[x] != family[y] and wup < UNRELATED_WUP_MAX
        )

    def take(relation: str, taken: set[str]):
        queue = queues.get(relation, [])
        blocked = used | taken
        return next(
            (e for e in queue if family[e.x] not in blocked and family[e.y] not in blocked), None
        )

    while pool < n_pools and failures <= MAX_FAILURES:
        chosen = []
        for k in range(PAIRS_PER_POOL):
            # one relation after another, so the types stay balanced; any type when one runs out
            preference = [RELATIONS[(pool + k + j) % len(RELATIONS)] for j in range(len(RELATIONS))]
            taken = {family[w] for e in chosen for w in (e.x, e.y)}
            edge = next((e for r in preference if (e := take(r, taken)) is not None), None)
            if edge is None:
                break
            chosen.append(edge)
        if len(chosen) < PAIRS_PER_POOL:
            break
        ordered, flips = [], n_is_a
        for edge in chosen:
            x, y, order = edge.x, edge.y, ""
            if edge.relation == "is_a":  # the hypernym first in every other is-a pair
                order = "hyponym_first"
                if flips % 2 == 1:
                    x, y, order = y, x, "hypernym_first"
                flips += 1
            ordered.append((x, y, edge.relation, order))
        shift = next(
            (
                s
                for s in range(1, PAIRS_PER_POOL)
                if all(
                    unrelated(ordered[i][0], ordered[(i + s) % PAIRS_PER_POOL][1])
                    for i in range(PAIRS_PER_POOL)
                )
            ),
            None,
        )
        if shift is None:  # no rotation makes four unrelated pairs: these go to the back
            failures += 1
            for edge in chosen:
                queues[edge.relation].remove(edge)
                queues[edge.relation].append(edge)
            continue
        for edge in chosen:
            queues[edge.relation].remove(edge)
        n_is_a = flips
        group = f"pool{pool:03d}"
        for x, y, relation, order in ordered:
            rows.append((x, y, 1, relation, group, order))
        for i in range(PAIRS_PER_POOL):
            x, y = ordered[i][0], ordered[(i + shift) % PAIRS_PER_POOL][1]
            rows.append((x, y, 0, "unrelated", group, ""))
        used.update(family[w] for e in chosen for w in (e.x, e.y))
        pool += 1
    frame = pd.DataFrame(rows, columns=["x", "y", "related", "relation", "group", "order"])
    return pd.DataFrame(
        {
            "item_id": [f"{x}-{y}" for x, y in zip(frame.x, frame.y)],
            "text": [
                f"{article(x, articles).capitalize()} {x} and {y}" for x, y in zip(frame.x, frame.y)
            ],
            "group": frame["group"],
            "words": [f"{x}|{y}" for x, y in zip(frame.x, frame.y)],
            "related:binary": frame["related"].astype(str),
            "relation:multiclass": frame["relation"],
            "meta_x_synset": [senses[x] for x in frame.x],
            "meta_y_synset": [senses[y] for y in frame.y],
            "meta_order": frame["order"],
        }
    )
