"""The permutation null: relabellings that break the label-stimulus link and keep the groups.

A null labelling must (1) break every association between a stimulus and its label, and
(2) keep what grouped cross-validation guards against: labels shared within a group stay
shared, so the null sees the same effective sample size as the real score.  One draw does
both steps for every target at once:

1. **Across groups.**  A random permutation ``π`` of the groups; group ``g`` takes its
   labels from group ``π(g)``.  When the two groups have the same size, ``g``'s rows get
   ``π(g)``'s rows in a random order; otherwise ``g`` draws its rows from ``π(g)``'s
   without replacement (cycling through them when ``g`` is larger).  A label that is
   constant within groups (``items``: every property; ``analogies``: ``relation``) thus
   moves as one group-level label, whatever the group sizes.
2. **Within groups.**  The rows received are shuffled inside the group, so a label that
   varies within groups (``pairs``: ``related``, ``relation``, ``relatedness_wup``;
   ``analogies``: ``valid``) is permuted among the group's rows too, and a design where
   every group holds the same label multiset (``pairs``: four related and four unrelated
   pairs per pool) is still shuffled, which moving whole groups alone never does.

Both steps are uniform, so the expected correlation of a permuted labelling with the true
one is zero for every design, uploads included (``tests/probe/test_permutations.py``
checks |r| < 0.05 over 100 draws for each built-in set and for planted designs).  When
all groups have one size the draw is an exact permutation of the rows; with unequal sizes
and labels that vary within groups it is a without-replacement resample, whose label
counts may differ a little from the real ones (balanced accuracy and Pearson r do not
depend on them).
"""

from __future__ import annotations

import numpy as np


def label_permutations(groups: np.ndarray, *, n_permutations: int, seed: int = 0) -> np.ndarray:
    """Row maps of the permutation null: ``labels[perm[p]]`` is the ``p``-th null labelling.

    Parameters
    ----------
    groups : ndarray of shape (n_rows,)
        The CV group of each row.
    n_permutations : int
    seed : int, default=0

    Returns
    -------
    ndarray of int64, shape (n_permutations, n_rows)

    Examples
    --------
    >>> perms = label_permutations(np.array(["a", "a", "b", "b"]), n_permutations=2)
    >>> perms.shape
    (2, 4)
    """
    groups = np.asarray(groups)
    _, code = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(code == g) for g in range(code.max() + 1 if len(code) else 0)]
    rng = np.random.default_rng(seed)
    out = np.empty((n_permutations, len(groups)), dtype=np.int64)
    for p in range(n_permutations):
        source = rng.permutation(len(members))
        for g, rows in enumerate(members):
            out[p, rows] = _draw(members[source[g]], len(rows), rng)
    return out


def _draw(source: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` rows of ``source`` in random order, without replacement while they last."""
    if size == len(source):
        return rng.permutation(source)
    reps = -(-size // len(source))
    pool = np.concatenate([rng.permutation(source) for _ in range(reps)])[:size]
    return rng.permutation(pool)
