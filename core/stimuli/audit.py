"""The stimulus audit: what a careful reviewer checks before trusting a set.

Per set: the label balance; for every binary label, how well word frequency, length in
characters, token count and the frame (the text around the target words) predict it (AUC;
flagged outside :data:`AUC_BOUNDS`); target words that sit in more than one CV group;
synonym sets split across groups; and, for four-word sets (a:b :: c:d), how much of each
binary label one half alone fixes.  ``python -m core audit STIMULI`` prints it; the Stimuli
page shows the same tables with the warnings in words.

Every check is computed from the set alone (no model): the token count needs a tokenizer
and the synonym check WordNet; each is skipped, and the audit says so, when missing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from core.stimuli.schema import StimulusSet

AUC_BOUNDS = (0.35, 0.65)
MIN_SHARE = 0.10  # a binary label with fewer positives (or negatives) than this is flagged
FEATURES = {
    "frequency": "word frequency (Zipf)",
    "length": "length in characters",
    "tokens": "token count",
    "frame": "the frame (text around the target words)",
}


@dataclass
class Audit:
    """The audit of one stimulus set.

    Attributes
    ----------
    name : str
    n_rows, n_groups : int
    balance : DataFrame
        One row per target: ``target``, ``kind``, ``balance`` (in words).
    confounds : DataFrame
        One row per binary target: ``target`` and one AUC column per surface feature
        checked (``frequency``, ``length``, ``tokens``, ``frame``).
    shared_words : DataFrame
        ``word``, ``n_groups``, ``groups``: target words found in more than one CV group.
    synonyms : DataFrame
        ``words``, ``groups``: synonym sets whose members sit in more than one group.
    halves : DataFrame
        Four-word sets only: ``target``, ``half``, ``measure``, ``auc``.
    warnings : list of str
        One sentence per problem found; empty when the set passes.
    notes : list of str
        What could not be checked, and why.
    """

    name: str
    n_rows: int
    n_groups: int
    balance: pd.DataFrame
    confounds: pd.DataFrame
    shared_words: pd.DataFrame
    synonyms: pd.DataFrame
    halves: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.warnings


def auc(feature: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``feature`` for a 0/1 ``label`` (ties count half).

    Parameters
    ----------
    feature : ndarray of shape (n,)
    label : ndarray of shape (n,), 0/1

    Returns
    -------
    float in [0, 1]; NaN when a class is empty.
    """
    label = np.asarray(label)
    n1 = int(label.sum())
    n0 = len(label) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(np.asarray(feature, dtype=float))
    return float((ranks[label == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def outside(value: float, bounds: tuple[float, float] = AUC_BOUNDS) -> bool:
    return bool(np.isfinite(value) and not bounds[0] <= value <= bounds[1])


def target_words(stimuli: StimulusSet) -> list[list[str]]:
    """Per row, the target words (the pooled spans; every word of the text when none).

    Parameters
    ----------
    stimuli : StimulusSet

    Returns
    -------
    list of list of str, length n_rows
    """
    out = []
    for text, spans in zip(stimuli.texts, stimuli.spans):
        out.append([text[a:b] for a, b in spans] if spans else text.split())
    return out


def _frames(stimuli: StimulusSet) -> list[str]:
    frames = []
    for text, spans in zip(stimuli.texts, stimuli.spans):
        pieces, last = [], 0
        for a, b in spans:
            pieces += [text[last:a], "_"]
            last = b
        frames.append("".join(pieces) + text[last:])
    return frames


def surface(stimuli: StimulusSet, *, tokenizer=None) -> tuple[pd.DataFrame, list[str]]:
    """Surface features per row, and notes on what could not be computed.

    Parameters
    ----------
    stimuli : StimulusSet
    tokenizer : a Hugging Face fast tokenizer, optional
        Counts the tokens of the target words in their text.

    Returns
    -------
    DataFrame, one row per stimulus (n_rows rows)
        ``frequency`` (mean Zipf of the target words), ``length`` (their characters),
        ``tokens`` (their tokens) and ``frame``; a feature that cannot be computed is absent.
    list of str
        Notes on skipped features.
    """
    words = target_words(stimuli)
    out = pd.DataFrame({"length": [sum(len(w) for w in row) for row in words]})
    notes = []
    try:
        from wordfreq import zipf_frequency
    except ImportError:
        notes.append("word frequency not checked: the wordfreq package is not installed")
    else:
        out["frequency"] = [
            float(np.mean([zipf_frequency(w, "en") for w in row])) if row else 0.0 for row in words
        ]
    if tokenizer is None:
        notes.append("token counts not checked: no tokenizer was available")
    else:
        counts = []
        for text, spans in zip(stimuli.texts, stimuli.spans):
            offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
            spans = spans or ((0, len(text)),)
            counts.append(
                sum(1 for a, b in offsets if b > a and any(a < e and b > s for s, e in spans))
            )
        out["tokens"] = counts
    out["frame"] = _frames(stimuli)
    return out, notes


def _folds(groups: np.ndarray, n_folds: int) -> list[np.ndarray]:
    """Held-out row indices of the set's own grouped folds (GroupKFold, no shuffle)."""
    from sklearn.model_selection import GroupKFold

    n = min(n_folds, len(set(groups)))
    return [test for _, test in GroupKFold(n).split(np.zeros(len(groups)), groups=groups)]


def lookup_auc(keys: list, label: np.ndarray, groups: np.ndarray, n_folds: int = 6) -> float:
    """AUC of predicting a label from a key (a frame, an a:b) seen in the training rows.

    Out of fold: a held-out row scores the training rows' mean label for its key, minus the
    training base rate (so a fold's base rate does not move its scores); an unseen key
    scores 0.

    Parameters
    ----------
    keys : list of hashable, length n_rows
    label : ndarray of shape (n_rows,), 0/1
    groups : ndarray of shape (n_rows,)
        CV groups; the folds are ``GroupKFold(n_folds)`` over them.
    n_folds : int, default=6

    Returns
    -------
    float
        0.5 when the key says nothing about the label.
    """
    scores = np.zeros(len(keys))
    label = np.asarray(label, dtype=float)
    for test in _folds(groups, n_folds):
        train = np.setdiff1d(np.arange(len(keys)), test)
        base = label[train].mean()
        seen: dict = defaultdict(list)
        for i in train:
            seen[keys[i]].append(label[i])
        for i in test:
            scores[i] = np.mean(seen[keys[i]]) - base if keys[i] in seen else 0.0
    return auc(scores, label)


def confounds(stimuli: StimulusSet, features: pd.DataFrame, *, n_folds: int = 6) -> pd.DataFrame:
    """The AUC of every surface feature for every binary target.

    Returns
    -------
    DataFrame, one row per binary target
        ``target`` and one column per feature in ``features``.
    """
    rows = []
    for target, kind in stimuli.targets.items():
        if kind != "binary":
            continue
        label = stimuli.labels(target)
        row: dict = {"target": target}
        for name in FEATURES:
            if name not in features:
                continue
            if name == "frame":
                frames = features["frame"].tolist()
                row[name] = (
                    0.5
                    if len(set(frames)) == 1
                    else lookup_auc(frames, label, stimuli.groups, n_folds)
                )
            else:
                row[name] = auc(features[name].to_numpy(dtype=float), label)
        rows.append(row)
    return pd.DataFrame(rows, columns=["target", *[f for f in FEATURES if f in features]])


def shared_words(stimuli: StimulusSet) -> pd.DataFrame:
    """Target words (case-folded) that occur in more than one CV group.

    Parameters
    ----------
    stimuli : StimulusSet

    Returns
    -------
    DataFrame, one row per shared word
        ``word``, ``n_groups``, ``groups`` (the first four).
    """
    where: dict[str, set] = defaultdict(set)
    for row, group in zip(target_words(stimuli), stimuli.groups):
        for word in row:
            where[word.lower()].add(str(group))
    rows = [
        {"word": w, "n_groups": len(g), "groups": ", ".join(sorted(g)[:4])}
        for w, g in sorted(where.items())
        if len(g) > 1
    ]
    return pd.DataFrame(rows, columns=["word", "n_groups", "groups"])


def synonym_links(wn, words: list[str], senses: dict[str, str] | None = None) -> list[set[str]]:
    """Sets of words that are synonyms of each other (connected components, size ≥ 2).

    Two words are synonyms when they share their first noun sense (or the sense given in
    ``senses``), when one is a lemma of the other's first sense or given sense ('castle' of
    palace.n.01), or when they share a lemma (``morphy``: 'mouse', 'mice').

    Parameters
    ----------
    wn : WordNet corpus reader
    words : list of str
    senses : dict of str to str, optional
        Word to the name of the sense the set means (``tiger``: ``tiger.n.02``).

    Returns
    -------
    list of set of str
    """
    parent = {w: w for w in words}

    def find(w: str) -> str:
        while parent[w] != w:
            parent[w] = parent[parent[w]]
            w = parent[w]
        return w

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    known = set(words)
    by_key: dict[str, str] = {}
    for word in words:
        synsets = []
        if senses and word in senses:
            synsets.append(wn.synset(senses[word]))
        first = wn.synsets(word, pos="n") or wn.synsets(word)
        synsets += first[:1]
        keys = {f"lemma:{wn.morphy(word) or word}"} | {f"sense:{s.name()}" for s in synsets}
        for synset in synsets:
            for lemma in synset.lemma_names():
                if lemma.lower() in known and lemma.lower() != word:
                    union(word, lemma.lower())
        for key in keys:
            if key in by_key:
                union(word, by_key[key])
            by_key.setdefault(key, word)
    components: dict[str, set[str]] = defaultdict(set)
    for word in words:
        components[find(word)].add(word)
    return [c for c in components.values() if len(c) > 1]


def _senses(stimuli: StimulusSet) -> dict[str, str]:
    """The WordNet sense a set names for its words (``meta_wordnet_synset`` and the like)."""
    frame = stimuli.frame
    out = {}
    columns = {"meta_wordnet_synset": 0, "meta_x_synset": 0, "meta_y_synset": 1}
    for column, position in columns.items():
        if column in frame:
            for row, sense in zip(target_words(stimuli), frame[column]):
                if len(row) > position and sense:
                    out[row[position].lower()] = str(sense)
    return out


def split_synonyms(stimuli: StimulusSet, wn) -> pd.DataFrame:
    """Synonym sets whose members sit in more than one CV group.

    Parameters
    ----------
    stimuli : StimulusSet
    wn : WordNet corpus reader

    Returns
    -------
    DataFrame, one row per split set
        ``words`` ("a / b"), ``groups`` (the first four).
    """
    where: dict[str, set] = defaultdict(set)
    for row, group in zip(target_words(stimuli), stimuli.groups):
        for word in row:
            if word.isalpha():
                where[word.lower()].add(str(group))
    senses = _senses(stimuli)
    try:
        valid = {w: s for w, s in senses.items() if wn.synset(s)}
    except Exception:  # a sense name this WordNet does not know: use first senses only
        valid = {}
    rows = []
    for component in synonym_links(wn, sorted(where), valid):
        groups = set().union(*(where[w] for w in component))
        if len(groups) > 1:
            rows.append(
                {"words": " / ".join(sorted(component)), "groups": ", ".join(sorted(groups)[:4])}
            )
    return pd.DataFrame(rows, columns=["words", "groups"])


def halves(stimuli: StimulusSet, *, n_folds: int = 6) -> pd.DataFrame:
    """For four-word rows (a:b :: c:d): how much of each binary label one half fixes.

    Three measures per binary target, each an AUC (0.5: the half says nothing):
    ``a:b label in training rows`` (out of fold, the label the training rows with the same
    a:b carry); ``c:d known from training rows`` (out of fold, +1 when c:d is the a:b of a
    training row or the c:d of a valid one, -1 when only of a broken one, 0 unseen: the
    issue's lookup); ``c:d is a pair of the set`` (in the whole set, whether c:d is anyone's
    a:b: a true pair the set itself vouches for).
    """
    words = [[w.lower() for w in row] for row in target_words(stimuli)]
    if not words or any(len(row) != 4 for row in words):
        return pd.DataFrame(columns=["target", "half", "measure", "auc"])
    ab = [tuple(row[:2]) for row in words]
    cd = [tuple(row[2:]) for row in words]
    sources = set(ab)
    rows = []
    for target, kind in stimuli.targets.items():
        if kind != "binary":
            continue
        label = stimuli.labels(target)
        rows.append(
            {
                "target": target,
                "half": "a:b",
                "measure": "a:b label in training rows",
                "auc": lookup_auc(ab, label, stimuli.groups, n_folds),
            }
        )
        known = np.zeros(len(cd))
        for test in _folds(stimuli.groups, n_folds):
            train = np.setdiff1d(np.arange(len(cd)), test)
            valid = {ab[i] for i in train} | {cd[i] for i in train if label[i] == 1}
            broken = {cd[i] for i in train if label[i] == 0}
            for i in test:
                known[i] = 1.0 if cd[i] in valid else (-1.0 if cd[i] in broken else 0.0)
        rows.append(
            {
                "target": target,
                "half": "c:d",
                "measure": "c:d known from training rows",
                "auc": auc(known, label),
            }
        )
        rows.append(
            {
                "target": target,
                "half": "c:d",
                "measure": "c:d is a pair of the set",
                "auc": auc(np.array([pair in sources for pair in cd], dtype=float), label),
            }
        )
    return pd.DataFrame(rows, columns=["target", "half", "measure", "auc"])


def balance(stimuli: StimulusSet, *, counts: bool = True) -> pd.DataFrame:
    """Per target: its kind and its balance in words.

    Parameters
    ----------
    stimuli : StimulusSet
    counts : bool
        Give a binary target's positives as a count too (``62% positive (31 of 50)``).

    Returns
    -------
    DataFrame, one row per target
        ``target``, ``kind``, ``balance``.
    """
    rows = []
    for target, kind in stimuli.targets.items():
        values = stimuli.frame[target]
        if kind == "binary":
            text = f"{values.mean():.0%} positive"
            text += f" ({int(values.sum())} of {len(values)})" if counts else ""
        elif kind == "multiclass":
            text = ", ".join(f"{k} {v}" for k, v in values.value_counts().items())
        else:
            text = f"mean {values.mean():.2f}, SD {values.std():.2f}"
        rows.append({"target": target, "kind": kind, "balance": text})
    return pd.DataFrame(rows, columns=["target", "kind", "balance"])


def _warnings(result: Audit, stimuli: StimulusSet) -> list[str]:
    low, high = AUC_BOUNDS
    out = []
    for target, kind in stimuli.targets.items():
        if kind == "binary":
            share = float(stimuli.frame[target].mean())
            if min(share, 1 - share) < MIN_SHARE:
                out.append(
                    f"'{target}' is {share:.0%} positive: fewer than {MIN_SHARE:.0%} of the "
                    "rows in one class, so its scores rest on few items"
                )
    for row in result.confounds.itertuples(index=False):
        for name, what in FEATURES.items():
            value = getattr(row, name, float("nan"))
            if outside(value):
                out.append(
                    f"{what} predicts '{row.target}' (AUC {value:.2f}, outside "
                    f"{low:.2f}-{high:.2f}): a probe that reads it would pass without the meaning"
                )
    if len(result.shared_words):
        first = result.shared_words.sort_values("n_groups", ascending=False).iloc[0]
        out.append(
            f"{len(result.shared_words)} target words sit in more than one CV group (e.g. "
            f"'{first.word}' in {first.n_groups}): a word seen in training is tested again"
        )
    if len(result.synonyms):
        out.append(
            f"{len(result.synonyms)} synonym sets are split across CV groups (e.g. "
            f"{result.synonyms.iloc[0]['words']}): the test fold sees a synonym of a training word"
        )
    for row in result.halves.itertuples(index=False):
        if outside(row.auc):
            out.append(
                f"the {row.half} half alone fixes '{row.target}' ({row.measure}: AUC "
                f"{row.auc:.2f}): "
                f"the label can be read off one half without the analogy"
            )
    return out


def audit(stimuli: StimulusSet, *, tokenizer=None, wordnet=None, n_folds: int = 6) -> Audit:
    """Audit one stimulus set.

    Parameters
    ----------
    stimuli : StimulusSet
    tokenizer : fast tokenizer, optional
        For the token-count check (skipped, with a note, when None).
    wordnet : NLTK WordNet reader, optional
        For the synonym check (skipped, with a note, when None).
    n_folds : int, default=6
        The grouped folds the out-of-fold lookups use.

    Returns
    -------
    Audit
    """
    features, notes = surface(stimuli, tokenizer=tokenizer)
    if wordnet is None:
        notes.append("synonym sets not checked: WordNet (nltk, Debian's wordnet-base) is missing")
        synonyms = pd.DataFrame(columns=["words", "groups"])
    else:
        synonyms = split_synonyms(stimuli, wordnet)
    result = Audit(
        name=stimuli.name,
        n_rows=len(stimuli),
        n_groups=int(stimuli.frame["group"].nunique()),
        balance=balance(stimuli),
        confounds=confounds(stimuli, features, n_folds=n_folds),
        shared_words=shared_words(stimuli),
        synonyms=synonyms,
        halves=halves(stimuli, n_folds=n_folds),
        notes=notes,
    )
    result.warnings = _warnings(result, stimuli)
    return result


def load_wordnet():
    """WordNet 3.0 through NLTK when installed, else None (the synonym check is skipped).

    Returns
    -------
    NLTK WordNet reader or None
    """
    try:
        from core.stimuli import sources

        return sources.wordnet()
    except Exception:  # nltk missing, WordNet missing: the audit says it skipped the check
        return None


def _how_many(label: str, found: pd.DataFrame, column: str, n: int, sep: str) -> str:
    """A report line: how many rows ``found`` has and the first ``n`` of ``column``.

    Parameters
    ----------
    label : str
    found : DataFrame
    column : str
    n : int
    sep : str
        Between the values shown.

    Returns
    -------
    str
        ``"  label: 3 (a, b, c)"``, or ``"  label: none"``.
    """
    if not len(found):
        return f"  {label}: none"
    return f"  {label}: {len(found)} (" + sep.join(found[column][:n]) + ")"


def text(result: Audit) -> str:
    """The audit as plain text, for the command line.

    Parameters
    ----------
    result : Audit

    Returns
    -------
    str
    """
    lines = [f"{result.name}: {result.n_rows} rows, {result.n_groups} CV groups"]
    lines.append("  label balance:")
    for row in result.balance.itertuples(index=False):
        lines.append(f"    {row.target} ({row.kind}): {row.balance}")
    if len(result.confounds):
        low, high = AUC_BOUNDS
        lines.append(f"  surface confounds, AUC per binary label (flagged outside {low}-{high}):")
        table = result.confounds.set_index("target").map(
            lambda v: f"{v:.2f}" + ("*" if outside(v) else "")
        )
        lines += ["    " + line for line in table.to_string().splitlines()]
    lines.append(
        _how_many("target words in more than one CV group", result.shared_words, "word", 8, ", ")
    )
    lines.append(_how_many("synonym sets split across groups", result.synonyms, "words", 5, "; "))
    if len(result.halves):
        lines.append("  one half alone (AUC; 0.50: the half says nothing):")
        for row in result.halves.itertuples(index=False):
            flag = "*" if outside(row.auc) else ""
            lines.append(f"    {row.target}, {row.measure}: {row.auc:.2f}{flag}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    if result.passed:
        lines.append("  passes every check")
    else:
        lines.append(f"  {len(result.warnings)} warning(s):")
        lines += [f"    - {w}" for w in result.warnings]
    return "\n".join(lines)
