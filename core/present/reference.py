"""Published results as data: the paper's layer bands beside ours, and users' own rows.

The paper (Bogdan 2025, arXiv 2501.07359) reports *layers*, not relative depth: in
Llama-3.2-3B (28 layers) item properties peak in layers 2-7, two-item relations in 8-12 and
four-item analogies in 10-15; in Llama-3.3-70B (80 layers) relations and analogies first
peak in layers 12-16, then drop and rise again; adjacent attention outputs alternate with a
lag-1 correlation of about -0.33.  ``data/paper_reference.csv`` holds these numbers with
their citation and what is uncertain.  Chiefly: the paper does not say whether its "layer
2" counts the embeddings as layer 0, so a band may sit one layer later than drawn, i.e.
``1 / (L - 1)`` of relative depth (0.04 for the 3B, 0.01 for the 70B).  Every band carries
that ``shift``, and :func:`agreement` only calls ours "inside" or "outside" a band widened
by it.  The comparison is a description of two numbers, never a test: the paper gives no
intervals to test against.

A user's CSV of other published results has the same columns (``label``, ``n_layers``,
``measure`` and the layer range or value; the rest optional) and is checked row by row,
with one line naming the first problem.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import StrataError
from core.names import in_set_order

PAPER_CSV = Path(__file__).with_name("data") / "paper_reference.csv"
MEASURES = {
    "peak": "where the set's decoding peaks",
    "first_peak": "the first of two peaks (a double peak follows)",
    "rho": "lag-1 correlation of a curve's first differences (naive estimator)",
}
COLUMNS = [
    "label",
    "model",
    "n_layers",
    "stimulus_set",
    "component",
    "measure",
    "layer_lo",
    "layer_hi",
    "value",
    "source",
    "note",
]
MAX_BYTES = 1 << 20


class ReferenceFileError(StrataError, ValueError):
    """A reference file that cannot be read; the message names the row and column."""


def _error(name: str, row: int | None, column: str | None, problem: str) -> ReferenceFileError:
    where = ", ".join(
        part
        for part in (
            f"reference file '{name}'",
            f"row {row}" if row is not None else "",
            f"column '{column}'" if column else "",
        )
        if part
    )
    return ReferenceFileError(f"{where}: {problem}")


def _number(frame: pd.DataFrame, column: str, name: str, *, whole: bool) -> pd.Series:
    """A numeric column; the first value that is not a number raises, naming its row."""
    raw = frame[column].astype("string").str.strip().replace("", pd.NA)
    values = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & values.isna()
    if whole:
        bad |= values.notna() & (values != values.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a whole number" if whole else "a number"
        raise _error(name, i + 1, column, f"'{raw.iloc[i]}' is not {kind}")
    return values.astype(float)


def validate(frame: pd.DataFrame, *, name: str = "reference") -> pd.DataFrame:
    """Check a table of published results and add relative depths.

    Parameters
    ----------
    frame : DataFrame
        One row per published number, columns as in :data:`COLUMNS` (all read as text).
        Required: ``label`` (the name a figure shows, e.g. "paper, 3B"), ``n_layers`` (of
        the published model), ``measure`` (one of :data:`MEASURES`), and ``layer_lo`` and
        ``layer_hi`` (0-based layers as published) for peaks or ``value`` for ``rho``.
    name : str
        The file's name, for the error message.

    Returns
    -------
    DataFrame
        The rows with every column of :data:`COLUMNS`, plus ``depth_lo``/``depth_hi``
        (``layer / (n_layers - 1)``, NaN for ``rho``) and ``shift`` (``1 / (n_layers - 1)``:
        how far a band may move if the paper counts the embeddings as a layer).

    Raises
    ------
    ReferenceFileError
        One line naming the file, row (1-based, after the header) and column.
    """
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in ("label", "n_layers", "measure"):
        if column not in frame.columns:
            raise _error(name, None, column, "missing required column")
    if frame.empty:
        raise _error(name, None, None, "no rows")
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    text = ["label", "model", "stimulus_set", "component", "measure", "source", "note"]
    for column in text:
        frame[column] = frame[column].fillna("").astype(str).str.strip()
    for i, (label, measure) in enumerate(zip(frame["label"], frame["measure"]), start=1):
        if not label:
            raise _error(name, i, "label", "empty (give the name a figure should show)")
        if measure not in MEASURES:
            raise _error(name, i, "measure", f"'{measure}' is not one of {', '.join(MEASURES)}")
    n_layers = _number(frame, "n_layers", name, whole=True)
    lo = _number(frame, "layer_lo", name, whole=True)
    hi = _number(frame, "layer_hi", name, whole=True)
    value = _number(frame, "value", name, whole=False)
    for i in range(len(frame)):
        row, measure = i + 1, frame["measure"].iloc[i]
        if not n_layers.iloc[i] >= 2:
            raise _error(name, row, "n_layers", "must be a whole number of at least 2")
        if measure == "rho":
            if not np.isfinite(value.iloc[i]) or not -1 <= value.iloc[i] <= 1:
                raise _error(name, row, "value", "a correlation between -1 and 1 is needed")
            continue
        for column, layer in (("layer_lo", lo.iloc[i]), ("layer_hi", hi.iloc[i])):
            if not np.isfinite(layer):
                raise _error(name, row, column, f"a layer is needed for measure '{measure}'")
            if not 0 <= layer < n_layers.iloc[i]:
                top = int(n_layers.iloc[i]) - 1
                raise _error(name, row, column, f"layer {layer:g} is outside 0-{top}")
        if lo.iloc[i] > hi.iloc[i]:
            raise _error(name, row, "layer_hi", f"{hi.iloc[i]:g} is below layer_lo")
    span = n_layers - 1
    out = frame[COLUMNS].assign(
        n_layers=n_layers.astype(int), layer_lo=lo, layer_hi=hi, value=value
    )
    return out.assign(depth_lo=lo / span, depth_hi=hi / span, shift=1.0 / span)


def read(data: bytes | str | Path, *, name: str | None = None) -> pd.DataFrame:
    """Read and :func:`validate` a CSV of published results (bytes, text or a path).

    Raises
    ------
    ReferenceFileError
        When the file cannot be read or a row is wrong (one line).
    """
    if isinstance(data, Path):
        name = name or data.name
        try:
            data = data.read_bytes()
        except OSError as exc:
            raise _error(name, None, None, f"cannot be read ({exc.strerror})") from None
    name = name or "reference"
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise _error(name, None, None, f"larger than {MAX_BYTES >> 10} KiB")
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else "empty"
        raise _error(name, None, None, f"is not a readable CSV ({problem})") from None
    return validate(frame, name=name)


def load(extra: Iterable[str | Path] = ()) -> pd.DataFrame:
    """The paper's rows, then every ``extra`` file's (each validated).

    Returns
    -------
    DataFrame
        As :func:`validate`, one row per published number.
    """
    frames = [read(PAPER_CSV)]
    frames += [read(Path(p)) for p in extra]
    return pd.concat(frames, ignore_index=True)


def saved_dir() -> Path:
    """Where the app keeps users' reference files (``cache/references/``)."""
    from core.paths import cache_dir

    return cache_dir() / "references"


