"""The stimulus-set schema: parse and validate a CSV once, at the door.

A stimulus CSV has one row per text:

``item_id``  unique id (string)
``text``     the text given to the model
``group``    CV group: rows sharing a group are never split between train and test
``words``    optional, target words to pool over, ``|``-separated (``church|organ``), found
             in order in the text (case-sensitive, whole words)
``spans``    optional, explicit character spans ``start:end;start:end``; wins over ``words``
``meta_*``   any number of metadata columns, shown but never probed

Every other column is a target.  Its kind comes from a header suffix
(``is_edible:binary``, ``concreteness:continuous``, ``relation:multiclass``) or, without one,
from its values: only 0/1 is binary, numbers are continuous, anything else is multiclass.
Rows without ``words``/``spans`` pool over every token of the text.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from core.errors import StrataError, first_line

TargetKind = Literal["binary", "continuous", "multiclass"]
KINDS: tuple[str, ...] = ("binary", "continuous", "multiclass")
REQUIRED = ("item_id", "text", "group")
OPTIONAL = ("words", "spans")
META_PREFIX = "meta_"
MAX_CLASSES = 20


class StimulusError(StrataError, ValueError):
    """A stimulus file breaks the schema; the message names the row and column."""


@dataclass(frozen=True)
class StimulusSet:
    """A validated stimulus set.

    Attributes
    ----------
    name : str
        Name under which results are stored (``items``, or an upload's name).
    frame : DataFrame
        ``item_id``, ``text``, ``group``, the ``meta_*`` columns and one column per target
        (targets named without their kind suffix), in file order.
    targets : dict of str to kind
        Target name to ``"binary"``, ``"continuous"`` or ``"multiclass"``, in file order.
    spans : list of tuple of (int, int) tuples
        Per row, the character spans to pool over; empty means the whole text.
    """

    name: str
    frame: pd.DataFrame
    targets: dict[str, TargetKind]
    spans: list[tuple[tuple[int, int], ...]] = field(repr=False)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def texts(self) -> list[str]:
        return self.frame["text"].tolist()

    @property
    def groups(self) -> np.ndarray:
        return self.frame["group"].to_numpy()

    def labels(self, target: str) -> np.ndarray:
        """Labels of one target: float for continuous, int codes for the others."""
        col = self.frame[target]
        if self.targets[target] == "continuous":
            return col.to_numpy(dtype=np.float64)
        if self.targets[target] == "binary":
            return col.to_numpy(dtype=np.int64)
        return pd.Categorical(col).codes.astype(np.int64)

    def classes(self, target: str) -> list[str]:
        """Class names in the order of :meth:`labels` codes (empty for continuous)."""
        kind = self.targets[target]
        if kind == "continuous":
            return []
        if kind == "binary":
            return ["0", "1"]
        return [str(c) for c in pd.Categorical(self.frame[target]).categories]

    @property
    def content_hash(self) -> str:
        """Hash of all that changes an activation or a probe: texts, spans, groups, labels."""
        payload = {
            "rows": self.frame[["item_id", "text", "group"]].astype(str).values.tolist(),
            "spans": [list(map(list, s)) for s in self.spans],
            "targets": {
                t: [k, self.frame[t].astype(str).tolist()] for t, k in self.targets.items()
            },
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def text_hash(self) -> str:
        """Hash of what the model sees (texts and pooling spans): the activation cache key."""
        payload = [[t, list(map(list, s))] for t, s in zip(self.texts, self.spans)]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]

    def words(self) -> list[str]:
        """Per row, the pooled target words in order, ``|``-separated (empty: the whole text)."""
        return [
            "|".join(text[a:b] for a, b in spans) for text, spans in zip(self.texts, self.spans)
        ]

    def subset(self, rows: np.ndarray | list[int], name: str | None = None) -> StimulusSet:
        """The same set restricted to ``rows`` (used for small real-model tests and halves)."""
        rows = list(rows)
        return StimulusSet(
            name=name or self.name,
            frame=self.frame.iloc[rows].reset_index(drop=True),
            targets=dict(self.targets),
            spans=[self.spans[i] for i in rows],
        )


def _err(row: int | None, column: str | None, message: str) -> StimulusError:
    where = []
    if row is not None:
        where.append(f"row {row}")  # 1-based data row, as a spreadsheet shows it after the header
    if column is not None:
        where.append(f"column '{column}'")
    prefix = ", ".join(where)
    return StimulusError(f"{prefix}: {message}" if prefix else message)


def read_csv(source: str | bytes | io.IOBase) -> pd.DataFrame:
    """Read a CSV as strings only: uploads are data, so nothing is typed or evaluated here."""
    try:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        frame = pd.read_csv(
            source, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=False
        )
    except pd.errors.EmptyDataError:
        raise StimulusError(
            "the file is empty: expected a header row and at least one data row"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise StimulusError(f"not a readable CSV file: {first_line(exc)}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _parse_spans(value: str, text: str, row: int) -> tuple[tuple[int, int], ...]:
    spans = []
    for part in value.split(";"):
        match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", part)
        if not match:
            raise _err(row, "spans", f"'{value}' is not of the form start:end;start:end")
        start, end = int(match[1]), int(match[2])
        if not 0 <= start < end <= len(text):
            raise _err(
                row, "spans", f"span {start}:{end} is not inside the text ({len(text)} characters)"
            )
        spans.append((start, end))
    return tuple(spans)


def _find_words(value: str, text: str, row: int) -> tuple[tuple[int, int], ...]:
    spans, pos = [], 0
    for word in value.split("|"):
        word = word.strip()
        if not word:
            raise _err(row, "words", f"empty word in '{value}'")
        match = re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)").search(text, pos)
        if match is None:
            raise _err(row, "words", f"'{word}' is not in the text '{text}' (after position {pos})")
        spans.append((match.start(), match.end()))
        pos = match.end()
    return tuple(spans)


def _target_kind(name: str, values: pd.Series) -> TargetKind:
    stripped = values.str.strip()
    if set(stripped) <= {"0", "1"}:
        return "binary"
    if pd.to_numeric(stripped, errors="coerce").notna().all():
        return "continuous"
    return "multiclass"


def _check_header(frame: pd.DataFrame) -> list[str]:
    """The header's columns, after checking the required ones are there exactly once."""
    if frame.empty:
        raise StimulusError("the file has a header but no data rows")
    columns = list(frame.columns)
    for col in REQUIRED:
        if col not in columns:
            raise _err(None, col, f"missing required column (have: {', '.join(columns)})")
    dupes = [c for c in set(columns) if columns.count(c) > 1]
    if dupes:
        raise _err(None, dupes[0], "appears twice in the header")
    for col in columns:  # a NUL is never text: a binary file, or a string cut short downstream
        if "\x00" in col:
            raise _err(None, col.replace("\x00", "\\x00"), "the header contains a NUL byte")
        nul = frame.index[frame[col].str.contains("\x00", regex=False)]
        if len(nul):
            raise _err(int(nul[0]) + 1, col, "contains a NUL byte (\\x00); is it a text file?")
    return columns


def _check_required(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with ``item_id``, ``text`` and ``group`` stripped, none empty, ids unique."""
    frame = frame.copy()
    for col in REQUIRED:
        frame[col] = frame[col].str.strip()
        empty = frame.index[frame[col] == ""]
        if len(empty):
            raise _err(int(empty[0]) + 1, col, "empty value")
    seen: dict[str, int] = {}
    for i, item in enumerate(frame["item_id"]):
        if item in seen:
            raise _err(i + 1, "item_id", f"duplicate id '{item}' (first in row {seen[item]})")
        seen[item] = i + 1
    return frame


def _spans(frame: pd.DataFrame) -> list[tuple[tuple[int, int], ...]]:
    """Per row, the character spans to pool over: ``spans``, else ``words``, else none."""
    spans: list[tuple[tuple[int, int], ...]] = []
    for i, text in enumerate(frame["text"]):
        span_value = frame["spans"].iloc[i].strip() if "spans" in frame else ""
        word_value = frame["words"].iloc[i].strip() if "words" in frame else ""
        if span_value:
            spans.append(_parse_spans(span_value, text, i + 1))
        elif word_value:
            spans.append(_find_words(word_value, text, i + 1))
        else:
            spans.append(())
    return spans


def _continuous(col: str, values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.index[numeric.isna() | ~np.isfinite(numeric.to_numpy(dtype=float))]
    if len(bad):
        raise _err(int(bad[0]) + 1, col, f"'{values.iloc[bad[0]]}' is not a finite number")
    if numeric.nunique() < 2:
        raise _err(None, col, f"constant (every value is {numeric.iloc[0]}); nothing to probe")
    return numeric.astype(float)


def _classes(col: str, kind: str, values: pd.Series, groups: pd.Series, n_folds: int):
    """Binary or multi-class labels, each class present in at least ``n_folds`` groups."""
    if kind == "binary":
        bad = values.index[~values.isin(["0", "1"])]
        if len(bad):
            raise _err(int(bad[0]) + 1, col, f"'{values.iloc[bad[0]]}' is not 0 or 1")
    classes = values.unique()
    if len(classes) < 2:
        raise _err(None, col, f"constant (every value is '{classes[0]}'); nothing to probe")
    if kind == "multiclass" and len(classes) > MAX_CLASSES:
        raise _err(
            None, col, f"{len(classes)} classes; at most {MAX_CLASSES} (is it a continuous target?)"
        )
    per_class = groups.groupby(values).nunique()
    small = per_class[per_class < n_folds]
    if len(small):
        label, count = small.index[0], int(small.iloc[0])
        raise _err(
            None,
            col,
            f"class '{label}' occurs in only {count} groups; grouped {n_folds}-fold CV "
            f"needs every class in at least {n_folds} groups",
        )
    return values.astype(int) if kind == "binary" else values


def _targets(
    frame: pd.DataFrame, columns: list[str], n_folds: int
) -> tuple[pd.DataFrame, dict[str, TargetKind]]:
    """The output frame (required, ``meta_*`` and target columns) and each target's kind."""
    targets: dict[str, TargetKind] = {}
    out = frame[list(REQUIRED)].copy()
    for col in columns:
        if col in REQUIRED or col in OPTIONAL:
            continue
        if col.startswith(META_PREFIX):
            out[col] = frame[col]
            continue
        target, _, kind = col.partition(":")
        target = target.strip()
        if not target:
            raise _err(None, col, "a target column needs a name before ':'")
        if kind and kind not in KINDS:
            raise _err(None, col, f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")
        if target in targets or target in out.columns:
            raise _err(None, col, f"target '{target}' appears twice")
        values = frame[col].str.strip()
        missing = values.index[values.str.lower().isin(["", "nan", "na", "null", "none"])]
        if len(missing):
            raise _err(int(missing[0]) + 1, col, "missing value (every row needs a label)")
        kind = kind or _target_kind(target, values)
        if kind == "continuous":
            out[target] = _continuous(col, values)
        else:
            out[target] = _classes(col, kind, values, frame["group"], n_folds)
        targets[target] = kind  # type: ignore[assignment]
    if not targets:
        raise StimulusError("no target columns: add one column per label (e.g. 'is_edible:binary')")
    return out, targets


def validate(frame: pd.DataFrame, *, name: str, n_folds: int = 6) -> StimulusSet:
    """Check a raw (all-string) frame against the schema and return a :class:`StimulusSet`.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        As read by :func:`read_csv`: every cell a string.
    name : str
        The set's name.
    n_folds : int, default=6
        Folds of the grouped CV the set must support: at least this many groups, and every
        class of every classification target present in at least this many groups.

    Returns
    -------
    StimulusSet
        With ``n_rows`` rows, in file order.

    Raises
    ------
    StimulusError
        On the first problem, naming the (1-based) row and the column.
    """
    columns = _check_header(frame)
    frame = _check_required(frame)
    spans = _spans(frame)
    n_groups = frame["group"].nunique()
    if n_groups < n_folds:
        raise _err(
            None,
            "group",
            f"only {n_groups} distinct groups; grouped {n_folds}-fold CV needs at least {n_folds}",
        )
    out, targets = _targets(frame, columns, n_folds)
    return StimulusSet(name=name, frame=out.reset_index(drop=True), targets=targets, spans=spans)
