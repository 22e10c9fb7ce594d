"""Every page of the app, headless, on real results (SmolLM2 and Gemma on small subsets)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.analysis import property_targets
from core.present import plots

pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parents[2] / "app.py")


BOTH = {"model": "smollm2-135m", "model2": "gemma3-270m", "set": "items", "pooling": "mean"}


def _open(monkeypatch, cache: Path, **params: str) -> AppTest:
    """The app on the results in ``cache``, with ``params`` in its URL (not run yet)."""
    monkeypatch.setenv("STRATA_CACHE", str(cache))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    return at


@pytest.fixture
def app(app_cache, monkeypatch):
    return _open(monkeypatch, app_cache, **BOTH).run()


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_home_shows_a_figure_and_what_is_stored(app):
    _no_errors(app)
    assert _charts(app) == 1
    labels = {m.label: m.value for m in app.metric}
    # 5 results with mean, plus the half-stimulus controls (DESIGN.md contract 7): mean_x and
    # mean_y beside every pairs result, mean_ab and mean_cd beside every analogies result
    assert labels["Results (model × set × pooling)"] == "11"
    assert any("smollm2-135m" in str(df.value) for df in app.dataframe)


def test_findings_page_states_peaks_verdicts_and_order_for_both_models(app):
    app.switch_page("pages/findings.py").run()
    _no_errors(app)
    assert _charts(app) == 1
    assert [h.value for h in app.header] == ["smollm2-135m", "gemma3-270m"]
    summaries = [df.value for df in app.dataframe if "peak" in df.value.columns]
    assert len(summaries) == 2
    assert set(summaries[0]["stimulus_set"]) == {"items", "pairs", "analogies"}
    assert set(summaries[1]["stimulus_set"]) == {"items", "pairs"}
    text = "\n".join(m.value for m in app.markdown)
    rho = re.findall(r"ρ = -?\d\.\d\d; noise alone gives", text)
    assert len(rho) == 3 * (3 + 2) * 2  # components × sets × estimators
    assert "< pairs < analogies" in text and "by peak depth" in text
    assert text.count("attn_out: items < pairs") == 2  # the order, tested in each model
    # the published bands, in words, for each model: where ours peaks against the paper's
    assert [s.value for s in app.subheader].count("Beside the published results") == 2
    assert text.count("paper, 3B peaks at relative depth 0.07-0.26") == 2
    assert re.search(r"smollm2-135m peaks at resid_pre 0\.\d\d \((inside|earlier than|later)", text)
    assert "ρ of attn_out: paper, 70B reports -0.33" in text
    # every set's peak against layer 0 and its surface baseline, in words and as a table
    assert text.count("above layer 0 and") >= 2 * 3 * 2
    assert re.search(r"(beats|does not beat) its surface baseline \(largest fold-paired t", text)
    subheads = [s.value for s in app.subheader]
    assert subheads.count("Each peak against layer 0 and the surface baselines") == 2


def test_layer_curves_for_a_target_and_the_hierarchy(app):
    app.switch_page("pages/curves.py").run()
    _no_errors(app)
    assert _charts(app) == 1
    summary = app.dataframe[-1].value
    assert set(summary["component"]) == {"resid_pre", "attn_out", "mlp_out"}
    assert summary["peak_layer"].between(0, 29).all()
    app.radio[0].set_value(app.radio[0].options[1]).run()
    _no_errors(app)
    table = app.dataframe[-1].value
    assert list(table["stimulus_set"].unique()) == ["items", "pairs", "analogies"]
    # identifying columns first, an estimate and its interval in one cell
    assert list(table.columns[:2]) == ["stimulus_set", "component"]
    cells = table["peak_depth"].str.extract(r"^(\d\.\d\d) \[(\d\.\d\d), (\d\.\d\d)\]$")
    values = cells.astype(float)
    assert values.notna().all().all() and values.stack().between(0, 1).all()
    assert (values[1] <= values[2]).all()
    assert not [c for c in table.columns if c.endswith(("_lo", "_hi")) or c in ("lo", "hi")]
    assert table["expected_depth"].dropna().between(0, 1).all()  # a description only
    assert any("items < pairs < analogies" in m.value for m in app.markdown)


def test_layer_curves_draw_layer_0_the_surface_baseline_and_the_gain(app):
    app.switch_page("pages/curves.py").run()
    _no_errors(app)

    def layout():
        return json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]

    def dashed():
        return [s for s in layout().get("shapes", []) if s.get("line", {}).get("dash") == "dash"]

    assert not dashed()  # off by default
    boxes = {c.label: c for c in app.checkbox}
    boxes["Layer 0 (dashed)"].check().run()
    boxes = {c.label: c for c in app.checkbox}
    boxes["Surface baseline"].check().run()
    _no_errors(app)
    assert app.query_params["layer0"] == "1" and app.query_params["surface"] == "1"
    [line] = dashed()
    bands = [  # the surface band (sink layers are shaded yellow, vertically)
        s for s in layout()["shapes"] if s["type"] == "rect" and s["fillcolor"] != plots.SINK_COLOR
    ]
    assert len(bands) == 1 and bands[0]["y0"] < bands[0]["y1"]
    texts = [a.get("text", "") for a in layout()["annotations"]]
    assert "layer 0" in texts and any(t.startswith("surface (") for t in texts)
    y_axis = next(r for r in app.radio if r.label == "y axis")
    y_axis.set_value("gain").run()
    _no_errors(app)
    assert app.query_params["y"] == "gain"
    assert "gain over layer 0" in layout()["yaxis"]["title"]["text"]
    [line] = dashed()
    assert line["y0"] == 0  # gains are measured from layer 0
    summary = app.dataframe[-1].value
    resid0 = summary[summary["component"] == "resid_pre"]
    assert set(summary["component"]) == {"resid_pre", "attn_out", "mlp_out"} and len(resid0)


def test_mean_curves_draw_each_sets_layer_0_and_surface_baseline(app):
    app.switch_page("pages/curves.py").run()
    app.radio[0].set_value(app.radio[0].options[1]).run()
    boxes = {c.label: c for c in app.checkbox}
    boxes["Layer 0 (dashed)"].check().run()
    boxes = {c.label: c for c in app.checkbox}
    boxes["Surface baseline"].check().run()
    _no_errors(app)
    layout = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    dashed = [s for s in layout["shapes"] if s.get("name") == "layer 0"]
    assert len(dashed) == 3 * 3  # each set's layer 0 on each component's panel
    assert {s["line"]["dash"] for s in dashed} == {"dash"}
    texts = [a.get("text", "") for a in layout["annotations"]]
    for name in ("items", "pairs", "analogies"):
        assert f"layer 0: {name}" in texts and f"surface: {name}" in texts


def test_double_peaks_page_states_a_verdict(app):
    app.switch_page("pages/peaks.py").run()
    _no_errors(app)
    assert _charts(app) == 1
    table = app.dataframe[-1].value
    assert set(table["model"]) == {"smollm2-135m", "gemma3-270m"}
    assert (
        table["verdict"]
        .isin(["double peak", "single peak", "no peak", "two peaks, dip within noise"])
        .all()
    )
    # each valley flagged as Findings flags it: a sink layer, or a dip most targets share
    from core.present import views

    for model, mine in table.groupby("model"):
        found = views.findings(None, model=model, pooling="mean")["double_peaks"]
        found = found[found["stimulus_set"] == "items"].set_index("component")
        mine = mine.set_index("component").loc[found.index]
        valleys = [f["valley_layer"].to_numpy(float) for f in (mine, found)]
        np.testing.assert_array_equal(*valleys)  # NaN where there is none, in both
        shared = found.get("valley_shared", pd.Series(np.nan, index=found.index))
        assert np.allclose(mine["valley_shared"], shared, atol=1e-3, equal_nan=True)
    text = "\n".join(m.value for m in app.markdown)
    flagged = table.dropna(subset=["valley_shared"])
    assert len(flagged)  # SmolLM2's attn_out valley on items is one (the deck's slide says so)
    for row in flagged.itertuples():
        assert f"{row.valley_shared:.0%} of them dip there" in text


def test_compare_page_puts_both_models_on_relative_depth(app):
    app.switch_page("pages/compare.py").run()
    _no_errors(app)
    assert _charts(app) == 2
    shifts = app.dataframe[0].value
    assert len(shifts) == 3
    assert list(shifts.columns[:3]) == [
        "component",
        "peak depth smollm2-135m",
        "peak depth gemma3-270m",
    ]
    depths = shifts.iloc[:, 1:3].stack().str.extract(r"^(\d\.\d\d) \[").astype(float)
    assert depths[0].between(0, 1).all()


RHO = (
    r"(?:\*\*)?(?:(?P<who>[\w.-]+) · )?(?P<component>\w+)(?: · |, )(?P<estimator>naive|split-half)"
    r"(?:\*\*)?: ρ = (?P<rho>-?[\d.]+); noise alone gives (?P<base>-?[\d.]+) .*p = (?P<p>[\d.]+)\)"
)


def _rho(markdown) -> list[dict]:
    """Each markdown block's ρ sentences as {(who, component, estimator): (ρ, baseline, p)}."""
    blocks = []
    for m in markdown:
        found = {
            (hit["who"] or "", hit["component"], hit["estimator"]): (
                hit["rho"],
                hit["base"],
                hit["p"],
            )
            for hit in re.finditer(RHO, m.value)
        }
        if found:
            blocks.append(found)
    return blocks


