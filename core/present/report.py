"""The findings of :func:`core.analysis.findings.findings` in words.

One sentence per curve, each stating the verdict beside the number that decides it and the
null or control it was measured against, so the command line's ``report`` and the app's
Findings page say the same thing the same way.  Every verdict named here is calibrated on
simulated data (``tests/analysis/test_calibration.py``; the README's calibration table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis.compare import FOLD_BOOTSTRAP, STIMULUS_BOOTSTRAP, order_verdict
from core.analysis.controls import MEAN
from core.analysis.controls import VERDICTS as BASELINE
from core.analysis.frames import groups
from core.analysis.halves import effect_sentences
from core.analysis.lexical import VERDICTS as LEXICAL

CURVE_COLUMNS = [
    "stimulus_set",
    "component",
    "n_targets",
    "peak",
    "band",
    "peak_score",
    "expected_depth",
    "area_above_chance",
]


def _p(value: float) -> str:
    """A p-value as printed: three decimals, or ``< 0.001``."""
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _num(value: float, spec: str = ".2f") -> str:
    """A number without a negative zero (-0.00 prints as 0.00)."""
    digits = int(spec[1]) + (2 if spec.endswith("%") else 0)
    return format(round(float(value), digits) + 0.0, spec)


def curve_table(curves: pd.DataFrame) -> pd.DataFrame:
    """The mean-curve summaries, with peak as ``layer (relative depth)`` and band as ``lo-hi``.

    Parameters
    ----------
    curves : DataFrame
        :func:`~core.analysis.findings.findings` ``curves`` rows.

    Returns
    -------
    DataFrame
        :data:`CURVE_COLUMNS`, one row per set × component.
    """
    if curves.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return curves.assign(
        peak=[f"{int(p)} ({d:.2f})" for p, d in zip(curves["peak_layer"], curves["peak_depth"])],
        band=[f"{int(a)}-{int(b)}" for a, b in zip(curves["band_lo"], curves["band_hi"])],
    )[CURVE_COLUMNS].round(3)


def controls_sentence(curves: pd.DataFrame) -> str | None:
    """Which targets were left out of every curve as controls, if any."""
    if curves.empty or "controls" not in curves.columns:
        return None
    left = sorted({c for v in curves["controls"].dropna() for c in str(v).split(", ") if c})
    if not left:
        return None
    return (
        f"Controls left out of every mean curve (surface features, not properties): "
        f"{', '.join(left)}."
    )


def _mean_row(controls: pd.DataFrame | None, stimulus_set: str, component: str):
    """The mean-curve row of ``controls`` for one set and component, or None."""
    if controls is None or controls.empty:
        return None
    rows = controls[
        (controls["stimulus_set"] == stimulus_set)
        & (controls["component"] == component)
        & (controls["target"] == MEAN)
    ]
    return None if rows.empty else rows.iloc[0]


def peak_clause(row) -> str:
    """How far a peak stands above its controls: ``0.04 above layer 0 and 0.21 above the
    surface baseline`` (either part left out when not measured)."""
    parts = []
    if row is not None and pd.notna(row.get("gain")):
        parts.append(f"{_num(row['gain'])} ± {_num(row['gain_se'])} above layer 0")
    if row is not None and pd.notna(row.get("above_baseline")):
        parts.append(f"{_num(row['above_baseline'])} above the surface baseline")
    return " and ".join(parts)


def controls_sentences(controls: pd.DataFrame) -> list[str]:
    """Each set's mean curve against layer 0 and its surface baseline, with the verdicts.

    Parameters
    ----------
    controls : DataFrame
        :func:`~core.analysis.findings.findings` ``controls`` rows.

    Returns
    -------
    list of str
        Per set × component: the peak, its gain over layer 0 (± fold SE), its margin over
        the best surface baseline, whether some layer beats that baseline (Bonferroni over
        layers), whether most of the peak is already at layer 0, and the targets whose
        best layer does not beat their own baseline.
    """
    out = []
    for (name, component), part in controls.groupby(["stimulus_set", "component"], sort=False):
        row = _mean_row(part, name, component)
        if row is None:
            continue
        head = f"{name} · {component}: the mean curve peaks at layer {int(row['peak_layer'])}"
        clause = peak_clause(row)
        text = f"{head}, {clause}" if clause else head
        if row["baseline_verdict"] != BASELINE[2]:
            text += (
                f" (best baseline per target: {row['baseline']}; "
                f"{_num(row['baseline_score'])} ± {_num(row['baseline_se'])}): "
                f"{row['baseline_verdict']} (largest fold-paired t = {row['t_baseline']:.1f}, "
                f"one-sided, Bonferroni over layers {_p(row['p_baseline'])})"
            )
        else:
            text += f"; {BASELINE[2]}"
        if row.get("lexical_verdict") == LEXICAL[0]:
            text += (
                f"; most of this peak is already present at layer 0 (lexical: "
                f"{_num(row['lexical_share'], '.0%')} of it)"
            )
        targets = part[(part["target"] != MEAN) & (part["baseline_verdict"] == BASELINE[1])]
        if len(targets):
            text += (
                f"; targets whose best layer does not beat their surface baseline: "
                f"{', '.join(targets['target'])}"
            )
        out.append(text)
    return out


def lexical_sentences(lexical: pd.DataFrame) -> list[str]:
    """How much of each peak the token embeddings (``resid_pre`` layer 0) already give.

    Parameters
    ----------
    lexical : DataFrame
        :func:`~core.analysis.findings.findings` ``lexical`` rows.

    Returns
    -------
    list of str
    """
    out = []
    for row in lexical.itertuples():
        head = f"{row.stimulus_set} · {row.component}"
        if pd.isna(row.share):
            out.append(f"{head}: {row.verdict}.")
            continue
        out.append(
            f"{head}: the token embeddings (resid_pre layer 0) score "
            f"{_num(row.layer0_score)}, {_num(row.share, '.0%')} of the peak's "
            f"{_num(row.peak_score)} at layer {row.peak_layer}: {row.verdict} (layer 0 minus "
            f"half the peak over {row.n_folds} folds, t = {row.t:.1f}, one-sided "
            f"{_p(min(row.p_lexical, row.p_built))})"
        )
    return out


def double_peak_sentences(
    peaks: pd.DataFrame,
    *,
    head: tuple[str, ...] = ("stimulus_set", "component"),
    controls: pd.DataFrame | None = None,
) -> list[str]:
    """Double-peak verdicts, each with its peaks, valley, dip and simulated p-value.

    Parameters
    ----------
    peaks : DataFrame
        :func:`~core.analysis.findings.findings` ``double_peaks`` rows (or
        :func:`~core.analysis.peaks.double_peak` rows with the ``head`` columns).
    head : tuple of str
        Columns that name each curve at the start of its sentence.
    controls : DataFrame, optional
        :func:`~core.analysis.findings.findings` ``controls`` rows: each peak then says how
        far it stands above layer 0 and the surface baseline.

    Returns
    -------
    list of str
    """
    out = []
    for row in peaks.itertuples():
        head_ = " · ".join(str(getattr(row, c)) for c in head)
        found = _mean_row(
            controls, getattr(row, "stimulus_set", None), getattr(row, "component", None)
        )
        clause = peak_clause(found)
        clause = f", {clause}" if clause else ""
        if row.verdict in ("double peak", "two peaks, dip within noise"):
            out.append(
                f"{head_}: {row.verdict}: the peak at layer {row.peak_layer:.0f} (depth "
                f"{row.peak_depth:.2f}{clause}) and a second peak at {row.second_peak_layer:.0f} "
                f"({row.second_peak_depth:.2f}), valley at {row.valley_layer:.0f}; dip "
                f"{row.dip:.3f} against single-peaked curves (the unimodal fit and a flat "
                f"curve, {row.n_sim:.0f} each) plus the fold noise: {_p(row.p_value)}"
                + (
                    "; one of the two peaks is layer 0, where decoding is closest to the "
                    "token embeddings (see the layer-0 share), not a peak in depth"
                    if 0 in (row.peak_layer, row.second_peak_layer)
                    else ""
                )
                + (
                    f"; the valley at layer {row.valley_layer:.0f} coincides with an "
                    "attention-sink layer, so it may be the sink rather than a change of "
                    "representation"
                    if getattr(row, "valley_at_sink", False) is True
                    else ""
                )
                + (
                    f"; the valley at layer {row.valley_layer:.0f} is a dip most targets share "
                    f"({getattr(row, 'valley_shared', 0):.0%} of them dip there, see the shared "
                    "dips), so it may be a drop common to every probe rather than a change of "
                    "representation"
                    if pd.notna(getattr(row, "valley_shared", np.nan))
                    else ""
                )
            )
        elif row.verdict == "single peak":
            out.append(
                f"{head_}: single peak at layer {row.peak_layer:.0f} (depth "
                f"{row.peak_depth:.2f}{clause}); no second peak above chance stands 2 fold SEs "
                "above its surroundings"
            )
        else:
            out.append(f"{head_}: no peak stands above chance (Bonferroni over layers)")
    return out


def _null_name(row) -> str:
    """The null a ρ was measured against, in words."""
    source = getattr(row, "null_from", "")
    if row.estimator == "naive":
        if source == "fold noise":
            return "flat curves with the fold noise's structure"
        return "flat curves of independent noise"
    if source == "fold noise":
        return "flat halves with the fold noise's structure"
    return "flat halves modelled on the halves' difference, weaker"


def persistence_sentences(
    rho: pd.DataFrame, *, head: tuple[str, ...] = ("stimulus_set", "component", "estimator")
) -> list[str]:
    """ρ beside its null, the verdict, and whether one layer (or the sink layers) decide it.

    Parameters
    ----------
    rho : DataFrame
        :func:`~core.analysis.findings.findings` ``persistence`` rows.
    head : tuple of str
        Columns that name each estimate at the start of its sentence.

    Returns
    -------
    list of str
    """
    out = []
    for row in rho.itertuples():
        head_ = " · ".join(str(getattr(row, c)) for c in head)
        if pd.isna(row.rho):
            out.append(f"{head_}: {row.verdict}")
            continue
        text = (
            f"{head_}: ρ = {row.rho:.2f}; noise alone gives {row.baseline_mean:.2f} "
            f"[{row.baseline_lo:.2f}, {row.baseline_hi:.2f}] ({_null_name(row)}): "
            f"{row.verdict} (one-sided {_p(row.p_value)})"
        )
        fragile = getattr(row, "fragile_layers", "")
        if isinstance(fragile, str) and fragile:
            text += f"; interpolating layer {fragile} alone changes the verdict"
        if pd.notna(getattr(row, "rho_sinks", float("nan"))):
            text += (
                f"; with the sink layers interpolated ρ = {row.rho_sinks:.2f}, "
                f"{_p(row.p_sinks)} ({row.verdict_sinks})"
            )
        out.append(text)
    return out


def shared_dip_sentences(
    dips: pd.DataFrame, *, head: tuple[str, ...] = ("stimulus_set", "component")
) -> list[str]:
    """Per curve family, the layers where most targets dip together, and the sink layers.

    Parameters
    ----------
    dips : DataFrame
        :func:`~core.analysis.findings.findings` ``shared_dips`` rows.
    head : tuple of str
        Columns that name each family at the start of its sentence.

    Returns
    -------
    list of str
    """
    out = []
    for key, part in groups(dips, head) if len(dips) else []:
        name = " · ".join(map(str, key.values()))
        n_targets, n_sim = int(part["n_targets"].iloc[0]), int(part["n_sim"].iloc[0])
        null = (
            f"against each target's layer changes shifted circularly and independently "
            f"({n_sim} shifts, family-wise over layers {part['layer'].min()}-"
            f"{part['layer'].max()})"
        )
        sinks = str(part["sink_layers"].iloc[0]) if "sink_layers" in part else ""
        sink_note = f"; attention-sink layers: {sinks}" if sinks else ""
        flagged = part[part["shared"].astype(bool)]
        if flagged.empty:
            out.append(
                f"{name}: no layer where most of the {n_targets} targets dip together beyond "
                f"each curve's own roughness, {null}{sink_note}"
            )
            continue
        layers = "; ".join(
            f"layer {r.layer} ({round(r.share * n_targets)} of {n_targets} targets dip, mean "
            f"{r.mean_dip:.3f} below their neighbours' trend, {_p(r.p_value)})"
            + (", an attention-sink layer" if r.at_sink else "")
            for r in flagged.itertuples()
        )
        out.append(f"{name}: a dip shared across targets at {layers}, {null}{sink_note}")
    return out


def sink_sentences(sinks: pd.DataFrame) -> list[str]:
    """The sink layers found per model, with their norm ratio and attention on position 0."""
    out = []
    for row in sinks.itertuples():
        found = (
            f"sink layer(s) {row.sink_layers}: first-token residual norm {row.norm_ratio}× the "
            f"median token's, attention on position 0 {row.attn_pos0}"
            if row.sink_layers != "none"
            else "no layer where the first token's norm jumps to a massive activation"
        )
        out.append(
            f"{row.model}: {found} (medians over all layers: norm ratio "
            f"{row.median_norm_ratio:.1f}, attention on position 0 {row.median_attn_pos0:.2f}; "
            f"measured on {row.stimulus_sets})"
        )
    return out


def _method_words(method: str, counts: str) -> str:
    if method == STIMULUS_BOOTSTRAP:
        return f"a bootstrap over stimulus groups of the held-out predictions ({counts})"
    if method == FOLD_BOOTSTRAP:
        return f"a bootstrap over the folds' scores ({counts}; weaker: no per-stimulus predictions)"
    return "no resampling data"


def _methods(part: pd.DataFrame) -> str:
    """One phrase per resampling method, with each set's count: '(460 items, 42 pairs)'."""
    phrases = []
    for method, rows in part.groupby("method", sort=False):
        unit = "groups" if method == STIMULUS_BOOTSTRAP else "folds"
        counts = ", ".join(f"{r.n_resampled} {r.stimulus_set}" for r in rows.itertuples())
        phrases.append(_method_words(method, f"{unit}: {counts}"))
    return "; ".join(phrases)


