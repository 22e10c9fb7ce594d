"""Every page of the app, headless, on real results (SmolLM2 and Gemma on small subsets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(app_cache, monkeypatch):
    monkeypatch.setenv("STRATA_CACHE", str(app_cache))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(
        {"model": "smollm2-135m", "model2": "gemma3-270m", "set": "items", "pooling": "mean"}
    )
    return at.run()


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_home_shows_a_figure_and_what_is_stored(app):
    _no_errors(app)
    assert _charts(app) == 1
    labels = {m.label: m.value for m in app.metric}
    assert labels["Results (model × set × pooling)"] == "5"
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
    assert text.count("noise alone gives") == 3 * (3 + 2) * 2  # components × sets × estimators
    assert "pairs holds by" in text or "pairs does not hold by" in text
    assert text.count("attn_out: items < pairs") == 2  # the order, tested in each model


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
    assert table["expected_depth"].between(0, 1).all()
    assert any("the order items < pairs < analogies" in m.value for m in app.markdown)


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


def test_compare_page_puts_both_models_on_relative_depth(app):
    app.switch_page("pages/compare.py").run()
    _no_errors(app)
    assert _charts(app) == 2
    shifts = app.dataframe[0].value
    assert len(shifts) == 3
    depth_cols = [
        c for c in shifts.columns if c.startswith("peak_depth") and "lo" not in c and "hi" not in c
    ]
    assert len(depth_cols) == 2 and shifts[depth_cols].stack().between(0, 1).all()


def test_coordination_page_compares_rho_with_noise(app):
    app.switch_page("pages/coordination.py").run()
    _no_errors(app)
    assert _charts(app) == 5  # ρ, two layer matrices, target matrix, CKA
    sentences = [m.value for m in app.markdown if "noise alone gives" in m.value]
    assert len(sentences) == 6  # 3 components × (naive, split-half)
    verdicts = ("indistinguishable from noise", "beyond noise", "smoother than noise")
    assert all(any(v in s for v in verdicts) for s in sentences)


def test_stimuli_page_browses_and_rejects_a_bad_upload(app, tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_CACHE", str(tmp_path))  # keep the shared results cache clean
    app.switch_page("pages/stimuli.py").run()
    _no_errors(app)
    assert [m.value for m in app.metric][:1] == ["440"]
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
    monkeypatch.setenv("STRATA_CACHE", str(laptop))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(
        {"model": "smollm2-135m", "model2": "gemma3-270m", "set": "items", "pooling": "mean"}
    )
    at.run()
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
    # one job: the first model's sets, then the second's (the first shows sooner)
    [configs] = started
    assert [(c.model, c.stimuli) for c in configs] == [
        (m, s) for m in ("smollm2-135m", "gemma3-270m") for s in ("items", "pairs", "analogies")
    ]