def test_coordination_page_compares_rho_with_noise(app):
    app.switch_page("pages/coordination.py").run()
    _no_errors(app)
    assert _charts(app) == 5  # ρ, the z-scored matrix, the raw one, target matrix, CKA
    sentences = [m.value for m in app.markdown if re.search(r"ρ = -?[\d.]+; noise", m.value)]
    assert len(sentences) == 12  # 2 models × 3 components × (naive, split-half)
    verdicts = ("anti-persistent beyond noise", "no anti-persistence beyond noise")
    assert all(any(v in s for v in verdicts) for s in sentences)
    # the z-scored matrix leads and says what it shows; the raw one waits in an expander
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in app.get("plotly_chart")]
    assert titles[1].startswith("smollm2-135m · items · resid_pre: layer × layer correlation")


def test_one_rho_one_answer_on_findings_and_coordination(app):
    """The same ρ, baseline and p on both pages (they were 0.896 vs 0.902 apart)."""
    app.switch_page("pages/coordination.py").run()
    coordination = {k: v for block in _rho(app.markdown) for k, v in block.items()}
    app.switch_page("pages/findings.py").run()
    per_model = dict(zip(("smollm2-135m", "gemma3-270m"), _rho(app.markdown)))  # in page order
    findings = {
        (model, component, estimator): value
        for model, found in per_model.items()
        for (stimulus_set, component, estimator), value in found.items()
        if stimulus_set == "items"
    }
    assert len(coordination) == 12
    for key, value in coordination.items():
        assert findings[key] == value