def save(data: bytes, name: str) -> Path:
    """Validate a user's CSV and keep it under ``cache/references/NAME.csv``.

    Raises
    ------
    ReferenceFileError
        When the name or the file is not acceptable (one line).
    """
    clean = "".join(c for c in name.strip() if c.isalnum() or c in "-_")
    if not clean or clean != name.strip():
        raise _error(name or "?", None, None, "name it with letters, digits, - or _ only")
    read(data, name=f"{clean}.csv")
    folder = saved_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{clean}.csv"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def saved() -> list[Path]:
    """Users' reference files kept by :func:`save`, by name."""
    folder = saved_dir()
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


def bands(reference: pd.DataFrame, *, stimulus_sets: Iterable[str] | None = None) -> pd.DataFrame:
    """The layer bands (peaks, first peaks) of ``reference``, optionally of some sets only.

    Returns
    -------
    DataFrame
        ``label``, ``stimulus_set``, ``measure``, ``depth_lo``, ``depth_hi``, ``shift`` and
        the rest of the row; one row per band, in set order.
    """
    out = reference[reference["measure"] != "rho"]
    if stimulus_sets is not None:
        out = out[out["stimulus_set"].isin(list(stimulus_sets))]
    order = {s: i for i, s in enumerate(in_set_order(out["stimulus_set"]))}
    return out.sort_values("stimulus_set", key=lambda c: c.map(order), kind="stable")


def band_label(row) -> str:
    """``paper, 3B: items 2-7`` (``first peak`` when the band is a first of two)."""
    what = f"{row.stimulus_set} " if row.stimulus_set else ""
    kind = "first peak " if row.measure == "first_peak" else ""
    return f"{row.label}: {what}{kind}{int(row.layer_lo)}-{int(row.layer_hi)}"


def _where(depth: float, lo: float, hi: float, shift: float) -> str:
    if lo - shift <= depth <= hi + shift:
        return "inside"
    return "earlier than" if depth < lo else "later than"


