"""Small helpers over result frames."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd


def groups(frame: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple[dict, pd.DataFrame]]:
    """Each group of ``frame`` by those of ``keys`` it has, with its key as a dict.

    Parameters
    ----------
    frame : DataFrame
    keys : sequence of str
        Grouping columns; those ``frame`` lacks are skipped, and with none left the whole
        frame is one group (with an empty key).

    Yields
    ------
    head : dict
        Column to value, in the order of ``keys``.
    part : DataFrame
        The group's rows, groups in order of first appearance.
    """
    keys = [k for k in keys if k in frame.columns]
    for key, part in frame.groupby(keys, sort=False) if keys else [((), frame)]:
        yield dict(zip(keys, key if isinstance(key, tuple) else (key,))), part
