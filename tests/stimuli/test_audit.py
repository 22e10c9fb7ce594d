"""The stimulus audit: the built-in sets pass it, planted confounds are flagged, and the
AUC flag is calibrated (false-positive rate and power on simulated sets, printed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from core.stimuli import builtin_names, load, validate
from core.stimuli.audit import AUC_BOUNDS, auc, audit, load_wordnet, lookup_auc, outside
from tests.helpers import run_main

BUILT = ["items", "items-article", "pairs", "analogies", "analogies-paper", "buried"]


@pytest.fixture(scope="module")
def wordnet():
    wn = load_wordnet()
    if wn is None:
        pytest.skip("WordNet 3.0 (nltk and Debian's wordnet-base) is not installed")
    return wn


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype(str)


def test_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 300).astype(float)  # many ties
    y = rng.integers(0, 2, 300)
    assert auc(x, y) == pytest.approx(roc_auc_score(y, x))


@pytest.mark.parametrize("name", BUILT)
def test_builtin_sets_pass_the_audit(name, smol_tokenizer, wordnet):
    stimuli = load(name)
    result = audit(stimuli, tokenizer=smol_tokenizer, wordnet=wordnet)
    print(f"\n{name}: confound AUCs\n{result.confounds.round(3).to_string(index=False)}")
    if len(result.halves):
        print(result.halves.round(3).to_string(index=False))
    for row in result.confounds.itertuples(index=False):
        for feature in ("frequency", "length", "tokens", "frame"):
            value = getattr(row, feature)
            assert AUC_BOUNDS[0] <= value <= AUC_BOUNDS[1], (name, row.target, feature, value)
    assert result.shared_words.empty, result.shared_words
    assert result.synonyms.empty, result.synonyms
    if name == "analogies-paper":
        # the paper's design: c:d alone tells valid from broken, and the audit must say so
        flagged = result.halves[result.halves["auc"].map(outside)]
        assert set(flagged["measure"]) == {"c:d is a pair of the set"}
        assert len(result.warnings) == 1 and "c:d half alone" in result.warnings[0]
    else:
        assert result.passed, result.warnings


@pytest.mark.slow
@pytest.mark.parametrize("name", ["items", "items-article"])
def test_items_token_counts_are_balanced_for_gemma_too(name):
    from core.lm.loading import load_tokenizer

    result = audit(load(name), tokenizer=load_tokenizer("gemma3-270m"))
    print(result.confounds[["target", "tokens"]].round(3).to_string(index=False))
    assert result.confounds["tokens"].between(*AUC_BOUNDS).all()


def test_audit_flags_a_label_that_frequency_predicts():
    words = ["the", "water", "house", "people", "time", "world", "school", "money"] * 3
    rare = ["aardvark", "quokka", "ocelot", "gnu", "axolotl", "tapir", "okapi", "numbat"] * 3
    rows = [
        {"item_id": f"{w}{i}", "text": f"The {w}", "group": f"g{i}", "words": w, "y": label}
        for i, (w, label) in enumerate([(w, 1) for w in words] + [(w, 0) for w in rare])
    ]
    result = audit(validate(_frame(rows), name="planted"))
    assert result.confounds.set_index("target").loc["y", "frequency"] > 0.9
    assert any("word frequency (Zipf) predicts 'y'" in w for w in result.warnings)


def test_audit_flags_a_word_in_two_groups_and_a_frame_confound():
    rows = []
    for i in range(12):
        label = i % 2
        frame = "A" if label else "Some"
        word = "apple" if i == 0 else f"word{i}"
        rows.append(
            {
                "item_id": f"r{i}",
                "text": f"{frame} {word}",
                "group": f"g{i}",
                "words": word,
                "y": label,
            }
        )
    rows.append({"item_id": "r12", "text": "Some apple", "group": "g12", "words": "apple", "y": 0})
    result = audit(validate(_frame(rows), name="planted"))
    assert list(result.shared_words["word"]) == ["apple"]
    assert result.confounds.set_index("target").loc["y", "frame"] > 0.9
    assert any("more than one CV group" in w for w in result.warnings)
    assert any("the frame" in w for w in result.warnings)


def _chained(n: int = 60) -> pd.DataFrame:
    """The old analogy design: group = a:b, c:d = the next group's a:b, broken d swapped."""
    pairs = [(f"a{i}", f"b{i}") for i in range(n)]
    rows = []
    for i, (a, b) in enumerate(pairs):
        c, d = pairs[(i + 1) % n]
        wrong = pairs[(i + 3) % n][1]
        for ok, last in ((1, d), (0, wrong)):
            rows.append(
                {
                    "item_id": f"{a}-{last}",
                    "text": f"Analogy: {a} is to {b} as {c} is to {last}",
                    "group": f"{a}:{b}",
                    "words": f"{a}|{b}|{c}|{last}",
                    "valid": ok,
                }
            )
    return _frame(rows)