def hierarchy_sentences(
    sets: pd.DataFrame, pairs: pd.DataFrame, *, controls: pd.DataFrame | None = None
) -> list[str]:
    """Which sets peak before which, per component, with intervals and the method.

    Parameters
    ----------
    sets, pairs : DataFrame
        :func:`~core.analysis.findings.findings` ``hierarchy`` and ``order`` rows.
    controls : DataFrame, optional
        ``controls`` rows: each set's peak then says how far it stands above layer 0 and
        the surface baseline, and the sentence says the order holds for the gain curves.

    Returns
    -------
    list of str
    """
    out = []
    for component, part in sets.groupby("component", sort=False):
        between = pairs[pairs["component"] == component] if len(pairs) else pairs
        names = list(part["stimulus_set"])
        peaks = "; ".join(
            f"{r.stimulus_set} at layer {r.peak_layer} (depth {r.peak_depth:.2f} "
            f"[{r.peak_lo:.2f}, {r.peak_hi:.2f}]"
            + (
                f"; {c}"
                if (c := peak_clause(_mean_row(controls, r.stimulus_set, component)))
                else ""
            )
            + ")"
            for r in part.itertuples()
        )
        steps = "; ".join(
            f"{r.set_b} - {r.set_a} = {r.shift:+.2f} [{r.shift_lo:+.2f}, {r.shift_hi:+.2f}], "
            f"P({r.set_a} first) = {r.p_before:.2f}: {r.verdict}"
            for r in between.itertuples()
        )
        methods = _methods(part)
        out.append(
            f"{component}: {' < '.join(names)} {order_verdict(between, tuple(names))} by "
            f"peak depth. Peaks: {peaks}. Differences: {steps}. 95 % intervals from {methods}."
            + (
                " The gain curves (minus layer 0) peak at the same layers, so the order on "
                "them is the same."
                if controls is not None and not controls.empty
                else ""
            )
        )
    return out


