"""From a point on a curve to its stimuli: queries over ``item_predictions`` (no Streamlit).

A *cell* is one (stimulus set, target, component, layer) of a result.  Each stimulus of a
cell has a held-out prediction from the fold that did not train on it; its *margin* is the
decision value signed so that positive means "on the side of the true class":

- binary SVM targets: the decision value (positive: class 1) times +1 for class 1, -1 for
  class 0, so a margin > 0 is a correct prediction;
- multi-class SVM targets: the stored decision is already the margin of the true class
  over the best other class (see :func:`core.probe.solvers.svm_fold`);
- ridge targets: minus the absolute error in SDs of the target (0 is a perfect
  prediction); a ridge prediction is neither right nor wrong, so ``correct`` is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import StrataError
from core.storage import store

CELL = ("target", "component", "layer")


def margins(
    predictions: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    sd: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """``item_predictions`` rows with ``margin`` and ``correct`` added.

    Parameters
    ----------
    predictions : DataFrame
        Rows of ``item_predictions`` (``target``, ``y_true``, ``y_pred``, ``decision``).
    kinds : mapping of str to str
        Target to ``"binary"``, ``"multiclass"`` or ``"continuous"``.
    sd : mapping of str to float, optional
        Each continuous target's SD over all stimuli (default: over the rows given).

    Returns
    -------
    DataFrame
        The same rows plus ``margin`` (float) and ``correct`` (boolean, missing for
        continuous targets).

    Raises
    ------
    StrataError
        When a target of the rows has no known kind.
    """
    unknown = sorted(set(predictions["target"]) - set(kinds))
    if unknown:
        raise StrataError(f"no kind recorded for target(s) {', '.join(unknown)}")
    out = predictions.copy()
    kind = out["target"].map(kinds)
    y, pred, decision = out["y_true"], out["y_pred"], out["decision"]
    spread = (
        out["target"].map(sd)
        if sd is not None
        else out.groupby("target")["y_true"].transform("std")
    )
    spread = spread.astype(float).replace(0, np.nan)
    margin = np.where(
        kind == "binary",
        np.where(y == 1, decision, -decision),
        np.where(kind == "multiclass", decision, -(pred - y).abs() / spread),
    )
    out["margin"] = margin.astype(float)
    correct = (pred == y).astype("boolean")
    out["correct"] = correct.where(kind != "continuous", pd.NA)
    return out


def stays_correct_from(frame: pd.DataFrame) -> pd.Series:
    """Per stimulus, the first layer from which it is correctly classified at every layer.

    Parameters
    ----------
    frame : DataFrame
        One (target, component)'s rows: ``item_id``, ``layer``, ``correct``.

    Returns
    -------
    Series of float, indexed by ``item_id``
        The layer, or NaN for a stimulus that is wrong at the last layer (it never settles).
        For a continuous target (no ``correct``) every value is NaN.
    """
    wide = frame.pivot_table(index="item_id", columns="layer", values="correct", aggfunc="first")
    if wide.empty or wide.isna().all().all():
        return pd.Series(np.nan, index=wide.index, name="stays_correct_from")
    ok = wide.fillna(False).astype(bool).to_numpy()
    layers = wide.columns.to_numpy()
    # correct from layer j on: the reversed cumulative AND of the row
    suffix = np.flip(np.logical_and.accumulate(np.flip(ok, axis=1), axis=1), axis=1)
    first = np.where(suffix.any(axis=1), layers[np.argmax(suffix, axis=1)], np.nan)
    return pd.Series(first.astype(float), index=wide.index, name="stays_correct_from")


def selected_cells(
    points: Sequence[Mapping], data: pd.DataFrame, *, x: str = "layer", tol: float = 1e-9
) -> pd.DataFrame:
    """The cells behind the points of a Plotly selection on a layer-curves figure.

    A point is matched to the curve row with the same ``x`` and score (the figure's
    traces carry no identifiers, and bands and lines are drawn from the same rows).

    Parameters
    ----------
    points : sequence of mapping
        ``selection["points"]`` of ``st.plotly_chart(..., on_select="rerun")``: each has
        ``x`` and ``y``.
    data : DataFrame
        The rows the figure was drawn from: ``target``, ``component``, ``layer``, ``x``,
        ``score``.
    x : {"layer", "relative_depth"}

    Returns
    -------
    DataFrame
        Unique ``target``, ``component``, ``layer``, in order of selection.
    """
    found = []
    for point in points:
        px, py = point.get("x"), point.get("y")
        if px is None or py is None:
            continue
        hit = data[
            np.isclose(data[x].astype(float), float(px), atol=tol, rtol=0)
            & np.isclose(data["score"].astype(float), float(py), atol=1e-7, rtol=1e-7)
        ]
        found.append(hit[list(CELL)])
    if not found:
        return pd.DataFrame(columns=list(CELL))
    cells = pd.concat(found, ignore_index=True).drop_duplicates(ignore_index=True)
    cells["layer"] = cells["layer"].astype(int)
    return cells


def _kinds(db, model: str, stimulus_set: str, pooling: str) -> dict[str, str]:
    targets = store.query(db, "targets", model=model, stimulus_set=stimulus_set, pooling=pooling)
    return dict(zip(targets["target"], targets["kind"]))


def _predictions(
    db: str | Path | None, key: tuple[str, str, str], *, hint: str = "", **where
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A result's held-out predictions (those matching ``where``) with their margins.

    Parameters
    ----------
    db : str, Path or None
    key : tuple of str
        The result: model, stimulus set, pooling.
    hint : str
        Said after the error's cell, when no prediction matches.
    **where
        Further ``item_predictions`` filters (``target``, ``component``, ``layer``); the
        single values name the cell in the error.

    Returns
    -------
    rows : DataFrame
        :func:`margins`'s rows, with ``item_id`` as text.
    kinds : dict of str to str
        Each target's kind.

    Raises
    ------
    StrataError
        When no prediction matches.
    """
    model, stimulus_set, pooling = key
    rows = store.query(
        db, "item_predictions", model=model, stimulus_set=stimulus_set, pooling=pooling, **where
    )
    if rows.empty:
        cell = [
            f"layer {v}" if k == "layer" else str(v)
            for k, v in where.items()
            if not isinstance(v, list)
        ]
        raise StrataError(f"no per-stimulus predictions for {' · '.join([*key[:2], *cell])}{hint}")
    kinds = _kinds(db, model, stimulus_set, pooling)
    rows = margins(rows, kinds)
    rows["item_id"] = rows["item_id"].astype(str)
    return rows, kinds