def test_audit_flags_a_label_fixed_by_cd_alone():
    result = audit(validate(_chained(), name="chained"))
    halves = result.halves.set_index("measure")["auc"]
    print(f"\nchained design, one half alone:\n{halves.round(3).to_string()}")
    assert halves["a:b label in training rows"] == pytest.approx(0.5, abs=0.05)
    assert halves["c:d known from training rows"] > 0.85  # the 0.92
    assert halves["c:d is a pair of the set"] == 1.0
    assert any("the c:d half alone fixes 'valid'" in w for w in result.warnings)
    assert len(result.shared_words) > 50  # every word sits in two groups


SYNONYM_PROBE = [
    "television",
    "tv",
    "apple",
    "chair",
    "river",
    "dog",
    "cup",
    "hat",
    "pen",
    "cow",
    "lamp",
    "rope",
]


def test_audit_flags_synonyms_in_different_groups(wordnet):
    rows = [
        {"item_id": w, "text": f"The {w}", "group": w, "words": w, "y": i % 2}
        for i, w in enumerate(SYNONYM_PROBE)
    ]
    result = audit(validate(_frame(rows), name="planted"), wordnet=wordnet)
    assert "television / tv" in set(result.synonyms["words"])


def test_the_audit_says_what_it_could_not_check():
    rows = [
        {
            "item_id": f"r{i}",
            "text": f"The thing{i}",
            "group": f"g{i}",
            "words": f"thing{i}",
            "y": i % 2,
        }
        for i in range(12)
    ]
    result = audit(validate(_frame(rows), name="bare"))
    assert any("token counts not checked" in n for n in result.notes)
    assert any("synonym sets not checked" in n for n in result.notes)


def test_auc_flag_is_calibrated():
    """False-positive rate on sets with no confound, and power on a planted AUC of 0.75,
    at the items set's size (460 rows, 20 % positives); 500 simulated sets each."""
    rng = np.random.default_rng(7)
    n, share, sims = 460, 0.2, 500
    shift = np.sqrt(2) * norm.ppf(0.75)  # a normal mean shift whose true AUC is 0.75
    null_flags = power_flags = 0
    for _ in range(sims):
        y = (rng.random(n) < share).astype(int)
        null_flags += outside(auc(rng.normal(size=n), y))
        power_flags += outside(auc(rng.normal(size=n) + shift * y, y))
    fpr, power = _rates(
        f"AUC flag outside {AUC_BOUNDS}",
        "at AUC 0.75",
        null_flags,
        power_flags,
        sims,
        f" of {n} rows",
    )
    assert fpr <= 0.01
    assert power >= 0.95


def _rates(
    flag: str, against: str, null_flags: int, power_flags: int, sims: int, sets: str = ""
) -> tuple[float, float]:
    """A flag's false-positive rate and power over ``sims`` simulated sets, printed."""
    fpr, power = null_flags / sims, power_flags / sims
    print(
        f"\n{flag}: false-positive rate {fpr:.3f}, power {against} {power:.3f} "
        f"({sims} simulated sets{sets})"
    )
    return fpr, power


def test_lookup_flag_is_calibrated():
    """The out-of-fold lookup (frames, a:b): keys repeated within and across groups, labels
    independent of them (null), or the label a function of the key (planted)."""
    rng = np.random.default_rng(11)
    sims, n_groups, per_group = 200, 40, 8
    groups = np.repeat(np.arange(n_groups), per_group)
    null_flags = power_flags = 0
    for _ in range(sims):
        keys = list(rng.integers(0, 30, len(groups)))
        y = rng.integers(0, 2, len(groups))
        null_flags += outside(lookup_auc(keys, y, groups))
        planted = np.array([k % 2 for k in keys])
        noisy = np.where(rng.random(len(groups)) < 0.15, 1 - planted, planted)
        power_flags += outside(lookup_auc(keys, noisy, groups))
    fpr, power = _rates("lookup flag", "with 85 % key-fixed labels", null_flags, power_flags, sims)
    assert fpr <= 0.02
    assert power >= 0.95


def test_cli_audit_prints_every_set_and_refuses_a_bad_name(capsys):
    """In this process (``tests/test_bad_input.py`` runs real processes)."""
    code = run_main(["audit", "pairs", "analogies", "--tokenizer", "none"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "pairs: 3" in out and "analogies: " in out
    assert "one half alone" in out
    code = run_main(["audit", "no-such-set"])
    assert code == 2 and capsys.readouterr().err.startswith("error: unknown stimulus set")
    code = run_main(["audit", "pairs", "--folds", "1"])
    assert code == 2 and capsys.readouterr().err.startswith("error: folds=1")


def test_every_builtin_set_is_audited_here():
    assert set(BUILT) | {f"buried-{n}" for n in (0, 25, 50, 200)} == set(builtin_names())
