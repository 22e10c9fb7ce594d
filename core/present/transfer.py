"""Transfer views: ``transfer_scores`` beside the within-set curves (no Streamlit here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.analysis.summary import peak_index
from core.errors import StrataError
from core.storage import store


def transfer_pairs(db: str | Path | None, *, model: str, pooling: str) -> pd.DataFrame:
    """The (train_set, test_set, target) combinations stored for a model and pooling.

    Returns
    -------
    DataFrame
        ``train_set``, ``test_set``, ``target``, sorted.
    """
    rows = store.query(db, "transfer_scores", model=model, pooling=pooling, is_primary=True)
    keys = ["train_set", "test_set", "target"]
    return rows[keys].drop_duplicates().sort_values(keys, ignore_index=True)


def _label(train_set: str, test_set: str) -> str:
    return f"{train_set} → {test_set}"


@dataclass(frozen=True)
class Transfer:
    """One stored transfer: probes of one ``target`` trained on ``train_set`` and tested on
    ``test_set`` (the rows ``python -m core transfer`` writes for a model and pooling)."""

    model: str
    train_set: str
    test_set: str
    pooling: str
    target: str

    @property
    def label(self) -> str:
        return _label(self.train_set, self.test_set)

    def scores(self, db: str | Path | None, **where) -> pd.DataFrame:
        """Its ``transfer_scores`` rows (each probe's primary metric), further filtered by
        ``where`` (e.g. ``component``)."""
        return store.query(db, "transfer_scores", **asdict(self), is_primary=True, **where)


def transfer_curves(
    db: str | Path | None, transfer: Transfer, *, components: list[str] | tuple[str, ...]
) -> pd.DataFrame:
    """The transfer curve (train and test at the same layer) and both within-set curves.

    Returns
    -------
    DataFrame
        ``curve`` (``"pairs → buried"``, ``"pairs (within)"``, ``"buried (within)"``),
        ``component``, ``layer``, ``relative_depth``, ``score``, ``score_se``, ``chance``,
        ``metric`` (each probe's primary metric).

    Raises
    ------
    StrataError
        When no transfer of that pair and target is stored.
    """
    t = transfer
    rows = t.scores(db, component=list(components))
    rows = rows[rows["train_layer"] == rows["test_layer"]]
    if rows.empty:
        raise StrataError(
            f"no transfer {t.label} of '{t.target}' stored for {t.model} "
            f"({t.pooling}): run `python -m core transfer --model {t.model} --train {t.train_set} "
            f"--test {t.test_set} --pooling {t.pooling}`"
        )
    parts = [rows.rename(columns={"train_layer": "layer"}).assign(curve=t.label)]
    # both within-set curves: the same model, pooling and target, primary metrics
    within_of = {"model": t.model, "pooling": t.pooling, "target": t.target, "is_primary": True}
    for name in (t.train_set, t.test_set):
        within = store.query(
            db, "probe_scores", **within_of, stimulus_set=name, component=list(components)
        )
        if len(within):
            parts.append(within.assign(curve=f"{name} (within)"))
    columns = ["curve", "component", "layer", "score", "score_se", "chance", "metric"]
    out = pd.concat([p[columns] for p in parts], ignore_index=True)
    n_layers = out["layer"].max() + 1
    out["relative_depth"] = out["layer"] / max(n_layers - 1, 1)
    return out.sort_values(["curve", "component", "layer"], ignore_index=True)


def transfer_matrix(db: str | Path | None, transfer: Transfer) -> tuple[pd.DataFrame, str | None]:
    """Train layer × test layer score (primary metric) of the component that has one.

    Returns
    -------
    matrix : DataFrame of shape (n_layers, n_layers)
        Index: train layer; columns: test layer. Empty when no matrix is stored.
    component : str or None
    """
    rows = transfer.scores(db)
    off = rows[rows["train_layer"] != rows["test_layer"]]
    if off.empty:
        return pd.DataFrame(), None
    component = off["component"].iloc[0]
    mine = rows[rows["component"] == component]
    matrix = mine.pivot_table(
        index="train_layer", columns="test_layer", values="score", aggfunc="first"
    )
    matrix.index.name, matrix.columns.name = "train layer", "test layer"
    return matrix, component


def transfer_summary(rows: pd.DataFrame, *, db: str | Path | None = None) -> pd.DataFrame:
    """Where each transfer curve peaks, beside the peaks of both within-set curves.

    Peaks are :func:`core.analysis.summary.peak_index` (the one peak definition).

    Parameters
    ----------
    rows : DataFrame
        Rows written by ``python -m core transfer`` (with ``model``, ``train_set``,
        ``test_set``, ``pooling``).

    Returns
    -------
    DataFrame, one row per (target, component)
        ``transfer_peak``, ``transfer_score`` (± ``transfer_se``), and
        ``train_peak``/``train_score``, ``test_peak``/``test_score`` of the within-set
        curves when they are stored (NaN otherwise).
    """
    diag = rows[rows["is_primary"] & (rows["train_layer"] == rows["test_layer"])]
    first = rows.iloc[0]
    shared = {"model": first["model"], "pooling": first["pooling"], "is_primary": True}
    out = []
    for (target, component), curve in diag.groupby(["target", "component"], sort=False):
        curve = curve.sort_values("train_layer")
        k = int(peak_index(curve["score"].to_numpy()))
        row = {
            "target": target,
            "component": component,
            "transfer": _label(first["train_set"], first["test_set"]),
            "transfer_peak": int(curve["train_layer"].iloc[k]),
            "transfer_score": float(curve["score"].iloc[k]),
            "transfer_se": float(curve["score_se"].iloc[k]),
            "chance": float(curve["chance"].iloc[k]),
        }
        for side, name in (("train", first["train_set"]), ("test", first["test_set"])):
            within = store.query(
                db, "probe_scores", **shared, stimulus_set=name, target=target, component=component
            ).sort_values("layer")
            if len(within):
                j = int(peak_index(within["score"].to_numpy()))
                row[f"{side}_peak"] = int(within["layer"].iloc[j])
                row[f"{side}_score"] = float(within["score"].iloc[j])
            else:
                row[f"{side}_peak"], row[f"{side}_score"] = np.nan, np.nan
        out.append(row)
    return pd.DataFrame(out)