def stimulus_frame(name: str) -> pd.DataFrame | None:
    """The stimulus set as it is now (text, group, labels, ``meta_*``), or None when gone."""
    from core.stimuli import StimulusError, load

    try:
        return load(name).frame
    except StimulusError:
        return None  # imported results of a set this machine does not have


def _with_stimuli(rows: pd.DataFrame, frame: pd.DataFrame | None) -> pd.DataFrame:
    """Add the stimuli's text, group and ``meta_*`` columns (by ``item_id``)."""
    if frame is None:
        return rows.assign(text=pd.NA, group=pd.NA)
    keep = ["item_id", "text", "group", *[c for c in frame.columns if c.startswith("meta_")]]
    extra = frame[keep].copy()
    extra["item_id"] = extra["item_id"].astype(str)
    return rows.merge(extra, on="item_id", how="left")


def _class_name(frame: pd.DataFrame | None, target: str, codes: pd.Series) -> pd.Series:
    """Class codes back to the names written in the set (codes follow sorted categories)."""
    if frame is None or target not in frame.columns:
        return codes
    values = frame[target]
    if pd.api.types.is_numeric_dtype(values) and set(values.dropna().unique()) <= {0, 1}:
        return codes.astype("Int64").astype(str)  # binary: the codes are the labels
    names = [str(c) for c in pd.Categorical(values).categories]
    return codes.map(lambda c: names[int(c)] if pd.notna(c) and 0 <= c < len(names) else c)


