"""The ``buried`` sets: a pair text, then unrelated filler, made at load time.

Each ``pairs`` text is followed by ``. `` and the next N words of *Alice's Adventures in
Wonderland* (public domain) from a sentence start chosen per item with a fixed seed,
skipping any start whose window contains either pair word.  The pair part is
byte-identical to the ``pairs`` text, so in a causal model the pair's own tokens are
unchanged by the filler: pooling over the pair must equal the ``pairs`` set, and the final
token is where a buried relation has to be carried to.  ``buried`` has 100 words;
``buried-0``, ``-25``, ``-50``, ``-200`` let a user watch the signal move in depth.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent / "data"
LENGTHS = (0, 25, 50, 100, 200)
DEFAULT_LENGTH = 100
SEED = 7


def filler_words() -> list[str]:
    return (DATA / "filler_alice.txt").read_text().split()


def sentence_starts(words: list[str], length: int) -> list[int]:
    """Word positions that begin a sentence and leave ``length`` words after them.

    The filler reads as prose ("A church and organ. The Queen said..."), not as a fragment
    starting mid-sentence; a sentence starts after a word ending in ``.``, ``!`` or ``?``
    (closing quotes and brackets aside) and with a capital letter.

    Parameters
    ----------
    words : list of str
    length : int

    Returns
    -------
    list of int
    """
    ends = tuple(".!?")
    return [
        i
        for i in range(1, len(words) - length)
        if words[i - 1].rstrip("'\")]").endswith(ends) and words[i].lstrip("'\"(")[:1].isupper()
    ]


def build(length: int) -> pd.DataFrame:
    """The buried set with ``length`` filler words, as a raw all-string frame.

    Parameters
    ----------
    length : int
        Filler words after each pair text (0: the pair text and a full stop).

    Returns
    -------
    DataFrame, one row per ``pairs`` row
        The ``pairs`` columns with the longer ``text`` and ``meta_filler_*`` columns.
    """
    pairs = pd.read_csv(DATA / "pairs.csv", dtype=str, keep_default_na=False)
    words = filler_words()
    lowered = [re.sub(r"[^a-z]", "", w.lower()) for w in words]
    starts = sentence_starts(words, length)
    out = pairs.copy()
    texts = []
    for item_id, text, pair in zip(pairs["item_id"], pairs["text"], pairs["words"]):
        if length == 0:
            texts.append(text + ".")
            continue
        avoid = set(pair.lower().split("|"))
        rng = random.Random(f"{SEED}-{item_id}")
        while True:
            start = rng.choice(starts)
            if not avoid & set(lowered[start : start + length]):
                break
        texts.append(f"{text}. {' '.join(words[start : start + length])}")
    out["text"] = texts
    out["meta_filler_words"] = str(length)
    out["meta_filler_source"] = "Lewis Carroll, Alice's Adventures in Wonderland (public domain)"
    return out


def register(derived: dict) -> None:
    """Add ``buried`` and its variants to the registry's load-time sets.

    Parameters
    ----------
    derived : dict of str to callable
        The registry's table of sets made at load time; modified in place.
    """
    derived["buried"] = lambda: build(DEFAULT_LENGTH)
    for length in LENGTHS:
        if length != DEFAULT_LENGTH:
            derived[f"buried-{length}"] = lambda length=length: build(length)