def test_matrix_component_and_second_model_are_kept_in_the_url(app):
    app.switch_page("pages/coordination.py").run()
    app.selectbox(key="w_matrix").set_value("attn_out").run()
    _no_errors(app)
    assert app.query_params["matrix"] == "attn_out"
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in app.get("plotly_chart")]
    assert "items · attn_out: layer × layer correlation" in titles[1]
    # a reopened link shows the same matrix
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(dict(app.query_params.items()))
    at.switch_page("pages/coordination.py").run()
    assert at.selectbox(key="w_matrix").value == "attn_out"
    assert at.selectbox(key="w_model2").value == "gemma3-270m"


def test_stimuli_page_browses_and_rejects_a_bad_upload(app, tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_CACHE", str(tmp_path))  # keep the shared results cache clean
    app.switch_page("pages/stimuli.py").run()
    _no_errors(app)
    assert [m.value for m in app.metric][:1] == ["460"]
    rows = ["item_id,text,group,edible:binary"]
    rows += [f"i{k},A thing{k},g{k},{k % 2}" for k in range(12)]
    bad = "\n".join([*rows[:5], "i4,A thing4,g4,2", *rows[6:]]).encode()
    app.file_uploader(key="upload_file").upload("mine.csv", bad, "text/csv")
    app.text_input(key="upload_name").set_value("mine").run()  # the upload enables the button
    app.button(key="upload_keep").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == ["row 5, column 'edible:binary': '2' is not 0 or 1"]
    app.file_uploader(key="upload_file").upload("mine.csv", "\n".join(rows).encode(), "text/csv")
    app.run()
    app.button(key="upload_keep").click().run()
    _no_errors(app)
    assert any("'mine': 12 items" in s.value for s in app.success)
    browse = next(box for box in app.selectbox if "mine" in box.options)  # browsable at once
    assert browse.value == "mine" and [m.value for m in app.metric][:1] == ["12"]


def test_run_page_refuses_an_unknown_model(app):
    app.switch_page("pages/run.py").run()
    _no_errors(app)
    model = app.selectbox(key="run_model")
    model.set_value(model.options[-1])  # "another model"
    app.text_input(key="run_custom").set_value("no/such-model-here")
    app.button(key="run_start").click().run()
    assert any("not in the local Hugging Face cache" in e.value for e in app.error)
    assert not list((Path(os.environ["STRATA_CACHE"]) / "jobs").glob("*"))  # nothing started


def test_compare_page_on_results_merged_from_two_machines(app_cache, tmp_path, monkeypatch):
    """Each model's results exported to its own file, merged into a fresh database."""
    from core.storage import store

    source = app_cache / "strata.duckdb"
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    for model in ("smollm2-135m", "gemma3-270m"):
        exported = tmp_path / f"{model}.duckdb"
        store.export_results(source, exported, model=model)
        store.import_results(laptop / "strata.duckdb", exported)
    at = _open(monkeypatch, laptop, **BOTH).run()
    at.switch_page("pages/compare.py").run()
    _no_errors(at)
    assert _charts(at) == 2
    runs = store.query(laptop / "strata.duckdb", "runs")
    assert set(runs["model"]) == {"smollm2-135m", "gemma3-270m"}
    assert runs["machine"].notna().all() and runs["versions"].notna().all()  # provenance


def test_an_empty_database_offers_one_click_runs(tmp_path, monkeypatch):
    from ui import jobs

    started = []
    monkeypatch.setattr(jobs, "start", lambda configs: started.append(configs) or "job")
    monkeypatch.setenv("STRATA_CACHE", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120).run()
    _no_errors(at)
    assert any("The results database is empty" in i.value for i in at.info)
    at.button(key="run_both").click().run()
    # one job, set by set with both models in each: Compare has both after the first set
    [configs] = started
    assert [(c.model, c.stimuli) for c in configs] == [
        (m, s) for s in ("items", "pairs", "analogies") for m in ("smollm2-135m", "gemma3-270m")
    ]


def _running_job(configs):
    from ui import jobs

    return jobs.JobStatus(
        job_id="20260101-000000-abcdef",
        configs=tuple(configs),
        state="running",
        stage="probe",
        done=30,
        total=90,
        step=2,
        n_steps=3,
        eta_s=75.0,
        note=None,
        error=None,
        started=0.0,
        finished=None,
    )


def test_while_a_run_goes_pages_say_so_and_offer_no_second_run(tmp_path, monkeypatch):
    from core.config import RunConfig
    from ui import jobs

    configs = [RunConfig(model="smollm2-135m", stimuli=s) for s in ("items", "pairs", "analogies")]
    monkeypatch.setattr(jobs, "running", lambda limit=10: [_running_job(configs)])
    monkeypatch.setenv("STRATA_CACHE", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120).run()
    _no_errors(at)
    assert not any("The results database is empty" in i.value for i in at.info)
    assert not [b for b in at.button if b.key in ("run_default", "run_both")]
    bars = [p for p in at.get("progress")]
    assert bars and "run 2 of 3 (smollm2-135m × pairs)" in bars[0].proto.text
    assert "probing layer × component cells: 30/90, about 75 s left" in bars[0].proto.text
    at.switch_page("pages/findings.py").run()
    _no_errors(at)
    assert any("a run is going" in i.value for i in at.info)
    assert not any("No results yet. Start a run" in i.value for i in at.info)


def test_the_app_opens_on_the_embedded_default_model(app_cache, monkeypatch):
    monkeypatch.setenv("STRATA_CACHE", str(app_cache))
    at = AppTest.from_file(APP, default_timeout=120).run()  # no query parameters
    _no_errors(at)
    assert at.selectbox(key="w_model").value == "smollm2-135m"  # not the alphabetical first
    # Home's curve: every target, normalised, with the chance line, saying so
    from core.storage import store

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    title = spec["layout"]["title"]["text"]
    n = int(re.search(r"mean over its (\d+) property targets", title).group(1))
    stored = store.query(
        app_cache / "strata.duckdb", "targets", model="smollm2-135m", stimulus_set="items"
    )
    # classifier and regression targets alike; controls (word frequency) left out
    assert n == len(property_targets(stored["target"])) > 8
    assert [t["name"] for t in spec["data"] if t.get("name") == "chance"] == ["chance"]
    assert [s["y0"] for s in spec["layout"]["shapes"]] == [0.0]  # chance of a normalised score


def test_findings_makes_the_talk_deck_in_one_click(app):
    app.switch_page("pages/findings.py").run()
    app.button(key="deck_make").click().run()
    _no_errors(app)
    buttons = {b.proto.label for b in app.get("download_button")}
    assert {"Deck HTML", "Deck PDF", "Everything (ZIP)"} <= buttons
    files = app.session_state["deck_files"]
    assert files.pdf is not None and files.pdf.read_bytes().startswith(b"%PDF")
    # PNG and SVG of nine slides (surface baselines, sink layers and the analogy effect last)
    assert len(files.images) == 2 * 9
    html = files.html.read_text()
    assert "smollm2-135m vs gemma3-270m on relative depth" in html  # the second model too


def test_a_users_published_results_are_checked_then_drawn_beside_ours(
    app_cache, tmp_path, monkeypatch
):
    import shutil

    shutil.copy(app_cache / "strata.duckdb", tmp_path)  # the user's file stays in tmp_path
    app = _open(monkeypatch, tmp_path, model="smollm2-135m", set="items", pooling="mean").run()
    app.switch_page("pages/findings.py").run()
    bad = b"label,n_layers,measure,layer_lo,layer_hi\nSmith 2025,28,peak,3,40\n"
    app.file_uploader(key="ref_file").upload("smith.csv", bad, "text/csv")
    app.text_input(key="ref_name").set_value("smith").run()
    app.button(key="ref_add").click().run()
    assert [e.value for e in app.error] == [
        "reference file 'smith.csv', row 1, column 'layer_hi': layer 40 is outside 0-27"
    ]
    good = b"label,n_layers,stimulus_set,measure,layer_lo,layer_hi\nSmith 2025,28,items,peak,3,9\n"
    app.file_uploader(key="ref_file").upload("smith.csv", good, "text/csv")
    app.run()
    app.button(key="ref_add").click().run()
    _no_errors(app)
    assert any("added smith" in s.value for s in app.success)
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "Smith 2025 (peak, published)" in [t.get("name") for t in spec["data"]]
    text = "\n".join(m.value for m in app.markdown)
    assert "items: Smith 2025 peaks at relative depth 0.11-0.33" in text


def _point(app_cache, target: str, component: str, layer: int) -> dict:
    """A Plotly selection point of a curve, as Streamlit stores the chart's selection."""
    from core.storage import store

    rows = store.query(
        app_cache / "strata.duckdb",
        "probe_scores",
        model="smollm2-135m",
        stimulus_set="items",
        pooling="mean",
        target=target,
        component=component,
        layer=layer,
        is_primary=True,
    )
    return {"curve_number": 1, "point_index": layer, "x": layer, "y": float(rows["score"].iloc[0])}


def _select(at: AppTest, key: str, points: list[dict]) -> None:
    at.session_state[f"chart_{key}"] = {
        "selection": {"points": points, "point_indices": [], "box": [], "lasso": []}
    }


def test_a_point_on_a_curve_opens_its_stimuli_wrong_ones_first(app, app_cache):
    app.switch_page("pages/curves.py").run()
    target = app.multiselect[-1].value[0]
    _select(app, "curves", [_point(app_cache, target, "attn_out", 7)])
    app.run()
    _no_errors(app)
    assert f"Stimuli at {target} · attn_out · layer 7" in [s.value for s in app.subheader]
    table = next(d.value for d in app.dataframe if "margin" in d.value.columns)
    assert len(table) == 48 and {"text", "label", "prediction", "group"} <= set(table.columns)
    wrong = ~table["correct"].astype(bool).to_numpy()
    assert not (~wrong[: wrong.sum()]).any()  # every wrong one before every right one
    assert any(c.startswith("meta_") for c in table.columns)
    # curve, the stimulus × layer heatmap and the small multiples by subgroup
    assert _charts(app) == 3
    assert "Error analysis by subgroup" in [s.value for s in app.subheader]
    assert [p for p in app.get("page_link") if "across layers" in p.proto.label]
    # the cell is kept in the URL: a bookmarked link reopens the same stimuli
    assert app.query_params["drill"] == f"{target}|attn_out|7"


def test_a_mean_curve_says_to_pick_a_target_to_drill_down(app, app_cache):
    app.switch_page("pages/curves.py").run()
    app.radio[0].set_value(app.radio[0].options[1]).run()
    _select(app, "hierarchy", [{"x": 3, "y": 0.2, "curve_number": 0, "point_index": 3}])
    app.run()
    _no_errors(app)
    assert any("pick a target to drill down" in i.value for i in app.info)


def test_the_stimulus_page_shows_one_stimulus_across_layers(app_cache, monkeypatch):
    params = {"model": "smollm2-135m", "set": "items", "pooling": "mean", "item": "nope"}
    at = _open(monkeypatch, app_cache, **params).run()
    at.switch_page("pages/stimulus.py").run()
    _no_errors(at)
    item = at.selectbox(key="stimulus_item").value
    assert item and _charts(at) == 1
    assert at.query_params["item"] == item


def test_the_transfer_page_says_how_to_compute_one(app):
    app.switch_page("pages/transfer.py").run()
    _no_errors(app)
    assert any("python -m core transfer" in i.value for i in app.info)
