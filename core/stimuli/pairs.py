"""The ``pairs`` set: "A(n) {x} and {y}", related by a WordNet relation or re-paired at random.

Related pairs are WordNet links between first noun senses of the eligible nouns (the same
pool as ``items``): *is-a* (y is a hypernym of x within three steps), *part-of* (a part
meronym or holonym) and *co-hyponym* (the same direct hypernym).  The words are split into
disjoint pools of four related pairs, one or more of each relation; inside a pool the four
y's are rotated to make four unrelated pairs (checked to share no link and a Wu-Palmer
similarity below 0.4).  So every word is in one related and one unrelated pair, no word
predicts the label, and the pool is the CV group: a word never sits on both sides of a fold.
"""

from __future__ import annotations

import random

import pandas as pd

from core.stimuli.items import article

RELATIONS = ("is_a", "part_of", "co_hyponym")
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


def _lemma(synset, first: dict) -> str | None:
    """A vocabulary word whose first (dominant) noun sense is this synset."""
    for lemma in synset.lemmas():
        name = lemma.name().lower()
        if name in first and first[name] == synset:
            return name
    return None


def edges(wn, vocabulary: list[str]) -> pd.DataFrame:
    """Every related (x, y, relation) among the vocabulary's first noun senses."""
    first = {w: wn.synsets(w, pos="n")[0] for w in vocabulary}
    rows = []
    for x, sx in first.items():
        frontier, seen = [sx], set()
        for _ in range(3):
            frontier = [h for s in frontier for h in s.hypernyms() if h not in seen]
            seen.update(frontier)
            for h in frontier:
                y = _lemma(h, first)
                if y and y != x and y not in TOO_GENERAL:
                    rows.append((x, y, "is_a"))
        for part in sx.part_meronyms() + sx.part_holonyms():
            y = _lemma(part, first)
            if y and y != x:
                rows.append((x, y, "part_of"))
    by_parent: dict = {}
    for w, s in first.items():
        for h in s.hypernyms():
            by_parent.setdefault(h, []).append(w)
    for siblings in by_parent.values():
        siblings = sorted(siblings)
        for i, x in enumerate(siblings):
            for y in siblings[i + 1 :]:
                rows.append((x, y, "co_hyponym"))
    frame = pd.DataFrame(rows, columns=["x", "y", "relation"]).drop_duplicates(["x", "y"])
    return frame.sort_values(["relation", "x", "y"]).reset_index(drop=True)


def build(
    wn, vocabulary: list[str], articles: dict[str, str], *, n_pools: int = 60
) -> pd.DataFrame:
    """Pools of four related pairs and their four rotations, as the stimulus table."""
    first = {w: wn.synsets(w, pos="n")[0] for w in vocabulary}
    links = edges(wn, vocabulary)
    linked = {frozenset(p) for p in zip(links["x"], links["y"])}
    rng = random.Random(SEED)
    queues = {r: list(g.itertuples(index=False)) for r, g in links.groupby("relation")}
    for queue in queues.values():
        rng.shuffle(queue)
    used: set[str] = set()
    rows = []
    pool = 0

    def unrelated(x: str, y: str) -> bool:
        wup = first[x].wup_similarity(first[y]) or 0.0
        return frozenset((x, y)) not in linked and wup < UNRELATED_WUP_MAX

    def take(relation: str, taken: set[str]):
        queue = queues[relation]
        for i, edge in enumerate(queue):
            if not ({edge.x, edge.y} & (used | taken)):
                return queue.pop(i)
        return None

    while pool < n_pools:
        chosen = []
        for k in range(PAIRS_PER_POOL):
            # one relation after another, so the types stay balanced; any type when one runs out
            preference = [RELATIONS[(pool + k + j) % len(RELATIONS)] for j in range(len(RELATIONS))]
            taken = {w for e in chosen for w in (e.x, e.y)}
            edge = next((e for r in preference if (e := take(r, taken)) is not None), None)
            if edge is None:
                break
            chosen.append(edge)
        if len(chosen) < PAIRS_PER_POOL:
            break
        rotation = next(
            (
                [
                    (chosen[i].x, chosen[(i + shift) % PAIRS_PER_POOL].y)
                    for i in range(PAIRS_PER_POOL)
                ]
                for shift in range(1, PAIRS_PER_POOL)
                if all(
                    unrelated(chosen[i].x, chosen[(i + shift) % PAIRS_PER_POOL].y)
                    for i in range(PAIRS_PER_POOL)
                )
            ),
            None,
        )
        if rotation is None:  # drop the first edge, put the others back, try again
            for edge in chosen[1:]:
                queues[edge.relation].append(edge)
            continue
        group = f"pool{pool:03d}"
        for edge in chosen:
            rows.append((edge.x, edge.y, 1, edge.relation, group))
        for x, y in rotation:
            rows.append((x, y, 0, "unrelated", group))
        used.update(w for e in chosen for w in (e.x, e.y))
        pool += 1
    frame = pd.DataFrame(rows, columns=["x", "y", "related", "relation", "group"])
    wup = [round(first[x].wup_similarity(first[y]) or 0.0, 4) for x, y in zip(frame.x, frame.y)]
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
            "relatedness_wup:continuous": [f"{v:.4f}" for v in wup],
            "meta_x_synset": [first[x].name() for x in frame.x],
            "meta_y_synset": [first[y].name() for y in frame.y],
        }
    )