def agreement(curves: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Where each of our mean curves peaks against each published band of its set.

    Parameters
    ----------
    curves : DataFrame
        :func:`core.analysis.findings.findings` ``curves`` rows: ``stimulus_set``,
        ``component``, ``peak_depth``, ``n_layers``, optionally ``model``.
    reference : DataFrame
        From :func:`load`.

    Returns
    -------
    DataFrame
        One row per (our curve, band of the same set and, when the band names one, the same
        component): the curve's keys, ``label``, ``measure``, ``peak_depth``, ``depth_lo``,
        ``depth_hi``, ``shift`` and ``where`` ("inside", "earlier than", "later than"), the
        band widened by ``shift`` on both sides.
    """
    rows = []
    keys = [k for k in ("model", "stimulus_set", "component") if k in curves.columns]
    for band in bands(reference).itertuples():
        ours = curves[curves["stimulus_set"] == band.stimulus_set]
        if band.component:
            ours = ours[ours["component"] == band.component]
        for curve in ours.itertuples():
            if not np.isfinite(curve.peak_depth):
                continue
            rows.append(
                {
                    **{k: getattr(curve, k) for k in keys},
                    "label": band.label,
                    "measure": band.measure,
                    "peak_depth": float(curve.peak_depth),
                    "depth_lo": band.depth_lo,
                    "depth_hi": band.depth_hi,
                    "shift": band.shift,
                    "where": _where(curve.peak_depth, band.depth_lo, band.depth_hi, band.shift),
                }
            )
    columns = [*keys, "label", "measure", "peak_depth", "depth_lo", "depth_hi", "shift", "where"]
    return pd.DataFrame(rows, columns=columns)


def agreement_sentences(
    table: pd.DataFrame, *, model: str, double_peaks: pd.DataFrame | None = None
) -> list[str]:
    """:func:`agreement` in words, one sentence per band: where ours sits, per component.

    A description (no interval is published to test against), so no sentence says
    "significant"; bands are widened by one published layer for the numbering doubt.
    """
    out = []
    if table.empty:
        return out
    for (label, stimulus_set, measure), part in table.groupby(
        ["label", "stimulus_set", "measure"], sort=False
    ):
        first = part.iloc[0]
        band = f"{first['depth_lo']:.2f}-{first['depth_hi']:.2f}"
        kind = "first peaks" if measure == "first_peak" else "peaks"
        places = "; ".join(
            f"{r.component} {r.peak_depth:.2f} ({r.where} it)" for r in part.itertuples()
        )
        counts = part["where"].value_counts()
        if counts.get("inside", 0) == len(part):
            summary = "ours agrees"
        elif counts.get("inside", 0) == 0:
            side = part["where"].mode().iloc[0].replace(" than", "")
            summary = f"ours peaks {side} in every component"
        else:
            summary = f"ours agrees in {counts.get('inside', 0)} of {len(part)} components"
        sentence = (
            f"{stimulus_set}: {label} {kind} at relative depth {band} (±{first['shift']:.2f} "
            f"for the layer numbering); {model} peaks at {places}: {summary}."
        )
        if measure == "first_peak" and double_peaks is not None and len(double_peaks):
            dp = double_peaks[double_peaks["stimulus_set"] == stimulus_set]
            found = dp[dp["verdict"] == "double peak"]
            if len(found):
                sentence += (
                    " The paper's curve peaks twice; ours passes the double-peak test in "
                    + ", ".join(found["component"])
                    + "."
                )
            elif len(dp):
                sentence += (
                    " The paper's curve peaks twice; none of ours passes the double-peak test."
                )
        out.append(sentence)
    return out


def rho_sentences(reference: pd.DataFrame, persistence: pd.DataFrame, *, model: str) -> list[str]:
    """Published ρ values beside ours from the same (naive) estimator and its noise baseline."""
    out = []
    rows = reference[reference["measure"] == "rho"]
    if persistence.empty:
        return out
    naive = persistence[persistence["estimator"].astype(str).str.startswith("naive")]
    for ref in rows.itertuples():
        ours = naive[naive["component"] == ref.component] if ref.component else naive
        ours = ours.dropna(subset=["rho"])
        if ours.empty:
            continue
        where = ref.component or "every component"
        values = ", ".join(
            f"{r.stimulus_set} {r.rho:.2f} (noise alone {r.baseline_mean:.2f})"
            for r in ours.itertuples()
        )
        beyond = int((ours["verdict"] == "anti-persistent beyond noise").sum())
        out.append(
            f"ρ of {where}: {ref.label} reports {ref.value:.2f}; {model}'s naive ρ: {values}. "
            f"This estimator gives -0.5 on pure noise, so a published value near -0.33 "
            f"says little without its noise baseline; {beyond} of {len(ours)} of ours are "
            "anti-persistent beyond their own baseline."
        )
    return out
