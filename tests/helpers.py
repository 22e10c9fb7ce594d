"""Small stimulus sets built in code, for tests that need no real labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.stimuli import StimulusSet, load, validate

NOUNS = [
    "apple",
    "banana",
    "cherry",
    "dog",
    "cat",
    "horse",
    "hammer",
    "chair",
    "table",
    "river",
    "mountain",
    "tree",
]


def tiny_stimuli() -> StimulusSet:
    frame = pd.DataFrame(
        {
            "item_id": NOUNS,
            "text": [f"A big {n} and a small one" for n in NOUNS],
            "group": NOUNS,
            "words": NOUNS,
            "is_food:binary": ["1", "1", "1"] + ["0"] * 9,
            "n_letters:continuous": [str(len(n)) for n in NOUNS],
        }
    )
    return validate(frame, name="tiny", n_folds=3)


def items_subset(n: int = 48, *, name: str = "items") -> StimulusSet:
    """``n`` rows of a built-in set, spread over its sampling strata (round robin, fixed seed).

    Targets whose rarer class falls in fewer than six groups of the subset are dropped, so
    the subset supports grouped 6-fold CV like the full set.
    """
    import numpy as np

    full = load(name)
    rng = np.random.default_rng(0)
    column = next((c for c in ("meta_category", "meta_stratum") if c in full.frame), None)
    if column:
        strata = [
            list(rng.permutation(np.flatnonzero(full.frame[column] == s)))
            for s in sorted(full.frame[column].unique())
        ]
        rows: list[int] = []
        while len(rows) < n:
            for stratum in strata:
                if stratum and len(rows) < n:
                    rows.append(int(stratum.pop()))
    else:
        rows = list(rng.permutation(len(full))[:n])
    subset = full.subset(sorted(rows))
    dropped = []
    for target, kind in subset.targets.items():
        if kind != "continuous":
            per_class = subset.frame.groupby(target)["group"].nunique()
            if len(per_class) < 2 or per_class.min() < 6:
                dropped.append(target)
    return StimulusSet(
        name=subset.name,
        frame=subset.frame.drop(columns=dropped),
        targets={t: k for t, k in subset.targets.items() if t not in dropped},
        spans=subset.spans,
    )


def subset_csv(tmp_path: Path, n: int = 36) -> Path:
    """``n`` rows of ``items`` (see :func:`items_subset`) written as a stimulus CSV."""
    stimuli = items_subset(n)
    frame = stimuli.frame.copy()
    frame["words"] = frame["item_id"]
    frame = frame.rename(columns={t: f"{t}:{k}" for t, k in stimuli.targets.items()})
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return path


def assert_close_activations(a: dict, b: dict, rtol: float = 1e-4) -> None:
    """``{pooling: {component: array}}`` equal to a relative tolerance of the largest value."""
    import numpy as np

    for pooling in a:
        for component, values in a[pooling].items():
            ref = b[pooling][component]
            rel = np.abs(values - ref).max() / np.abs(ref).max()
            assert rel < rtol, (pooling, component, rel)


def run_args(csv: Path, db: Path, *extra: str, model: str = "smollm2-135m") -> list[str]:
    """``run`` on the command line: a model, a stimulus CSV and a results database, then
    ``extra`` settings."""
    return ["run", "--model", model, "--stimuli", str(csv), "--db", str(db), *extra]


def run_main(argv: list[str]) -> int:
    """The command line in this process; argparse's own refusals give their exit code."""
    from core.__main__ import main

    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own checks
        return int(exc.code)


# What a probe_scores row holds beyond its cell: a decodable score and its permutation null.
SCORE_STATS = dict(
    n_layers=1,
    probe="svm",
    score=0.7,
    score_se=0.01,
    chance=0.5,
    null_mean=0.5,
    null_sd=0.02,
    null_lo=0.46,
    null_hi=0.54,
    p_value=0.01,
    n_perm=99,
    n_null=99,
    n_folds=6,
    is_primary=True,
)


def score_row(*, target: str = "t", component: str = "resid_pre", layer: int = 0, **values) -> dict:
    """One probe_scores row (balanced accuracy) for results stored by hand: the cell, then
    :data:`SCORE_STATS` with ``values`` in place of any of them (``run_id`` too)."""
    cell = dict(target=target, component=component, layer=layer, metric="balanced_accuracy")
    return cell | SCORE_STATS | values