def text(tables: dict[str, pd.DataFrame], *, model: str, pooling: str) -> str:
    """The whole report as plain text (markdown headings and bullets).

    Parameters
    ----------
    tables : dict of DataFrame
        :func:`~core.analysis.findings.findings` output.
    model, pooling : str

    Returns
    -------
    str
    """
    lines = [f"# {model} (pooling {pooling})", ""]
    if len(tables["curves"]):
        lines += ["## Mean curve over each set's property targets (0 = chance, 1 = perfect)", ""]
        lines += [curve_table(tables["curves"]).to_string(index=False), ""]
        note = controls_sentence(tables["curves"])
        lines += [note, ""] if note else []
    sections = [
        (
            "Controls: each peak against layer 0 and the surface baselines",
            controls_sentences,
            ("controls",),
        ),
        (
            "How much of each peak the token embeddings already give (resid_pre layer 0)",
            lexical_sentences,
            ("lexical",),
        ),
        (
            "Double peaks (dip against a single-peaked curve plus fold noise)",
            double_peak_sentences,
            ("double_peaks",),
        ),
        (
            "Anti-persistence of adjacent layers (ρ against its noise null)",
            persistence_sentences,
            ("persistence",),
        ),
        (
            "Hierarchy (which sets peak before which; bootstrap intervals)",
            hierarchy_sentences,
            ("hierarchy", "order"),
        ),
    ]
    sections += [
        (
            "Attention sinks (onset of the first token's massive activation)",
            sink_sentences,
            ("sinks",),
        ),
        (
            "Dips shared across targets (against circularly shifted layer changes)",
            shared_dip_sentences,
            ("shared_dips",),
        ),
        (
            "Analogy effect: the full stimulus minus the better half (mean_ab, mean_cd / "
            "mean_x, mean_y), per third of the layers",
            effect_sentences,
            ("analogy_effect",),
        ),
    ]
    controls = tables.get("controls")
    for title, sentences, names in sections:
        frames = [tables.get(name, pd.DataFrame()) for name in names]
        extra = {"controls": controls} if sentences in WITH_CONTROLS else {}
        if len(frames[0]):
            lines += [f"## {title}", "", *(f"- {s}" for s in sentences(*frames, **extra)), ""]
    return "\n".join(lines)


WITH_CONTROLS = (double_peak_sentences, hierarchy_sentences)
"""Sentence makers that take ``controls=`` and then name them beside every peak."""
