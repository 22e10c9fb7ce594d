"""The findings of :func:`core.analysis.findings.findings` in words.

One sentence per curve, each stating the verdict beside the number that decides it, so
the command line's ``report`` and the app's Findings page say the same thing the same way.
"""

from __future__ import annotations

import pandas as pd

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


def curve_table(curves: pd.DataFrame) -> pd.DataFrame:
    """The mean-curve summaries, with peak as ``layer (relative depth)`` and band as ``lo-hi``."""
    if curves.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return curves.assign(
        peak=[f"{int(p)} ({d:.2f})" for p, d in zip(curves["peak_layer"], curves["peak_depth"])],
        band=[f"{int(a)}-{int(b)}" for a, b in zip(curves["band_lo"], curves["band_hi"])],
    )[CURVE_COLUMNS].round(3)


def double_peak_sentences(peaks: pd.DataFrame) -> list[str]:
    out = []
    for row in peaks.itertuples():
        where = ""
        if row.verdict in ("double peak", "two peaks, dip within noise"):
            where = (
                f": peaks at layers {row.peak1_layer:.0f} and {row.peak2_layer:.0f} "
                f"(depth {row.peak1_depth:.2f}, {row.peak2_depth:.2f}), valley at "
                f"{row.valley_layer:.0f}, dip {row.dip:.3f}, p = {row.p_value:.3f}"
            )
        elif row.verdict == "single peak":
            where = f" at layer {row.peak1_layer:.0f} (depth {row.peak1_depth:.2f})"
        out.append(f"{row.stimulus_set} · {row.component}: {row.verdict}{where}")
    return out


def persistence_sentences(rho: pd.DataFrame) -> list[str]:
    out = []
    for row in rho.itertuples():
        head = f"{row.stimulus_set} · {row.component} · {row.estimator}"
        if pd.isna(row.rho):
            out.append(f"{head}: {row.verdict}")
            continue
        out.append(
            f"{head}: ρ = {row.rho:.2f}; noise alone gives {row.baseline_mean:.2f} "
            f"[{row.baseline_lo:.2f}, {row.baseline_hi:.2f}]: {row.verdict} (p = {row.p_value:.3f})"
        )
    return out


def hierarchy_sentences(order: pd.DataFrame) -> list[str]:
    out = []
    for component, part in order.groupby("component", sort=False):
        first = part.iloc[0]
        by_mass = "holds" if first["holds"] else "does not hold"
        by_peak = "holds" if first["holds_peak"] else "does not hold"
        depths = "; ".join(
            f"{r.stimulus_set} {r.expected_depth:.2f} [{r.lo:.2f}, {r.hi:.2f}], "
            f"peak {r.peak_depth:.2f} [{r.peak_lo:.2f}, {r.peak_hi:.2f}]"
            for r in part.itertuples()
        )
        out.append(
            f"{component}: {' < '.join(part['stimulus_set'])} {by_mass} by expected depth "
            f"(it holds in {first['p_order']:.0%} of bootstrap resamples of the targets) and "
            f"{by_peak} by peak depth ({first['p_order_peak']:.0%}). Depths: {depths}"
        )
    return out


def text(tables: dict[str, pd.DataFrame], *, model: str, pooling: str) -> str:
    """The whole report as plain text (markdown headings and bullets)."""
    lines = [f"# {model} (pooling {pooling})", ""]
    sections = [
        (
            "Double peaks (dip against a single-peaked curve plus fold noise)",
            double_peak_sentences,
            "double_peaks",
        ),
        (
            "Anti-persistence of adjacent layers (ρ against its noise baseline)",
            persistence_sentences,
            "persistence",
        ),
        (
            "Hierarchy (expected and peak depth of each set's mean curve, 95 % intervals)",
            hierarchy_sentences,
            "hierarchy",
        ),
    ]
    if len(tables["curves"]):
        lines += ["## Mean curve over each set's targets (0 = chance, 1 = perfect)", ""]
        lines += [curve_table(tables["curves"]).to_string(index=False), ""]
    for title, sentences, name in sections:
        if len(tables[name]):
            lines += [f"## {title}", "", *(f"- {s}" for s in sentences(tables[name])), ""]
    return "\n".join(lines)