def cell_stimuli(
    db: str | Path | None,
    *,
    model: str,
    stimulus_set: str,
    pooling: str,
    target: str,
    component: str,
    layer: int,
) -> pd.DataFrame:
    """One cell's stimuli with their held-out predictions, wrong ones first.

    Returns
    -------
    DataFrame, one row per stimulus
        ``item_id``, ``text``, ``label`` (as written in the set), ``prediction``,
        ``correct``, ``margin``, ``fold``, ``group``, then the set's ``meta_*`` columns.
        Sorted by ``correct`` (wrong first), then margin (lowest first).

    Raises
    ------
    StrataError
        When the database has no per-stimulus predictions for the cell.
    """
    rows, kinds = _predictions(
        db,
        (model, stimulus_set, pooling),
        target=target,
        component=component,
        layer=int(layer),
        hint=": rerun the set (`python -m core run ... --force`)",
    )
    frame = stimulus_frame(stimulus_set)
    kind = kinds[target]
    if kind == "continuous":
        rows["label"], rows["prediction"] = rows["y_true"], rows["y_pred"]
    else:
        rows["label"] = _class_name(frame, target, rows["y_true"])
        rows["prediction"] = _class_name(frame, target, rows["y_pred"])
    out = _with_stimuli(rows, frame)
    meta = [c for c in out.columns if c.startswith("meta_")]
    columns = ["item_id", "text", "label", "prediction", "correct", "margin", "fold", "group"]
    out = out[columns + meta]
    order = out["correct"].fillna(True).astype(bool)
    return (
        out.assign(_order=order)
        .sort_values(["_order", "margin", "item_id"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def cell_layers(
    db: str | Path | None,
    *,
    model: str,
    stimulus_set: str,
    pooling: str,
    target: str,
    component: str,
) -> pd.DataFrame:
    """Every layer's held-out predictions of one (target, component), with margins.

    Returns
    -------
    DataFrame
        ``item_id``, ``layer``, ``margin``, ``correct``, ``stays_correct_from`` (per
        stimulus, :func:`stays_correct_from`) and ``text``.
    """
    key = (model, stimulus_set, pooling)
    rows, _ = _predictions(db, key, target=target, component=component)
    settle = stays_correct_from(rows)
    rows = rows.merge(settle.rename("stays_correct_from"), left_on="item_id", right_index=True)
    rows = _with_stimuli(rows, stimulus_frame(stimulus_set))
    return rows[["item_id", "layer", "margin", "correct", "stays_correct_from", "text"]]


def stimulus_margins(
    db: str | Path | None, *, model: str, stimulus_set: str, pooling: str, item_id: str
) -> pd.DataFrame:
    """One stimulus's margins at every layer, for every target and component.

    Returns
    -------
    DataFrame
        ``target``, ``component``, ``layer``, ``margin``, ``correct``, ``relative_depth``,
        sorted by target, component and layer.

    Raises
    ------
    StrataError
        When the result has no predictions for ``item_id``.
    """
    key = [model, stimulus_set, pooling]
    with store.connect(db) as con:
        rows = con.execute(
            "SELECT * FROM item_predictions WHERE model = ? AND stimulus_set = ? "
            "AND pooling = ? AND item_id = ?",
            [*key, str(item_id)],
        ).df()
        # margins of ridge targets are in SDs of the target over all stimuli
        sd = dict(
            con.execute(
                "SELECT target, stddev_samp(y_true) FROM item_predictions "
                "WHERE model = ? AND stimulus_set = ? AND pooling = ? GROUP BY target",
                key,
            ).fetchall()
        )
    if rows.empty:
        raise StrataError(
            f"stimulus '{item_id}' has no predictions in {model} · {stimulus_set} · {pooling}"
        )
    rows = margins(rows, _kinds(db, model, stimulus_set, pooling), sd=sd)
    n_layers = rows["layer"].max() + 1
    rows["relative_depth"] = rows["layer"] / max(n_layers - 1, 1)
    columns = ["target", "component", "layer", "margin", "correct", "relative_depth"]
    return rows[columns].sort_values(["target", "component", "layer"], ignore_index=True)


def wrong_share(
    db: str | Path | None, *, model: str, stimulus_set: str, pooling: str
) -> pd.DataFrame:
    """Per stimulus and classification target, the share of (component, layer) cells wrong.

    Returns
    -------
    DataFrame
        ``target``, ``item_id``, ``text``, ``wrong_share``, ``n_cells`` and the set's
        label and ``meta_*`` columns, most often wrong first within each target.
    """
    rows = store.query(
        db, "item_predictions", model=model, stimulus_set=stimulus_set, pooling=pooling
    )
    kinds = _kinds(db, model, stimulus_set, pooling)
    rows = rows[rows["target"].map(kinds).isin(["binary", "multiclass"])]
    if rows.empty:
        return pd.DataFrame(columns=["target", "item_id", "wrong_share", "n_cells"])
    rows = rows.assign(wrong=rows["y_pred"] != rows["y_true"], item_id=rows["item_id"].astype(str))
    share = (
        rows.groupby(["target", "item_id"])["wrong"]
        .agg(wrong_share="mean", n_cells="size")
        .reset_index()
    )
    share = _with_stimuli(share, stimulus_frame(stimulus_set))
    return share.sort_values(
        ["target", "wrong_share", "item_id"], ascending=[True, False, True], ignore_index=True
    )


def error_analysis(
    db: str | Path | None,
    *,
    model: str,
    stimulus_set: str,
    pooling: str,
    target: str,
    components: Sequence[str],
    by: str,
    n_shuffles: int = 2000,
    alpha: float = 0.05,
) -> dict[str, pd.DataFrame]:
    """Score per layer within each subgroup of column ``by``, and the subgroups flagged.

    The flag test (:func:`core.analysis.errors.subgroup_errors`) runs on each stimulus's
    error rate over the cells shown (every layer of ``components``), with the subgroup
    labels shuffled within each class.

    Parameters
    ----------
    by : str
        A column of the stimulus set (:func:`core.analysis.errors.subgroup_columns`):
        ``meta_*`` or another target's labels; numeric columns are split into terciles.

    Returns
    -------
    dict
        ``"curves"``: per (subgroup, component, layer) ``n``, ``score``, ``score_se``,
        ``chance`` and a panel ``label`` (subgroup, n, and "flagged" when it is);
        ``"flags"``: :func:`~core.analysis.errors.subgroup_errors`'s table.

    Raises
    ------
    StrataError
        When the set is not on this machine, ``by`` is not one of its columns, or there
        are no predictions.
    """
    from core.analysis.errors import subgroup_errors, subgroup_scores, subgroups

    frame = stimulus_frame(stimulus_set)
    if frame is None:
        raise StrataError(f"stimulus set '{stimulus_set}' is not on this machine: no metadata")
    if by not in frame.columns:
        raise StrataError(f"'{by}' is not a column of stimulus set '{stimulus_set}'")
    key = (model, stimulus_set, pooling)
    rows, kinds = _predictions(db, key, target=target, component=list(components))
    classified = kinds[target] != "continuous"
    rows["error"] = (~rows["correct"].astype(bool)).astype(float) if classified else -rows["margin"]
    labels = pd.Series(subgroups(frame[by]).to_numpy(), index=frame["item_id"].astype(str))
    rows["subgroup"] = rows["item_id"].map(labels)
    curves = subgroup_scores(rows)
    per_item = rows.groupby("item_id").agg(
        error=("error", "mean"), subgroup=("subgroup", "first"), y=("y_true", "first")
    )
    flags = subgroup_errors(
        per_item["error"].to_numpy(),
        per_item["subgroup"].tolist(),
        per_item["y"].tolist() if classified else None,
        n_shuffles=n_shuffles,
        alpha=alpha,
    )
    flagged = set(flags.loc[flags["flagged"], "subgroup"])
    sizes = per_item.groupby("subgroup").size()
    curves["label"] = [
        f"{g}<br>n={sizes.get(g, 0)}" + ("<br>flagged" if g in flagged else "")
        for g in curves["subgroup"]
    ]
    if classified:
        chance = store.query(
            db,
            "probe_scores",
            model=model,
            stimulus_set=stimulus_set,
            pooling=pooling,
            target=target,
            metric="accuracy",
        )["chance"]
        curves["chance"] = float(chance.median()) if len(chance) else np.nan
    return {"curves": curves, "flags": flags}


def stimulus_ids(db: str | Path | None, *, model: str, stimulus_set: str, pooling: str) -> list:
    """The stimuli of a stored result, in the set's order (from its ``folds`` rows).

    Returns
    -------
    list of str
    """
    folds = store.query(db, "folds", model=model, stimulus_set=stimulus_set, pooling=pooling)
    if len(folds):
        return folds.sort_values("row_index")["item_id"].astype(str).tolist()
    with store.connect(db) as con:  # a result stored without its folds (imported, tests)
        rows = con.execute(
            "SELECT DISTINCT item_id FROM item_predictions "
            "WHERE model = ? AND stimulus_set = ? AND pooling = ? ORDER BY item_id",
            [model, stimulus_set, pooling],
        ).fetchall()
    return [str(r[0]) for r in rows]
