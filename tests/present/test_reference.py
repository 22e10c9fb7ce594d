"""The published numbers as data: the paper's rows, a user's CSV, and ours beside them."""

from __future__ import annotations

import pandas as pd
import pytest

from core.present import reference


def test_the_papers_rows_are_the_published_layers_with_a_citation():
    paper = reference.load()
    bands = reference.bands(paper).set_index(["label", "stimulus_set"])
    assert bands.loc[("paper, 3B", "items"), ["layer_lo", "layer_hi"]].tolist() == [2, 7]
    assert bands.loc[("paper, 3B", "pairs"), ["layer_lo", "layer_hi"]].tolist() == [8, 12]
    assert bands.loc[("paper, 3B", "analogies"), ["layer_lo", "layer_hi"]].tolist() == [10, 15]
    for name in ("pairs", "analogies"):
        row = bands.loc[("paper, 70B", name)]
        assert row["measure"] == "first_peak" and [row["layer_lo"], row["layer_hi"]] == [12, 16]
    rho = paper[paper["measure"] == "rho"].iloc[0]
    assert rho["value"] == -0.33 and rho["component"] == "attn_out"
    assert paper["source"].str.contains("arXiv 2501.07359").all()
    assert paper["note"].str.len().gt(20).all()  # every row says what is uncertain
    # relative depth l / (L-1), and the doubt about the numbering as one layer of it
    three_b = bands.loc[("paper, 3B", "items")]
    assert three_b["depth_lo"] == pytest.approx(2 / 27) and three_b["shift"] == pytest.approx(
        1 / 27
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "label,measure\nx,peak\n",
            "reference file 'r.csv', column 'n_layers': missing required column",
        ),
        ("label,n_layers,measure\n", "reference file 'r.csv': no rows"),
        (
            "label,n_layers,measure,layer_lo,layer_hi\nx,28,peaks,2,7\n",
            "reference file 'r.csv', row 1, column 'measure': 'peaks' is not one of peak, "
            "first_peak, rho",
        ),
        (
            "label,n_layers,measure,layer_lo,layer_hi\nx,28,peak,2,7\ny,28,peak,2.5,7\n",
            "reference file 'r.csv', row 2, column 'layer_lo': '2.5' is not a whole number",
        ),
        (
            "label,n_layers,measure,layer_lo,layer_hi\nx,28,peak,2,28\n",
            "reference file 'r.csv', row 1, column 'layer_hi': layer 28 is outside 0-27",
        ),
        (
            "label,n_layers,measure,layer_lo,layer_hi\nx,28,peak,9,7\n",
            "reference file 'r.csv', row 1, column 'layer_hi': 7 is below layer_lo",
        ),
        (
            "label,n_layers,measure,value\nx,80,rho,-1.5\n",
            "reference file 'r.csv', row 1, column 'value': a correlation between -1 and 1 is "
            "needed",
        ),
        (
            "label,n_layers,measure,layer_lo,layer_hi\n,28,peak,2,7\n",
            "reference file 'r.csv', row 1, column 'label': empty (give the name a figure "
            "should show)",
        ),
        ("\x00\x01", "reference file 'r.csv', column 'label': missing required column"),
    ],
)
def test_a_bad_reference_file_is_refused_in_one_line(text, message):
    with pytest.raises(reference.ReferenceFileError) as info:
        reference.read(text.encode(), name="r.csv")
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_a_users_file_is_kept_and_read_with_the_papers(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_CACHE", str(tmp_path))
    data = (
        b"label,model,n_layers,stimulus_set,measure,layer_lo,layer_hi,source\n"
        b"Smith 2025,Qwen-7B,28,items,peak,4,9,doi:10.0/x\n"
    )
    with pytest.raises(reference.ReferenceFileError, match="letters, digits"):
        reference.save(data, "../evil")
    path = reference.save(data, "smith-2025")
    assert reference.saved() == [path]
    both = reference.load(reference.saved())
    assert list(both["label"].unique()) == ["paper, 3B", "paper, 70B", "Smith 2025"]
    smith = both[both["label"] == "Smith 2025"].iloc[0]
    assert smith["depth_lo"] == pytest.approx(4 / 27) and smith["component"] == ""


def _curves(depths: dict[str, float], n_layers: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": "m", "stimulus_set": s, "component": c, "peak_depth": d, "n_layers": n_layers}
            for s, d in depths.items()
            for c in ("resid_pre", "attn_out")
        ]
    )


def test_agreement_places_our_peak_inside_before_or_after_each_band():
    paper = reference.load()
    # 3B bands: items 0.07-0.26, pairs 0.30-0.44, analogies 0.37-0.56 (± 0.037)
    table = reference.agreement(_curves({"items": 0.20, "pairs": 0.10, "analogies": 0.90}), paper)
    where = table[table["label"] == "paper, 3B"].set_index(["stimulus_set", "component"])["where"]
    assert where["items"].eq("inside").all()
    assert where["pairs"].eq("earlier than").all()
    assert where["analogies"].eq("later than").all()
    # the numbering doubt: just outside the band but within one published layer counts inside
    edge = reference.agreement(_curves({"items": 0.26 + 0.03}), paper)
    assert edge.loc[edge["label"] == "paper, 3B", "where"].eq("inside").all()
    words = reference.agreement_sentences(table[table["label"] == "paper, 3B"], model="m")
    assert words[0].startswith("items: paper, 3B peaks at relative depth 0.07-0.26")
    assert "ours agrees" in words[0]
    assert "ours peaks earlier in every component" in words[1]
    assert "ours peaks later in every component" in words[2]
    assert not any("significant" in w or "test" in w for w in words)  # a description


def test_agreement_says_whether_ours_peaks_twice_where_the_70b_does():
    paper = reference.load()
    table = reference.agreement(_curves({"pairs": 0.18}), paper)
    peaks = pd.DataFrame(
        {
            "stimulus_set": ["pairs", "pairs"],
            "component": ["resid_pre", "attn_out"],
            "verdict": ["double peak", "single peak"],
        }
    )
    words = reference.agreement_sentences(
        table[table["label"] == "paper, 70B"], model="m", double_peaks=peaks
    )
    assert words == [
        "pairs: paper, 70B first peaks at relative depth 0.15-0.20 (±0.01 for the layer "
        "numbering); m peaks at resid_pre 0.18 (inside it); attn_out 0.18 (inside it): ours "
        "agrees. The paper's curve peaks twice; ours passes the double-peak test in resid_pre."
    ]


def test_rho_sentences_put_the_published_value_beside_ours_and_its_baseline():
    persistence = pd.DataFrame(
        {
            "stimulus_set": ["pairs", "pairs"],
            "component": ["attn_out", "attn_out"],
            "estimator": ["naive", "split-half"],
            "rho": [-0.41, 0.02],
            "baseline_mean": [-0.45, 0.0],
            "verdict": ["no anti-persistence beyond noise"] * 2,
        }
    )
    [sentence] = reference.rho_sentences(reference.load(), persistence, model="m")
    assert "paper, 70B reports -0.33" in sentence
    assert "pairs -0.41 (noise alone -0.45)" in sentence  # the naive estimator only
    assert "0 of 1 of ours" in sentence
